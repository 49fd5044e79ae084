"""REINFORCE++ with a group-mean baseline (Hu, arXiv 2501.03262), whitened over the batch's tokens.

verl examples/reinforce_plus_plus_trainer (adv_estimator=reinforce_plus_plus_baseline).

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/reinforce_pp_baseline.py
No published recipe is registered here yet (RECIPES is empty): with a real checkpoint, give the model and
data and set the scale on the command line, e.g.
    python launch/tpu_pod.py --config configs/reinforce_pp_baseline.py --config.model.path=/path/to/Qwen2.5-Math-7B \
        --config.model.dtype=bfloat16 --config.data.train_files=/path/to/train.parquet \
        --config.rollout.prompts_per_step=512 --config.rollout.max_new_tokens=3072 --config.optim.lr=1e-6
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "reinforce_pp_baseline"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}
RECIPES: dict[str, Recipe] = {}  # the embedded default only


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
