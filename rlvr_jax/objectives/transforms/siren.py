"""SIREN: selective, self-anchored entropy regularization (Jiang et al., arXiv 2509.25133).

Plain entropy bonuses blow up on LLMs because the vocabulary tail and long trajectories offer endless
ways to raise entropy. SIREN regularizes (1) only the nucleus (top-p entropy, computed by
`token_stats.token_statistics(..., top_p=...)` with gradient through the kept logits only), (2) only
the peak-entropy positions of each response (strictly above the per-row mask_ratio quantile), and
(3) toward the initial entropy instead of upward: beta (Hbar - H_anchor)^2, two-sided.

The anchor is captured once: before it is set, the batch's own aggregate (stop-gradient) stands in, so
the first step's regularizer is zero (the reference anchors on the first rollout batch under the
initial policy, which the first step also sees); `update_state` then freezes it from the
`siren/entropy` metric. A configured `anchor` skips the capture. The reference silently falls back to
an anchor of 0 when the metric is missing (turning the term into entropy minimization); here a missing
metric raises.

The ablations of the SIREN repository (`experiment_type`, algorithms.md §6.5) are `variant`s.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp

from rlvr_jax.objectives._batch import NORM_SCOPES, ObjectiveState, TokenBatch
from rlvr_jax.objectives._methods import DR_GRPO_AGGREGATION, register_method
from rlvr_jax.objectives.transforms import _group_stats as group_stats
from rlvr_jax.objectives.transforms._registry import (TrainingProgress, Transform, read_metric,
                                                     register_transform)
from rlvr_jax.objectives._validation import (check_choice, check_int, check_number,
                                            check_optional_number)


class SirenVariant(NamedTuple):
  """regularized: entropy that carries the gradient; mask_from: entropy the peak mask is computed on
  (None = all response tokens); objective: "anchor" (beta (Hbar - H_anchor)^2), "maximize" (-beta Hbar)
  or "adaptive" (-beta_k Hbar with beta_k steered toward the anchor); policy_agg: aggregate with the
  policy's loss_agg_mode instead of SIREN's seq-mean-token-mean."""

  regularized: str
  mask_from: str | None
  objective: str
  policy_agg: bool = False


SIREN_VARIANTS: dict[str, SirenVariant] = {
    "siren": SirenVariant("topp", "topp", "anchor"),
    "wo_anchor": SirenVariant("topp", "topp", "maximize"),
    "wo_topp": SirenVariant("full", "full", "anchor"),
    "token_first": SirenVariant("topp", "full", "anchor"),
    "wo_token": SirenVariant("topp", None, "anchor"),
    "only_anchor": SirenVariant("full", None, "anchor"),
    "naive": SirenVariant("full", None, "maximize", policy_agg=True),
    "naive_adaptive": SirenVariant("full", None, "adaptive", policy_agg=True),
}
_ENTROPY_FIELD = {"topp": "topp_entropy", "full": "entropy"}


@flax.struct.dataclass
class SirenState:
  """anchor: H_anchor; anchored: whether it is fixed yet; coef: beta (moves only for naive_adaptive)."""

  anchor: jax.Array
  anchored: jax.Array
  coef: jax.Array


def peak_entropy_mask(entropy: jax.Array, mask: jax.Array, quantile: float) -> jax.Array:
  """Tokens whose entropy is strictly above their row's `quantile` (linear interpolation, as torch).

  Rows without valid tokens select nothing (torch's nanquantile is NaN there).

  Args:
    entropy: [B, T] values (stop-gradient is applied).
    mask: [B, T] valid tokens.
    quantile: q in [0, 1].

  Returns:
    [B, T] bool.
  """
  valid = mask > 0
  values = jax.lax.stop_gradient(entropy).astype(jnp.float32)
  ordered = jnp.sort(jnp.where(valid, values, jnp.inf), axis=-1)  # [B, T] valid values first
  count = jnp.sum(valid, axis=-1)  # [B]
  position = quantile * jnp.maximum(count - 1, 0).astype(jnp.float32)  # [B]
  below = jnp.floor(position).astype(jnp.int32)
  above = jnp.minimum(below + 1, jnp.maximum(count - 1, 0))
  low = jnp.take_along_axis(ordered, below[:, None], axis=-1)[:, 0]
  high = jnp.take_along_axis(ordered, above[:, None], axis=-1)[:, 0]
  threshold = low + (position - below) * jnp.where(above > below, high - low, 0.0)  # [B]
  return valid & (count[:, None] > 0) & (values > threshold[:, None])


def grouped_seq_mean_token_mean(values: jax.Array, selected: jax.Array, row_groups: jax.Array,
                                num_groups: int) -> tuple[jax.Array, jax.Array]:
  """Per-group seq-mean-token-mean ([G]) and group row counts ([G]); empty rows give 0 and count."""
  row_tokens = jnp.sum(selected, axis=-1, dtype=jnp.float32)  # [B]
  row_sums = jnp.sum(jnp.where(selected, values.astype(jnp.float32), 0.0), axis=-1)  # [B]
  row_means = jnp.where(row_tokens > 0, row_sums / jnp.maximum(row_tokens, 1.0), 0.0)  # [B]
  rows = jax.ops.segment_sum(jnp.ones_like(row_means), row_groups, num_segments=num_groups)  # [G]
  sums = jax.ops.segment_sum(row_means, row_groups, num_segments=num_groups)  # [G]
  return sums / jnp.maximum(rows, 1.0), rows


@register_transform("siren")
@dataclasses.dataclass(frozen=True)
class Siren(Transform):
  """Selective self-anchored entropy regularizer (defaults: `exp_scripts/siren.sh`).

  Attributes:
    coef: beta (entropy_coeff); the initial beta for "naive_adaptive".
    top_p: nucleus mass p of the top-p entropy (the cumulative-mass crossing token is excluded, §6.1).
    top_k: candidate count K of the nucleus.
    mask_ratio: per-row quantile level of the peak-entropy mask (0.8 keeps roughly the top 20%).
    variant: one of SIREN_VARIANTS (the repository's `experiment_type`s).
    anchor: fixed H_anchor; None captures it from the first batch.
    adaptive_lr: step of beta <- max(0, beta + adaptive_lr (H_anchor - Hbar)) ("naive_adaptive" only).
    norm_scope: "mini_batch" or "micro_batch" (Hbar and the square per norm group, weighted by rows,
      which is what per-micro-batch losses with B_mb / B scaling sum to).
  """

  coef: float = 0.005
  top_p: float = 0.8
  top_k: int = 10000
  mask_ratio: float = 0.8
  variant: str = "siren"
  anchor: float | None = None
  adaptive_lr: float | None = None
  norm_scope: str = "mini_batch"

  def __post_init__(self) -> None:
    check_number("siren", "coef", self.coef, low=0.0)
    check_number("siren", "top_p", self.top_p, low=0.0, high=1.0, low_inclusive=False)
    check_int("siren", "top_k", self.top_k, low=1)
    check_number("siren", "mask_ratio", self.mask_ratio, low=0.0, high=1.0)
    check_choice("siren", "variant", self.variant, SIREN_VARIANTS)
    check_optional_number("siren", "anchor", self.anchor, low=0.0)
    check_optional_number("siren", "adaptive_lr", self.adaptive_lr, low=0.0, low_inclusive=False)
    check_choice("siren", "norm_scope", self.norm_scope, NORM_SCOPES)
    if self.variant == "naive_adaptive" and self.adaptive_lr is None:
      raise ValueError("siren.adaptive_lr must be set (> 0) for variant='naive_adaptive'")
    if self.variant != "naive_adaptive" and self.adaptive_lr is not None:
      raise ValueError(f"siren.adaptive_lr={self.adaptive_lr!r} is only used by variant='naive_adaptive', "
                       f"not {self.variant!r}")

  @property
  def spec(self) -> SirenVariant:
    return SIREN_VARIANTS[self.variant]

  def required_inputs(self) -> frozenset[str]:
    spec = self.spec
    return frozenset(_ENTROPY_FIELD[s] for s in (spec.regularized, spec.mask_from) if s is not None)

  def token_stats_request(self) -> dict:
    if "topp_entropy" in self.required_inputs():
      return {"top_p": self.top_p, "top_k": self.top_k}
    return {}

  def init_state(self) -> SirenState:
    return SirenState(anchor=jnp.asarray(self.anchor or 0.0, jnp.float32),
                      anchored=jnp.asarray(self.anchor is not None),
                      coef=jnp.asarray(self.coef, jnp.float32))

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: SirenState,
            key: jax.Array | None) -> ObjectiveState:
    del key
    spec = self.spec
    valid = batch.response_mask > 0  # [B, T]
    entropy = getattr(batch, _ENTROPY_FIELD[spec.regularized]).astype(jnp.float32)  # [B, T], grad
    if spec.mask_from is None:
      selected = valid
    else:
      selected = peak_entropy_mask(getattr(batch, _ENTROPY_FIELD[spec.mask_from]), valid, self.mask_ratio)

    # The loss uses the mini-batch counts (additive over micro-batch calls); the logged entropy and the
    # anchor stand-in use this call's own counts, so they are means whatever the accumulation.
    if spec.policy_agg:
      loss_entropy = state.aggregation(entropy, selected, global_tokens=batch.global_tokens,
                                       global_sequences=batch.global_sequences)
      batch_entropy = jax.lax.stop_gradient(state.aggregation(entropy, selected))
      group_entropy, group_weight = loss_entropy[None], jnp.ones((1,), jnp.float32)
    else:
      row_groups, num_groups = batch.group_ids(self.norm_scope)
      group_entropy, rows = grouped_seq_mean_token_mean(entropy, selected, row_groups, num_groups)
      local_rows = jnp.maximum(rows.sum(), 1.0)
      total_rows = local_rows if batch.global_sequences is None else jnp.maximum(
          jnp.asarray(batch.global_sequences, jnp.float32), 1.0)
      group_weight = rows / total_rows  # [G]
      loss_entropy = jnp.sum(group_weight * group_entropy)
      batch_entropy = jax.lax.stop_gradient(jnp.sum(rows * group_entropy) / local_rows)

    anchor = jnp.where(transform_state.anchored, transform_state.anchor, batch_entropy)
    if spec.objective == "anchor":
      penalty = jnp.sum(group_weight * jnp.square(group_entropy - anchor))
    else:  # "maximize" and "adaptive": -beta Hbar
      penalty = -loss_entropy
    loss = transform_state.coef * penalty
    state = state.add_loss("siren", loss)
    return state.add_metrics("siren", {
        "entropy": batch_entropy,
        "anchor": anchor,
        "penalty": jax.lax.stop_gradient(penalty),
        "coef": transform_state.coef,
        "selected_frac": group_stats.masked_mean(selected, valid),
    })

  def update_state(self, transform_state: SirenState, step_metrics: Mapping[str, jax.Array],
                   progress: TrainingProgress) -> SirenState:
    del progress
    entropy = read_metric(step_metrics, "siren/entropy", "siren")
    anchor = jnp.where(transform_state.anchored, transform_state.anchor, entropy)
    coef = transform_state.coef
    if self.spec.objective == "adaptive":
      coef = jnp.maximum(0.0, coef + self.adaptive_lr * (anchor - entropy))
    return SirenState(anchor=anchor, anchored=jnp.asarray(True), coef=coef)


# SIREN exp_scripts/siren.sh: effective clip 0.2/0.2 (the yaml pins clip_ratio_low/high, so the script's
# clip_ratio=0.28 has no effect), c = 3, no log-ratio clamp (older verl copy), Dr.GRPO aggregation with
# SIREN's row mean, the Siren defaults (beta 0.005, top-p 0.8, top-k 10000, mask ratio 0.8). For the
# exact 1 / (B_mini * 3072) constant also set norm_constant = 3072 and pass global_sequences.
register_method("siren", objective={**DR_GRPO_AGGREGATION, "transforms": ("siren",)}, estimator="dr_grpo",
                source="Linn3a/siren fa59a8d exp_scripts/siren.sh")
