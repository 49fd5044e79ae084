"""Objective configuration: one frozen dataclass, built from a plain mapping or an ml_collections config.

The mapping form is what `configs/*.py` write:

  {"policy_loss": "ppo", "loss_agg_mode": "token-mean", "eps_low": 0.2, "eps_high": 0.2,
   "dual_clip_c": 3.0, "clamp_log_ratio": True, "kl": {"kind": "low_var_kl", "coef": 0.001} | None,
   "transforms": ("clip_higher", "steer"), "clip_higher": {...}, "steer": {...}}

Every name is checked against its registry (policy losses, aggregation modes, KL estimators,
transforms), every hyperparameter against the dataclass that consumes it, and the transform list
against the read/write order rule, all before anything is traced. A hyperparameter section for a
transform that is not in `transforms` is an error too: it would otherwise be silently ignored.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from rlvr_jax.objectives.aggregation import (AGGREGATION_MODES, EMPTY_ROW_POLICIES,
                                             TOKEN_SUM_NORM_ROW_REDUCTIONS, validate_aggregation)
from rlvr_jax.objectives.batch import AggregationSpec, PPOClipParams
from rlvr_jax.objectives.kl import KL_ESTIMATORS
from rlvr_jax.objectives.policy_loss import validate_ppo_clip
from rlvr_jax.objectives.token_losses import POLICY_LOSSES
from rlvr_jax.objectives.transforms import TRANSFORMS, Transform, check_transform_order
from rlvr_jax.objectives.validation import (check_bool, check_choice, check_number,
                                            check_optional_number)


@dataclasses.dataclass(frozen=True)
class KLLossConfig:
  """KL-to-reference loss term coef * agg(kl_penalty(logp, ref_logp, kind)).

  Attributes:
    kind: a KL_ESTIMATORS name (verl kl_loss_type, default low_var_kl).
    coef: kl_loss_coef (verl default 0.001).
  """

  kind: str = "low_var_kl"
  coef: float = 0.001

  def __post_init__(self) -> None:
    KL_ESTIMATORS.get(self.kind, field="kl.kind")
    check_number("kl", "coef", self.coef, low=0.0)


@dataclasses.dataclass(frozen=True)
class ObjectiveConfig:
  """Everything that defines the training objective (defaults: verl's vanilla PPO loss).

  Attributes:
    policy_loss: "ppo" (clipped surrogate) or "gpg" (-A log pi).
    loss_agg_mode: one of aggregation.AGGREGATION_MODES.
    eps_low, eps_high, dual_clip_c, clamp_log_ratio: PPO clip parameters (before transforms).
    norm_constant: seq-mean-token-sum-norm divisor (None = padded T).
    empty_rows: how seq-mean modes treat all-masked rows ("zero" or "exclude").
    token_sum_norm_rows: seq-mean-token-sum-norm row reduction ("sum" = verl, "mean" = SIREN's copy).
    kl: KL loss term, or None.
    transforms: transform instances, applied in order.
    entropy_change_diagnostic: log the first-order entropy-change estimate of the final objective.
  """

  policy_loss: str = "ppo"
  loss_agg_mode: str = "token-mean"
  eps_low: float = 0.2
  eps_high: float = 0.2
  dual_clip_c: float | None = 3.0
  clamp_log_ratio: bool = True
  norm_constant: float | None = None
  empty_rows: str = "zero"
  token_sum_norm_rows: str = "sum"
  kl: KLLossConfig | None = None
  transforms: tuple[Transform, ...] = ()
  entropy_change_diagnostic: bool = False

  def __post_init__(self) -> None:
    POLICY_LOSSES.get(self.policy_loss, field="policy_loss")
    check_choice("", "loss_agg_mode", self.loss_agg_mode, AGGREGATION_MODES)
    check_number("", "eps_low", self.eps_low, low=0.0, high=1.0)
    check_number("", "eps_high", self.eps_high, low=0.0)
    check_optional_number("", "dual_clip_c", self.dual_clip_c, low=1.0, low_inclusive=False)
    validate_ppo_clip(eps_low=self.eps_low, eps_high=self.eps_high, dual_clip_c=self.dual_clip_c)
    check_bool("", "clamp_log_ratio", self.clamp_log_ratio)
    check_optional_number("", "norm_constant", self.norm_constant, low=0.0, low_inclusive=False)
    check_choice("", "empty_rows", self.empty_rows, EMPTY_ROW_POLICIES)
    check_choice("", "token_sum_norm_rows", self.token_sum_norm_rows, TOKEN_SUM_NORM_ROW_REDUCTIONS)
    validate_aggregation(self.loss_agg_mode, empty_rows=self.empty_rows,
                         token_sum_norm_rows=self.token_sum_norm_rows, norm_constant=self.norm_constant)
    if self.kl is not None and not isinstance(self.kl, KLLossConfig):
      raise ValueError(f"kl must be a KLLossConfig or None, got {self.kl!r}")
    check_bool("", "entropy_change_diagnostic", self.entropy_change_diagnostic)
    if not isinstance(self.transforms, tuple) or not all(isinstance(t, Transform) for t in self.transforms):
      raise ValueError(f"transforms must be a tuple of Transform instances, got {self.transforms!r}")
    check_transform_order(self.transforms)
    if self.policy_loss != "ppo":
      needing_ppo = [t.name for t in self.transforms if t.needs_ppo_loss]
      if needing_ppo:
        raise ValueError(f"transforms {needing_ppo} act on the PPO clipped loss, but "
                         f"policy_loss={self.policy_loss!r}")

  @property
  def ppo(self) -> PPOClipParams:
    return PPOClipParams(eps_low=self.eps_low, eps_high=self.eps_high, dual_clip_c=self.dual_clip_c,
                         clamp_log_ratio=self.clamp_log_ratio)

  @property
  def aggregation(self) -> AggregationSpec:
    return AggregationSpec(mode=self.loss_agg_mode, norm_constant=self.norm_constant,
                           empty_rows=self.empty_rows, token_sum_norm_rows=self.token_sum_norm_rows)

  @property
  def transform_names(self) -> tuple[str, ...]:
    return tuple(t.name for t in self.transforms)

  @classmethod
  def from_mapping(cls, config: Mapping[str, Any] | Any) -> ObjectiveConfig:
    """Parses the mapping form (dict or ml_collections.ConfigDict); see the module docstring."""
    raw = _to_dict(config, "objective config")
    top_level = {f.name for f in dataclasses.fields(cls)} - {"transforms", "kl"}
    names = raw.pop("transforms", ())
    if isinstance(names, str) or not isinstance(names, (tuple, list)):
      raise ValueError(f"transforms must be a list of transform names, e.g. ('clip_higher', 'steer'); "
                       f"got {names!r}")
    names = tuple(names)
    for name in names:
      if not isinstance(name, str):
        raise ValueError(f"transforms entries must be names (str), got {name!r}")
      TRANSFORMS.get(name, field="transforms")

    kl_section = raw.pop("kl", None)
    kl = None if kl_section is None else _build(KLLossConfig, _to_dict(kl_section, "kl"), "kl")

    sections = {key: raw.pop(key) for key in list(raw) if key in TRANSFORMS}
    unknown = sorted(set(raw) - top_level)
    if unknown:
      raise ValueError(f"unknown objective config keys {unknown}; known: "
                       f"{', '.join(sorted(top_level | {'transforms', 'kl'}))} and transform sections "
                       f"({', '.join(TRANSFORMS.names())})")
    unused = sorted(set(sections) - set(names))
    if unused:
      raise ValueError(f"config has hyperparameter sections {unused} for transforms that are not in "
                       f"transforms={names}; add them to the list or remove the sections")

    transforms = tuple(
        _build(TRANSFORMS.get(name), _to_dict(sections.get(name) or {}, name), name) for name in names)
    return cls(transforms=transforms, kl=kl, **raw)


def _to_dict(value: Any, where: str) -> dict[str, Any]:
  if hasattr(value, "to_dict"):  # ml_collections.ConfigDict / FrozenConfigDict
    value = value.to_dict()
  if not isinstance(value, Mapping):
    raise ValueError(f"{where} must be a mapping, got {value!r}")
  return dict(value)


def _build(cls: type, section: dict[str, Any], where: str) -> Any:
  """cls(**section) with unknown keys reported by name together with the known ones."""
  known = {f.name for f in dataclasses.fields(cls)}
  unknown = sorted(set(section) - known)
  if unknown:
    raise ValueError(f"unknown {where} hyperparameters {unknown}; known: {', '.join(sorted(known))}")
  return cls(**section)
