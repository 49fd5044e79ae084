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

from rlvr_jax.config import Recipe, method_config

METHOD = "pos_adv_reweight"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}
# Published recipes by model variant (`:model=...`): the official script's fields with their sources.
RECIPES = {
    "qwen2.5-math-7b": Recipe(
        paper="interim", code="interim", dataset="interim", fields={
            "data.max_prompt_length": (1024, "interim: value before issue #12"),
            "data.epochs": (10, "interim: value before issue #12"),
            "rollout.prompts_per_step": (512, "interim: value before issue #12"),
            "rollout.num_samples": (8, "interim: value before issue #12"),
            "rollout.max_new_tokens": (3072, "interim: value before issue #12"),
            "reward.name": ('math_verify', "interim: value before issue #12"),
            "train.mini_batches": (1, "interim: value before issue #12"),
            "train.micro_batches": (16, "interim: value before issue #12"),
            "optim.lr": (1e-06, "interim: value before issue #12")
        }),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
