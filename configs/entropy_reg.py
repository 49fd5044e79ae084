"""Entropy regularization baseline: loss - beta * agg(H) with the current policy's entropy (beta 0.005).

verl's entropy_coeff; SIREN's naive_entropy_reg baseline value. For a target-entropy coefficient use
--config.objective... with the adaptive_entropy preset (configs are python: copy this file).

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/entropy_reg.py
A real checkpoint at the published scale (every host of a pod runs the same command):
    python launch/tpu_pod.py --config configs/entropy_reg.py:model=qwen2.5-math-7b \
        --config.model.path=/path/to/Qwen2.5-Math-7B --config.data.train_files=/path/to/train.parquet
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import method_config

PAPER_SCALE = {
    "data": {"max_prompt_length": 1024, "epochs": 10},
    "rollout": {"prompts_per_step": 512, "num_samples": 8, "max_new_tokens": 3072},
    "reward": {"name": "math_verify"},
    "train": {"mini_batches": 16, "micro_batches": 4},
    "optim": {"lr": 1e-6},
}


def get_config(arg: str | None = None):
  return method_config("entropy_bonus", arg, paper_scale=PAPER_SCALE)
