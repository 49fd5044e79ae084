"""Objective configuration: one frozen dataclass, built from a plain mapping or an ml_collections config.

The mapping form is what `configs/*.py` write:

  {"policy_loss": "ppo", "loss_agg_mode": "token-mean", "eps_low": 0.2, "eps_high": 0.2,
   "dual_clip_c": 3.0, "clamp_log_ratio": True, "kl": {"kind": "low_var_kl", "coef": 0.001} | None,
   "transforms": ("clip_higher", "steer"), "clip_higher": {...}, "steer": {...}}

plus a section named after the policy loss for its own hyperparameters (`"sapo": {"tau_neg": 1.1}`).
Every name is checked against its registry (policy losses, aggregation modes, KL estimators,
transforms), every hyperparameter against the dataclass that consumes it, the transform list against
the read/write order rule, and the transforms against the policy loss (`check_composition`), all
before anything is traced. A hyperparameter section for a transform or policy loss that is not used is
an error too: it would otherwise be silently ignored.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from rlvr_jax.objectives._aggregation import (AGGREGATION_MODES, EMPTY_ROW_POLICIES,
                                             TOKEN_SUM_NORM_ROW_REDUCTIONS, validate_aggregation)
from rlvr_jax.objectives._batch import AggregationSpec, PPOClipParams
from rlvr_jax.objectives._kl import KL_ESTIMATORS
from rlvr_jax.objectives._policy_loss import validate_ppo_clip
from rlvr_jax.objectives._token_losses import POLICY_LOSSES, PolicyLoss
from rlvr_jax.objectives.transforms import PPO_PARAMS, TRANSFORMS, Transform, check_transform_order
from rlvr_jax.objectives._validation import (check_bool, check_choice, check_number,
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
    policy_loss: a POLICY_LOSSES name ("ppo" clipped surrogate, "gpg", "gspo", "cispo", "gmpo", "sapo").
    loss_agg_mode: one of aggregation.AGGREGATION_MODES.
    eps_low, eps_high, dual_clip_c, clamp_log_ratio: PPO clip parameters (before transforms).
    norm_constant: seq-mean-token-sum-norm divisor (None = padded T).
    empty_rows: how seq-mean modes treat all-masked rows ("zero" or "exclude").
    token_sum_norm_rows: seq-mean-token-sum-norm row reduction ("sum" = verl, "mean" = SIREN's copy).
    kl: KL loss term, or None.
    transforms: transform instances, applied in order.
    entropy_change_diagnostic: log the first-order entropy-change estimate of the final objective.
    policy_loss_params: the policy loss instance with its hyperparameters (None = its defaults).
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
  policy_loss_params: PolicyLoss | None = None

  def __post_init__(self) -> None:
    loss_cls = POLICY_LOSSES.get(self.policy_loss, field="policy_loss")
    if self.policy_loss_params is None:
      object.__setattr__(self, "policy_loss_params", loss_cls())
    elif type(self.policy_loss_params) is not loss_cls:
      raise ValueError(f"policy_loss_params={self.policy_loss_params!r} is not a {self.policy_loss!r} loss")
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
    check_composition(self.policy_loss_params, self.transforms, loss_agg_mode=self.loss_agg_mode,
                      has_kl=self.kl is not None)

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
    loss_sections = {key: raw.pop(key) for key in list(raw) if key in POLICY_LOSSES}
    top_level.discard("policy_loss_params")
    unknown = sorted(set(raw) - top_level)
    if unknown:
      raise ValueError(f"unknown objective config keys {unknown}; known: "
                       f"{', '.join(sorted(top_level | {'transforms', 'kl'}))}, transform sections "
                       f"({', '.join(TRANSFORMS.names())}) and policy-loss sections "
                       f"({', '.join(POLICY_LOSSES.names())})")
    unused = sorted(set(sections) - set(names))
    if unused:
      raise ValueError(f"config has hyperparameter sections {unused} for transforms that are not in "
                       f"transforms={names}; add them to the list or remove the sections")
    loss_name = raw.get("policy_loss", "ppo")
    unused_losses = sorted(set(loss_sections) - {loss_name})
    if unused_losses:
      raise ValueError(f"config has hyperparameter sections {unused_losses} for policy losses other than "
                       f"policy_loss={loss_name!r}; remove them")
    loss_cls = POLICY_LOSSES.get(loss_name, field="policy_loss")
    loss = _build(loss_cls, _to_dict(loss_sections.get(loss_name) or {}, loss_name), loss_name)

    transforms = tuple(
        _build(TRANSFORMS.get(name), _to_dict(sections.get(name) or {}, name), name) for name in names)
    return cls(transforms=transforms, kl=kl, policy_loss_params=loss, **raw)


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


def check_composition(loss: PolicyLoss, transforms: tuple[Transform, ...], *, loss_agg_mode: str,
                      has_kl: bool) -> None:
  """Rejects transform / policy-loss combinations that have no meaning (docs/methods.md, composition).

  - a transform that sets or replaces the PPO clipped loss (clip_higher, Clip-Cov, KL-Cov) needs the PPO
    loss; GSPO / CISPO / GMPO have their own clip range, SAPO and GPG none;
  - a transform that reads the PPO clip range (STEER's theorem form) needs a loss that uses it;
  - a weight-scaling transform needs a token-level loss (GMPO has one loss per response);
  - a loss whose reference hard-codes an aggregation (GSPO, SAPO, GMPO) needs that loss_agg_mode;
  - a transform that acts on the KL loss term (siren_kl) needs `kl`.
  """
  name = loss.name
  if not loss.uses_ppo_clip:
    needing_ppo = [t.name for t in transforms if t.needs_ppo_loss]
    if needing_ppo:
      raise ValueError(f"transforms {needing_ppo} act on the PPO clipped loss, but policy_loss={name!r} "
                       f"has {'its own clip range' if name in ('gspo', 'cispo', 'gmpo') else 'no PPO clip'}")
    reading_clip = [t.name for t in transforms if PPO_PARAMS in t.reads()]
    if reading_clip:
      raise ValueError(f"transforms {reading_clip} read the PPO clip range, which policy_loss={name!r} "
                       f"does not use")
  if loss.sequence_level:
    weighting = [t.name for t in transforms if t.scales_weights]
    if weighting:
      raise ValueError(f"transforms {weighting} scale per-token weights, but policy_loss={name!r} has one "
                       f"loss per response (a geometric mean of token ratios) with no per-token weight")
  if loss.loss_agg_mode is not None and loss_agg_mode != loss.loss_agg_mode:
    raise ValueError(f"policy_loss={name!r} aggregates {loss.loss_agg_mode!r} (its reference ignores "
                     f"loss_agg_mode); set loss_agg_mode={loss.loss_agg_mode!r}, got {loss_agg_mode!r}")
  needing_kl = [t.name for t in transforms if t.needs_kl_loss]
  if needing_kl and not has_kl:
    raise ValueError(f"transforms {needing_kl} act on the KL loss term; set kl (e.g. "
                     f"{{'kind': 'low_var_kl', 'coef': 0.001}})")
