"""Run configuration: the ml-collections base config, variants and validation."""

from rlvr_jax.config.defaults import MESH_VARIANTS, MODEL_VARIANTS, apply_variants, base_config
from rlvr_jax.config.schema import ConfigError, RunSpec, validate

__all__ = ["MESH_VARIANTS", "MODEL_VARIANTS", "apply_variants", "base_config", "ConfigError", "RunSpec",
           "validate"]
