"""Clip-higher alone (DAPO's decoupled clip 0.2 / 0.28, dual clip c = 10; no dynamic sampling, no
overlong shaping): the baseline the STEER and 80/20 papers compare against. configs/dapo.py adds the
other two DAPO components.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/clip_higher.py
A real checkpoint at the published scale (every host of a pod runs the same command):
    python launch/tpu_pod.py --config configs/clip_higher.py:model=qwen2.5-math-7b \
        --config.model.path=/path/to/Qwen2.5-Math-7B --config.data.train_files=/path/to/train.parquet
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import method_config

PAPER_SCALE = {
    "data": {"max_prompt_length": 1024, "epochs": 10},
    "rollout": {"prompts_per_step": 512, "num_samples": 8, "max_new_tokens": 3072},
    "reward": {"name": "math_verify", "incorrect": -1.0},
    "train": {"mini_batches": 16, "micro_batches": 4},
    "optim": {"lr": 1e-6},
}


def get_config(arg: str | None = None):
  return method_config("clip_higher", arg, paper_scale=PAPER_SCALE)
