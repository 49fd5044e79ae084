"""SIREN: selective, self-anchored entropy regularization (Jiang et al., arXiv 2509.25133).

Official exp_scripts/siren.sh: top-p (0.8) nucleus entropy, per-response peak mask (0.8 quantile),
beta (Hbar - H_anchor)^2 with beta 0.005 and the anchor taken from the first batch; Dr.GRPO advantages,
seq-mean-token-sum-norm over 3072 tokens, effective clip 0.2 / 0.2, c = 3, no log-ratio clamp.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/siren.py
A real checkpoint at the published scale (every host of a pod runs the same command):
    python launch/tpu_pod.py --config configs/siren.py:model=qwen2.5-math-7b \
        --config.model.path=/path/to/Qwen2.5-Math-7B --config.data.train_files=/path/to/train.parquet
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import method_config

PAPER_SCALE = {
    "data": {"max_prompt_length": 1024, "epochs": 2},
    "rollout": {"prompts_per_step": 128, "num_samples": 8, "max_new_tokens": 3072},
    "reward": {"name": "math_verify"},
    "objective": {"norm_constant": 3072.0},
    "train": {"mini_batches": 16, "micro_batches": 2},
    "optim": {"lr": 1e-6, "warmup_steps": 5, "weight_decay": 0.1},
    "eval": {"temperature": 0.6, "num_samples": 16},
}


def get_config(arg: str | None = None):
  return method_config("siren", arg, paper_scale=PAPER_SCALE)
