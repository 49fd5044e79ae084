"""The base run config: GRPO at the embedded default's scale. Every method file in this folder builds on
`rlvr_jax.config.method_config`, which starts from `rlvr_jax.config.base_config` (all fields, with
comments) and applies the embedded profile or the method's published scale.

    python launch/tpu_pod.py --config configs/base.py
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "grpo"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}
RECIPES: dict[str, Recipe] = {}  # the embedded default only


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
