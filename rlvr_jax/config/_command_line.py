"""Checks of the launcher's command line against the config it names, before absl parses it."""

from __future__ import annotations

import importlib.util
import os

import ml_collections

from rlvr_jax.config._paths import require
from rlvr_jax.errors import ConfigError


def check_command_line(argv: list[str], flag: str = "config") -> None:
  """Checks `--config=FILE[:VARIANT]` and every `--config.a.b=...` override path against the config the
  file builds, before absl parses them: ml_collections reports an unknown override as a bare
  AttributeError traceback that names neither the full path nor the fields that do exist."""
  value = next((argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == f"--{flag}"), None)
  value = next((arg.split("=", 1)[1] for arg in argv if arg.startswith(f"--{flag}=")), value)
  if value is None:
    return  # absl reports the missing required flag itself
  path, _, variant = value.partition(":")
  require(os.path.isfile(path), f"--{flag}={value!r}: config file {path!r} does not exist")
  spec = importlib.util.spec_from_file_location(os.path.basename(path).removesuffix(".py"), path)
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
    config = module.get_config(variant) if variant else module.get_config()
  except (ValueError, KeyError, TypeError, AttributeError) as e:
    raise ConfigError(f"--{flag}={value!r}: {e}") from None
  for arg in argv:
    if not arg.startswith(f"--{flag}."):
      continue
    field = arg[len(f"--{flag}."):].split("=", 1)[0]
    node, where = config, ""
    for part in field.split("."):
      if not isinstance(node, ml_collections.ConfigDict) or part not in node:
        known = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
        raise ConfigError(f"--{flag}.{field}: {where.rstrip('.') or 'the config'} has no field {part!r}"
                          + (f"; fields: {', '.join(known)}" if known else f" ({where.rstrip('.')} is a value)"))
      node, where = node[part], f"{where}{part}."
