"""Clip-Cov (Cui et al., arXiv 2505.22617): detach a random 2e-4 of the tokens whose covariance of
log-prob and advantage lies in (1, 5).

PRIME-RL recipe/dapo/7b_clip_cov.sh: clip range [0, 2] (eps 1 / 1), lr 5e-7, no weight decay,
token-mean, dynamic sampling.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/clip_cov.py
A real checkpoint at the published scale (every host of a pod runs the same command):
    python launch/tpu_pod.py --config configs/clip_cov.py:model=qwen2.5-math-7b \
        --config.model.path=/path/to/Qwen2.5-7B --config.data.train_files=/path/to/train.parquet
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import method_config

PAPER_SCALE = {
    "data": {"max_prompt_length": 1024, "epochs": 10},
    "rollout": {"prompts_per_step": 256, "num_samples": 8, "max_new_tokens": 3072},
    "reward": {"name": "math_verify", "incorrect": -1.0},
    "train": {"mini_batches": 16, "micro_batches": 4},
    "optim": {"lr": 5e-7, "weight_decay": 0.0},
}
OVERRIDES = {"train": {"dynamic_sampling": True, "max_gen_batches": 3}}


def get_config(arg: str | None = None):
  return method_config("clip_cov", arg, paper_scale=PAPER_SCALE, overrides=OVERRIDES)
