"""Resolved method presets: the full objective section and the advantage estimator of each method.

`methods.METHODS` holds one entry per method with only its deviations from the dataclass defaults;
this module resolves an entry against the dataclasses it configures, so a config file gets every field
(and every hyperparameter of every listed transform and of the policy loss) and the command line can
set any of them (`--config.objective.steer.w_min=0.7`):

    method_preset("steer")     -> mutable dict for build_objective / a config file
    method_advantage("steer")  -> ("grpo", {})  estimator name and its non-default hyperparameters
    METHOD_PRESETS["steer"]    -> the same as method_preset, read-only (nested mapping proxies)

Normalization scope: presets use the whole mini-batch ("mini_batch", the method as described). The
reference code computes its batch statistics per micro-batch per GPU; for parity runs set the
transform's `norm_scope` to "micro_batch" and label rows with `TokenBatch.norm_group`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Mapping

from rlvr_jax.objectives.advantages import ADVANTAGE_ESTIMATORS
from rlvr_jax.objectives._config import KLLossConfig, ObjectiveConfig
from rlvr_jax.objectives._methods import METHODS, MethodPreset, freeze, thaw
from rlvr_jax.objectives._token_losses import POLICY_LOSSES
from rlvr_jax.objectives.transforms import TRANSFORMS

# ObjectiveConfig fields that are not plain top-level values of the mapping form.
_STRUCTURED_FIELDS = ("transforms", "kl", "policy_loss_params")


def dataclass_defaults(cls: type) -> dict[str, Any]:
  """Field name -> default of a dataclass (the single place a default lives)."""
  defaults = {}
  for field in dataclasses.fields(cls):
    if field.default is not dataclasses.MISSING:
      defaults[field.name] = field.default
    elif field.default_factory is not dataclasses.MISSING:
      defaults[field.name] = field.default_factory()
  return defaults


def _preset(name: str) -> MethodPreset:
  if name not in METHODS:
    raise ValueError(f"unknown method preset {name!r}; known: {', '.join(METHODS.names())}")
  return METHODS.get(name)


def method_preset(name: str) -> dict[str, Any]:
  """The full objective section of method `name` (a fresh mutable dict)."""
  raw = thaw(_preset(name).objective)
  transforms = tuple(raw.pop("transforms", ()))
  kl = raw.pop("kl", None)
  sections = {key: raw.pop(key) for key in list(raw) if key in TRANSFORMS or key in POLICY_LOSSES}
  full = {k: v for k, v in dataclass_defaults(ObjectiveConfig).items() if k not in _STRUCTURED_FIELDS}
  unknown = sorted(set(raw) - set(full))
  if unknown:
    raise ValueError(f"method preset {name!r} sets unknown objective keys {unknown}")
  full.update(raw)
  full["transforms"] = transforms
  full["kl"] = None if kl is None else {**dataclass_defaults(KLLossConfig), **kl}
  for transform in transforms:
    full[transform] = {**dataclass_defaults(TRANSFORMS.get(transform, field="transforms")),
                       **sections.pop(transform, {})}
  loss = full["policy_loss"]
  loss_defaults = dataclass_defaults(POLICY_LOSSES.get(loss, field="policy_loss"))
  if loss_defaults or loss in sections:
    full[loss] = {**loss_defaults, **sections.pop(loss, {})}
  if sections:
    raise ValueError(f"method preset {name!r} has sections {sorted(sections)} for transforms / policy losses "
                     f"it does not use")
  return full


def method_advantage(name: str) -> tuple[str, dict[str, Any]]:
  """(estimator name, its hyperparameters that differ from the defaults) of method `name`."""
  preset = _preset(name)
  spec = ADVANTAGE_ESTIMATORS.get(preset.estimator, field=f"method {name!r} estimator")
  unknown = sorted(set(preset.hparams) - set(spec.hparams))
  if unknown:
    raise ValueError(f"method preset {name!r}: estimator {preset.estimator!r} has no hyperparameters {unknown}")
  return preset.estimator, thaw(preset.hparams)


class _ResolvedPresets(Mapping[str, Mapping[str, Any]]):
  """Read-only name -> resolved objective section, always in step with the registry."""

  def __getitem__(self, name: str) -> Mapping[str, Any]:
    if name not in METHODS:
      raise KeyError(name)
    return freeze(method_preset(name))

  def __iter__(self) -> Iterator[str]:
    return iter(METHODS.names())

  def __len__(self) -> int:
    return len(METHODS.names())


METHOD_PRESETS: Mapping[str, Mapping[str, Any]] = _ResolvedPresets()
