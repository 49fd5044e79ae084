"""Run configuration: the ml-collections base config, the layers a config file is built from, and the
validation that turns it into a typed `RunSpec`.

Public API:
  method_config(config_file, arg, *, method, own, embedded, recipes)   what a configs/<name>.py returns
  method_layers(...), Layer, build                                      its layers, in override order
  Recipe                                                                a published recipe, field by field
  base_config(method)                                                   every field with its default
  validate(config, num_devices=, num_processes=) -> RunSpec             checks + typed sections
  ConfigError, ConfigMismatchError                                      bad input / resume with another config
  EMBEDDED_PROFILE, MODEL_VARIANTS, MESH_VARIANTS                       the scale and variant tables
"""

from rlvr_jax.config._command_line import check_command_line
from rlvr_jax.config._defaults import base_config
from rlvr_jax.config._layers import EMBEDDED_PROFILE, Layer, build, method_config, method_layers, run_name
from rlvr_jax.config._recipes import Recipe
from rlvr_jax.config._run_identity import ConfigMismatchError
from rlvr_jax.config._spec import RunSpec
from rlvr_jax.config._validate import validate
from rlvr_jax.config._variants import MESH_VARIANTS, MODEL_VARIANTS, parse_variants
from rlvr_jax.errors import ConfigError

__all__ = [
    "EMBEDDED_PROFILE", "MESH_VARIANTS", "MODEL_VARIANTS", "ConfigError", "ConfigMismatchError", "Layer", "Recipe",
    "RunSpec", "base_config", "check_command_line", "build", "method_config", "method_layers", "parse_variants", "run_name", "validate",
]
