"""rlvr_jax: reinforcement learning with verifiable rewards for Qwen-family models in JAX.

The functional API (notebooks, ablations):

  Run configs    method_config, validate, RunSpec, ConfigError; rlvr_jax.train.train(spec)
  Objectives     build_objective, Objective, TokenBatch, ObjectiveConfig, token_statistics,
                 compute_advantages, ADVANTAGE_ESTIMATORS, METHOD_PRESETS, TRANSFORMS, POLICY_LOSSES
  Sampling       generate, generate_text, SamplerOutput
  Models         QwenConfig, Qwen, load_pretrained, save_pretrained, init
  Rewards        REWARDS, RewardConfig, build_reward

Subpackages: models, sharding, sampling, objectives, data, embedded, rewards, eval, diagnostics, report,
config, train (docs/architecture.md). Their `__init__` modules are their public APIs. Implementation modules
are private, as in gemma (`gemma/gm/nn/_transformer.py` behind `gemma.gm.nn`): their file names start with
an underscore, and launchers, benchmarks and configs import only from the packages. The public modules
besides the packages (`PUBLIC_MODULES`): `rlvr_jax.errors`, `rlvr_jax.sharding`, `rlvr_jax.host_heap` (the
process's heap settings, which launchers apply before jax starts), the command-line modules
`rlvr_jax.config.recipe_table` and `rlvr_jax.scale.table`, `rlvr_jax.models.hf_reference` (the torch
reference the parity checks compare against) and `rlvr_jax.objectives.transforms.<method>`, one per
entropy-control method (the file that adds a method, and its functions for ablations, e.g.
`transforms.steer.steer_weights`). tests/api/test_public_api.py enforces this.

The names above are resolved on first use (PEP 562 `__getattr__`), not when `rlvr_jax` is imported: the
reward verifier workers and the code sandbox import rlvr_jax submodules in fresh processes, and must not
pay for jax, flax and orbax (about 5 s and 350 MB each) to score strings.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    # name: module that defines it
    "method_config": "rlvr_jax.config", "validate": "rlvr_jax.config", "RunSpec": "rlvr_jax.config",
    "ConfigError": "rlvr_jax.errors",
    "build_objective": "rlvr_jax.objectives", "Objective": "rlvr_jax.objectives",
    "TokenBatch": "rlvr_jax.objectives", "ObjectiveConfig": "rlvr_jax.objectives",
    "token_statistics": "rlvr_jax.objectives", "compute_advantages": "rlvr_jax.objectives.advantages",
    "ADVANTAGE_ESTIMATORS": "rlvr_jax.objectives.advantages", "METHOD_PRESETS": "rlvr_jax.objectives",
    "TRANSFORMS": "rlvr_jax.objectives", "POLICY_LOSSES": "rlvr_jax.objectives",
    "generate": "rlvr_jax.sampling", "generate_text": "rlvr_jax.sampling", "SamplerOutput": "rlvr_jax.sampling",
    "QwenConfig": "rlvr_jax.models", "Qwen": "rlvr_jax.models", "load_pretrained": "rlvr_jax.models",
    "save_pretrained": "rlvr_jax.models", "init": "rlvr_jax.models",
    "REWARDS": "rlvr_jax.rewards", "RewardConfig": "rlvr_jax.rewards", "build_reward": "rlvr_jax.rewards",
}

# Modules without a leading underscore that are not package `__init__`s (transforms.<method> by pattern).
PUBLIC_MODULES = ("rlvr_jax.errors", "rlvr_jax.sharding", "rlvr_jax.host_heap", "rlvr_jax.config.recipe_table",
                  "rlvr_jax.scale.table",
                  "rlvr_jax.models.hf_reference", "rlvr_jax.objectives.transforms.*")

SUBPACKAGES = ("config", "data", "diagnostics", "embedded", "eval", "models", "objectives", "report", "rewards",
               "sampling", "scale", "sharding", "train")

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
  """A public name or a subpackage (`rlvr_jax.train.train(spec)` without importing rlvr_jax.train first)."""
  if name in SUBPACKAGES:
    value = importlib.import_module(f"rlvr_jax.{name}")
  elif name in _PUBLIC:
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
  else:
    raise AttributeError(f"module 'rlvr_jax' has no attribute {name!r}")
  globals()[name] = value  # resolved once
  return value


def __dir__() -> list[str]:
  return sorted(list(globals()) + __all__)
