"""The method registry: one entry per method, as its official script runs it.

A method is an objective section (policy loss, aggregation, clip, transforms and their hyperparameters)
plus the advantage estimator and its hyperparameters the same script pairs with it. Each entry is
registered next to what it is built from: a transform module registers its method(s) right after the
transform, the policy-loss and estimator modules register theirs, so adding a method touches its own
file (and its `configs/<name>.py`) only.

An entry states only what differs from the dataclass defaults (ObjectiveConfig, the transform, the
policy loss, the estimator's signature): the defaults live in the dataclasses alone, and
`presets.method_preset(name)` resolves an entry into the full section a config file starts from.

This module is a leaf (it imports only the generic registry) so that every module that registers a
method can import it without a cycle.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Mapping

from rlvr_jax._registry import Registry

# DAPO clip-higher runs (and the STEER, PRIME and 80/20 scripts) raise the dual-clip cap to 10.
DAPO_DUAL_CLIP = 10.0
# Dr.GRPO / SIREN aggregation: constant normalizer, SIREN's vendored verl averages rows.
DR_GRPO_AGGREGATION: Mapping[str, Any] = types.MappingProxyType(
    {"loss_agg_mode": "seq-mean-token-sum-norm", "token_sum_norm_rows": "mean", "clamp_log_ratio": False})


def freeze(value: Any) -> Any:
  """Nested read-only mappings (and tuples for lists), so a registered entry cannot be edited in place."""
  if isinstance(value, Mapping):
    return types.MappingProxyType({key: freeze(item) for key, item in value.items()})
  if isinstance(value, list):
    return tuple(value)
  return value


def thaw(value: Any) -> Any:
  """A mutable deep copy of a frozen mapping."""
  if isinstance(value, Mapping):
    return {key: thaw(item) for key, item in value.items()}
  return value


@dataclasses.dataclass(frozen=True)
class MethodPreset:
  """One method.

  Attributes:
    objective: the objective section's deviations from the dataclass defaults (read-only mapping).
    estimator: advantage estimator name (an ADVANTAGE_ESTIMATORS entry).
    hparams: the estimator's hyperparameters that differ from its signature defaults (read-only).
    source: where the values come from (script / file of the reference code).
  """

  objective: Mapping[str, Any]
  estimator: str = "grpo"
  hparams: Mapping[str, Any] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
  source: str = ""


METHODS: Registry[MethodPreset] = Registry("method preset")


def register_method(name: str, *, objective: Mapping[str, Any] | None = None, estimator: str = "grpo",
                    hparams: Mapping[str, Any] | None = None, source: str = "") -> MethodPreset:
  """Registers a method preset; estimator and section names are checked when a preset is resolved."""
  preset = MethodPreset(objective=freeze(dict(objective or {})), estimator=estimator,
                        hparams=freeze(dict(hparams or {})), source=source)
  return METHODS.register(name)(preset)
