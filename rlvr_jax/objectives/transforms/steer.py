"""STEER: attenuate the tokens whose update would change entropy the most (Hao et al., arXiv 2510.10150).

Each token's first-order entropy change Omega (_entropy_change.py) is mapped to a constant weight in
[w_min, w_max]: the token with the largest |Omega| in its normalization group gets w_min, tokens that
barely move entropy keep ~1. Gradient directions are untouched; only the step each token contributes to
the entropy drift is damped, which is why STEER keeps entropy stable without a regularizer term.

Released-code semantics (algorithms.md §5.2) are the defaults: Omega = (A / pi_old) pi (1 - pi)
(log pi + H_old) with pi from the current parameters and H from the rollout pass, exponential mapping
with the 0.02 scale floor and the upper clip pinned to 1.0, non-finite Omega -> 0 before |.|. The
paper's theorem form, the per-micro-batch grouping of the reference, and the later "asymmetric" mode
are options.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from rlvr_jax.objectives import _entropy_change as entropy_change
from rlvr_jax.objectives._batch import NORM_SCOPES, ObjectiveState, TokenBatch
from rlvr_jax.objectives._methods import DAPO_DUAL_CLIP, register_method
from rlvr_jax.objectives._policy_loss import ppo_token_loss
from rlvr_jax.objectives.transforms import _group_stats as group_stats
from rlvr_jax.objectives.transforms._registry import ADVANTAGES, PPO_PARAMS, Transform, register_transform
from rlvr_jax.objectives._validation import check_choice, check_number

STEER_MAPPINGS = ("exponential", "linear")
STEER_MODES = ("symmetric", "asymmetric")
STEER_ENTROPY_SOURCES = ("old", "current")


@register_transform("steer")
@dataclasses.dataclass(frozen=True)
class Steer(Transform):
  """Per-token weights from the entropy-change estimate (defaults: released `run_exp.sh`).

  Attributes:
    w_min: weight of the most entropy-changing token (lambda_min).
    w_max: weight of the least entropy-changing token in linear mode; the exponential mapping of the
      released code ignores it and caps at 1.0 (asymmetric exponential caps at w_max).
    mapping: "exponential" (w = w_min ** (|Omega| / max(max|Omega|, floor))) or "linear".
    omega_form: "code" (A / pi_old * pi (1 - pi)(log pi + H)) or "theorem" (r A I_clip pi (1 - pi)
      (log pi + H), with the current clip range).
    mode: "symmetric" (|Omega|) or "asymmetric" (entropy-decreasing tokens -> w_min, entropy-increasing
      -> w_max; later upstream version, UNCONFIRMED).
    norm_scope: "mini_batch" (min/max over the whole batch) or "micro_batch" (per norm group, as the
      reference computes them per micro-batch per GPU).
    entropy_source: "old" (H from the rollout pass, as the code) or "current" (training-forward H).
    scale_floor: lower bound on max|Omega| in the exponential mapping (0.02 in the code), so a batch
      where every token barely moves entropy is not stretched to w_min.
  """

  w_min: float = 0.8
  w_max: float = 1.0
  mapping: str = "exponential"
  omega_form: str = "code"
  mode: str = "symmetric"
  norm_scope: str = "mini_batch"
  entropy_source: str = "old"
  scale_floor: float = 0.02

  scales_weights = True

  def __post_init__(self) -> None:
    check_number("steer", "w_min", self.w_min, low=0.0, low_inclusive=False)
    check_number("steer", "w_max", self.w_max, low=0.0, low_inclusive=False)
    if self.w_min > self.w_max:
      raise ValueError(f"steer.w_min={self.w_min!r} must be <= steer.w_max={self.w_max!r}")
    check_choice("steer", "mapping", self.mapping, STEER_MAPPINGS)
    check_choice("steer", "omega_form", self.omega_form, entropy_change.ENTROPY_CHANGE_FORMS)
    check_choice("steer", "mode", self.mode, STEER_MODES)
    check_choice("steer", "norm_scope", self.norm_scope, NORM_SCOPES)
    check_choice("steer", "entropy_source", self.entropy_source, STEER_ENTROPY_SOURCES)
    check_number("steer", "scale_floor", self.scale_floor, low=0.0, low_inclusive=False)
    if self.mapping == "exponential" and self.w_min > 1.0:
      raise ValueError(f"steer.w_min={self.w_min!r} must be <= 1 with mapping='exponential' "
                       f"(weights are exp(-k|Omega|) <= 1)")

  def reads(self) -> frozenset[str]:
    return frozenset({ADVANTAGES, PPO_PARAMS} if self.omega_form == "theorem" else {ADVANTAGES})

  def required_inputs(self) -> frozenset[str]:
    return frozenset({TokenBatch.entropy_field(self.entropy_source)})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del transform_state, key
    weights, omega = steer_weights(self, batch, state)
    valid = batch.response_mask > 0
    state = state.scale_weights(weights)
    return state.add_metrics("steer", {
        "weight_mean": group_stats.masked_mean(weights, valid),
        "weight_min": group_stats.masked_extreme(weights, valid, largest=False),
        "weight_max": group_stats.masked_extreme(weights, valid, largest=True),
        "omega_abs_mean": group_stats.masked_mean(jnp.abs(omega), valid),
    })


def steer_weights(config: Steer, batch: TokenBatch, state: ObjectiveState) -> tuple[jax.Array, jax.Array]:
  """[B, T] weights (0 outside the response) and the signed entropy-change estimate they come from."""
  valid = batch.response_mask > 0  # [B, T]
  entropy = batch.entropy_from(config.entropy_source)
  gradient_active = None
  if config.omega_form == "theorem":
    gradient_active = ppo_token_loss(
        jax.lax.stop_gradient(batch.logp), batch.old_logp, state.advantages,
        eps_low=state.ppo.eps_low, eps_high=state.upper_clip, dual_clip_c=state.ppo.dual_clip_c,
        clamp_log_ratio=state.ppo.clamp_log_ratio).gradient_active
  omega = entropy_change.entropy_change_estimate(
      state.advantages, batch.logp, batch.old_logp, entropy, form=config.omega_form,
      gradient_active=gradient_active, clamp_log_ratio=state.ppo.clamp_log_ratio)  # [B, T]
  omega = jnp.where(jnp.isfinite(omega), omega, 0.0)
  magnitude = jnp.abs(omega)

  row_groups, num_groups = batch.group_ids(config.norm_scope)
  num_tokens = valid.shape[-1]

  def stat(reduce, values):  # per-group reduction broadcast back to [B, T]
    return group_stats.per_token(reduce(values, valid, row_groups, num_groups), row_groups, num_tokens)

  max_magnitude = stat(group_stats.group_max, magnitude)
  midpoint = 0.5 * (config.w_min + config.w_max)

  if config.mapping == "exponential":
    rate = -math.log(config.w_min) / jnp.maximum(max_magnitude, config.scale_floor)
    if config.mode == "symmetric":
      weights = jnp.clip(jnp.exp(-rate * magnitude), config.w_min, 1.0)
    else:  # asymmetric: entropy-increasing tokens (omega > 0) keep up to w_max.
      weights = jnp.clip(jnp.exp(rate * omega), config.w_min, config.w_max)
  else:
    span = config.w_max - config.w_min
    if config.mode == "symmetric":  # smallest |Omega| -> w_max, largest -> w_min (code's expression)
      low, high = stat(group_stats.group_min, magnitude), max_magnitude
      spread = jnp.where(high > low, high - low, 1.0)
      linear = config.w_max - (magnitude - low) * span / spread
    else:  # ascending in the signed change: most entropy-decreasing -> w_min
      low, high = stat(group_stats.group_min, omega), stat(group_stats.group_max, omega)
      spread = jnp.where(high > low, high - low, 1.0)
      linear = config.w_min + (omega - low) * span / spread
    weights = jnp.clip(jnp.where(high > low, linear, midpoint), config.w_min, config.w_max)

  # A group without valid tokens has max = -inf; its (masked) tokens get weight 0 as in the code.
  group_has_tokens = jnp.isfinite(max_magnitude)
  weights = jnp.where(valid & group_has_tokens, weights, 0.0)
  return jax.lax.stop_gradient(weights), omega


# STEER run/run_exp.sh (main: exponential mapping, w_min 0.8, the Steer defaults), run_linear.sh
# (0.8 / 1.2), run_asymmetric.sh (upstream 08add1cc, UNCONFIRMED); clip 0.2 / 0.28 with c = 10.
_STEER = {"dual_clip_c": DAPO_DUAL_CLIP, "transforms": ("clip_higher", "steer")}
register_method("steer", objective=_STEER, source="zz-haooo/STEER b31df716 run/run_exp.sh")
register_method("steer_linear", objective={**_STEER, "steer": {"w_max": 1.2, "mapping": "linear"}},
                source="zz-haooo/STEER b31df716 run/run_linear.sh")
register_method("steer_asymmetric",
                objective={**_STEER, "steer": {"w_min": 0.9, "mapping": "linear", "mode": "asymmetric"}},
                source="STEER upstream 08add1cc run_asymmetric.sh (UNCONFIRMED, third-party copy)")
