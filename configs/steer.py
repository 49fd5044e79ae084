"""STEER: token reweighting by the estimated first-order entropy change (Hao et al., arXiv 2510.10150).

Official run/run_exp.sh: exponential weight mapping, w_min 0.8, w_max 1.0, clip 0.2 / 0.28, c = 10,
GRPO advantages with rewards +-1, 512 prompts x 8, 16 optimizer steps per rollout, lr 1e-6.
Variants: objective.steer.mapping=linear (w 0.8 / 1.2), objective.steer.omega_form=theorem.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/steer.py
A real checkpoint at the published scale (every host of a pod runs the same command):
    python launch/tpu_pod.py --config configs/steer.py:model=qwen2.5-math-7b \
        --config.model.path=/path/to/Qwen2.5-Math-7B --config.data.train_files=/path/to/train.parquet
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "steer"
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
            "reward.incorrect": (-1.0, "interim: value before issue #12"),
            "train.mini_batches": (16, "interim: value before issue #12"),
            "train.micro_batches": (4, "interim: value before issue #12"),
            "optim.lr": (1e-06, "interim: value before issue #12")
        }),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
