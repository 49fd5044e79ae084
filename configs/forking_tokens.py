"""80/20 forking tokens (Wang et al., arXiv 2506.01939): the policy gradient only on the top-20%
highest-entropy tokens, with DAPO clip-higher and dynamic sampling.

Official recipe run_only_top20_high_entropy_tokens_dapo_qwen3_14b.sh (n 16, lr 1e-6).

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/forking_tokens.py
A real checkpoint at the published scale (every host of a pod runs the same command):
    python launch/tpu_pod.py --config configs/forking_tokens.py:model=qwen3-8b \
        --config.model.path=/path/to/Qwen3-8B --config.data.train_files=/path/to/train.parquet
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import method_config

PAPER_SCALE = {
    "data": {"max_prompt_length": 1024, "epochs": 10},
    "rollout": {"prompts_per_step": 512, "num_samples": 16, "max_new_tokens": 8192},
    "reward": {"name": "math_verify", "incorrect": -1.0},
    "train": {"mini_batches": 16, "micro_batches": 16, "overlong_buffer": 1024},
    "optim": {"lr": 1e-6},
}
OVERRIDES = {"train": {"dynamic_sampling": True, "max_gen_batches": 3}}


def get_config(arg: str | None = None):
  return method_config("fork_tokens", arg, paper_scale=PAPER_SCALE, overrides=OVERRIDES)
