"""Run configuration: the ml-collections base config, variants and validation."""

from rlvr_jax.config.defaults import (EMBEDDED_PROFILE, MESH_VARIANTS, MODEL_VARIANTS, apply_variants, base_config,
                                       method_config)
from rlvr_jax.config.schema import ConfigError, RunSpec, validate

__all__ = ["EMBEDDED_PROFILE", "method_config", "MESH_VARIANTS", "MODEL_VARIANTS", "apply_variants", "base_config", "ConfigError", "RunSpec",
           "validate"]
