"""Entropy bonus on the forking tokens only (rlvr_jax/objectives/transforms/fork_entropy_bonus.py): the
plain entropy bonus, restricted to each group's top-20% highest-entropy tokens (the 80/20 paper's forks);
GRPO advantages and the PPO loss on every token. An ablation, not a published method: no recipe.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/fork_entropy_bonus.py
Any field can be overridden, e.g. --config.objective.fork_entropy_bonus.coef=0.01
--config.objective.fork_entropy_bonus.top_ratio=0.1.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "fork_entropy_bonus"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}
RECIPES: dict[str, Recipe] = {}  # the embedded default only


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
