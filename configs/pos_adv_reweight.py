"""Positive-Advantage Reweighting with the entropy-guided lambda schedule (Jin et al., arXiv 2511.05993).

Tokens with A > 0 are weighted by lambda; lambda moves by +-0.05 toward keeping the entropy above 0.2
(lambda_0 = 0). Schedules: objective.pos_adv_reweight.schedule = constant | stage | epoch | entropy_guided.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/pos_adv_reweight.py
A real checkpoint at the published scale (every host of a pod runs the same command):
    python launch/tpu_pod.py --config configs/pos_adv_reweight.py:model=qwen2.5-math-7b \
        --config.model.path=/path/to/Qwen2.5-Math-7B --config.data.train_files=/path/to/train.parquet
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import method_config

PAPER_SCALE = {
    "data": {"max_prompt_length": 1024, "epochs": 10},
    "rollout": {"prompts_per_step": 512, "num_samples": 8, "max_new_tokens": 3072},
    "reward": {"name": "math_verify"},
    "train": {"mini_batches": 1, "micro_batches": 16},
    "optim": {"lr": 1e-6},
}


def get_config(arg: str | None = None):
  return method_config("pos_adv_reweight", arg, paper_scale=PAPER_SCALE)
