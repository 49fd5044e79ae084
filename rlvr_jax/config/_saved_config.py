"""A config file for `launch/tpu_pod.py --config RUN_DIR/config.json`: the launcher rewrites that to
`--config <this file>:RUN_DIR/config.json`, and `get_config` rebuilds the saved run's config (its name,
method and every value), so `--config.x=y` overrides and validation work exactly as for a config file.
"""

from __future__ import annotations

import json

import ml_collections

from rlvr_jax.config._defaults import base_config
from rlvr_jax.config._layers import Layer, build
from rlvr_jax.errors import ConfigError


def get_config(path: str) -> ml_collections.ConfigDict:
  try:
    with open(path, encoding="utf-8") as f:
      saved = json.load(f)
  except (OSError, ValueError) as e:
    raise ConfigError(f"--config={path!r}: cannot read a saved run config ({type(e).__name__}: {e})") from None
  if not isinstance(saved, dict) or not isinstance(saved.get("method"), str):
    raise ConfigError(f"--config={path!r} is not a saved run config (RUN_DIR/config.json): no 'method' field")
  # Fields are set exactly as saved: the base config's sections (e.g. a method preset's objective
  # sub-sections) are replaced, not merged, so nothing of the base's method preset leaks in.
  config = base_config(saved["method"])
  config.objective = ml_collections.ConfigDict(saved.get("objective", config.objective.to_dict()))
  config.advantage.hparams = ml_collections.ConfigDict(saved.get("advantage", {}).get("hparams", {}))
  rest = {key: value for key, value in saved.items() if key not in ("objective",)}
  rest["advantage"] = {k: v for k, v in rest.get("advantage", {}).items() if k != "hparams"}
  return build(saved["method"], [Layer(f"saved config {path}", rest)], start=config)
