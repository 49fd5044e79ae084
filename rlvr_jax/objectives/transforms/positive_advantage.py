"""Positive-Advantage Reweighting and its ablations (Jin et al., "Revisiting Entropy in RL for LRMs",
arXiv 2511.05993).

Tokens with A > 0 raise an (already likely) sampled token and push every other logit down, which is
what drains entropy; tokens with A <= 0 do the opposite. Scaling only the A > 0 tokens by lambda in
[0, 1] therefore turns the entropy trend up or down, and the entropy-guided schedule closes the loop:
lambda drops when entropy falls below a target and rises otherwise.

Weights are constants and, by default, not renormalized (the token-mean denominator still counts the
down-weighted tokens; UNCONFIRMED in the paper). `renormalize=True` removes zero-weight tokens from the
denominator instead. The official code was not available: schedule details follow third-party notes
(algorithms.md §7.2) and are flagged there.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import jax
import jax.numpy as jnp

from rlvr_jax.objectives._batch import NORM_SCOPES, ObjectiveState, TokenBatch
from rlvr_jax.objectives._methods import register_method
from rlvr_jax.objectives.transforms import _group_stats as group_stats
from rlvr_jax.objectives.transforms._registry import (ADVANTAGES, TrainingProgress, Transform, read_metric,
                                                     register_transform)
from rlvr_jax.objectives._validation import check_bool, check_choice, check_number, check_str

POSITIVE_WEIGHT_SCHEDULES = ("constant", "stage", "epoch", "entropy_guided")


def _apply_weights(state: ObjectiveState, weights: jax.Array, renormalize: bool) -> ObjectiveState:
  state = state.scale_weights(weights)
  return state.restrict_mask(weights != 0) if renormalize else state


@register_transform("pos_adv_reweight")
@dataclasses.dataclass(frozen=True)
class PositiveAdvantageReweight(Transform):
  """w = lambda on A > 0 tokens, 1 elsewhere, lambda from a schedule carried in the transform state.

  Schedules (lambda for the step about to run; `progress.step` steps done of `total_steps`):
    constant: lambda = positive_weight.
    stage: 0 for the first half of training, then linear from 0 to 1: clip(2 step / total - 1, 0, 1).
    epoch: (e - 1) / (E - 1) for epoch e = 1..E, i.e. progress.epoch / max(total_epochs - 1, 1).
    entropy_guided: lambda_0 = positive_weight; after each step, lambda <- clip(lambda - step_size, 0, 1)
      if the step's entropy < target_entropy, else clip(lambda + step_size, 0, 1).

  Attributes:
    schedule: one of POSITIVE_WEIGHT_SCHEDULES.
    positive_weight: lambda of "constant", lambda_0 of "entropy_guided" (ignored by stage / epoch).
    target_entropy: delta of the entropy-guided schedule.
    step_size: Delta of the entropy-guided schedule.
    entropy_metric: step metric holding H_k (the objective logs the mean token entropy there).
    renormalize: drop zero-weight tokens from the aggregation denominator.
  """

  schedule: str = "entropy_guided"
  positive_weight: float = 0.0
  target_entropy: float = 0.2
  step_size: float = 0.05
  entropy_metric: str = "entropy/mean"
  renormalize: bool = False

  scales_weights = True

  def __post_init__(self) -> None:
    check_choice("pos_adv_reweight", "schedule", self.schedule, POSITIVE_WEIGHT_SCHEDULES)
    check_number("pos_adv_reweight", "positive_weight", self.positive_weight, low=0.0, high=1.0)
    check_number("pos_adv_reweight", "target_entropy", self.target_entropy, low=0.0)
    check_number("pos_adv_reweight", "step_size", self.step_size, low=0.0, high=1.0)
    check_str("pos_adv_reweight", "entropy_metric", self.entropy_metric)
    check_bool("pos_adv_reweight", "renormalize", self.renormalize)

  def reads(self) -> frozenset[str]:
    return frozenset({ADVANTAGES})

  def required_inputs(self) -> frozenset[str]:
    # The objective logs "entropy/mean" from the current entropy if given, else the rollout entropy.
    if self.schedule == "entropy_guided" and self.entropy_metric == "entropy/mean":
      return frozenset({"old_entropy"})
    return frozenset()

  def init_state(self) -> dict[str, jax.Array]:
    initial = self.positive_weight if self.schedule in ("constant", "entropy_guided") else 0.0
    return {"positive_weight": jnp.asarray(initial, jnp.float32)}

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del key
    valid = batch.response_mask > 0
    positive = state.advantages > 0
    weights = jnp.where(positive, transform_state["positive_weight"], 1.0)  # [B, T]
    state = _apply_weights(state, weights, self.renormalize)
    return state.add_metrics("pos_adv", {
        "positive_weight": transform_state["positive_weight"],
        "positive_frac": group_stats.masked_mean(positive, valid),
    })

  def update_state(self, transform_state: dict, step_metrics: Mapping[str, jax.Array],
                   progress: TrainingProgress) -> dict:
    current = transform_state["positive_weight"]
    if self.schedule == "constant":
      new = current
    elif self.schedule == "stage":
      new = jnp.clip(2.0 * progress.step / jnp.maximum(progress.total_steps, 1.0) - 1.0, 0.0, 1.0)
    elif self.schedule == "epoch":
      new = jnp.clip(progress.epoch / jnp.maximum(progress.total_epochs - 1.0, 1.0), 0.0, 1.0)
    else:
      entropy = read_metric(step_metrics, self.entropy_metric, "pos_adv_reweight")
      new = jnp.clip(current + jnp.where(entropy < self.target_entropy, -self.step_size, self.step_size),
                     0.0, 1.0)
    return {"positive_weight": jnp.asarray(new, jnp.float32)}


@register_transform("adv_nonneg_only")
@dataclasses.dataclass(frozen=True)
class NonNegativeAdvantageOnly(Transform):
  """Ablation "Adv >= 0 only": trains only on tokens with A >= 0 (entropy collapses fastest)."""

  renormalize: bool = False

  scales_weights = True

  def __post_init__(self) -> None:
    check_bool("adv_nonneg_only", "renormalize", self.renormalize)

  def reads(self) -> frozenset[str]:
    return frozenset({ADVANTAGES})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del batch, transform_state, key
    return _apply_weights(state, (state.advantages >= 0).astype(jnp.float32), self.renormalize)


@register_transform("adv_nonpos_only")
@dataclasses.dataclass(frozen=True)
class NonPositiveAdvantageOnly(Transform):
  """Ablation "Adv <= 0 only": trains only on tokens with A <= 0 (entropy rises)."""

  renormalize: bool = False

  scales_weights = True

  def __post_init__(self) -> None:
    check_bool("adv_nonpos_only", "renormalize", self.renormalize)

  def reads(self) -> frozenset[str]:
    return frozenset({ADVANTAGES})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del batch, transform_state, key
    return _apply_weights(state, (state.advantages <= 0).astype(jnp.float32), self.renormalize)


@register_transform("rand_pos_clip")
@dataclasses.dataclass(frozen=True)
class RandomPositiveClip(Transform):
  """Ablation "Rand-Pos-Clip": zero the loss of randomly chosen A > 0 tokens.

  The control for Clip-Cov: Clip-Cov's high-covariance tokens are mostly positive-advantage ones, so
  this clips the same budget, max(1, floor(ratio * #valid tokens)) per group, uniformly among A > 0
  tokens instead of by covariance. The budget rule and default ratio (Clip-Cov's 2e-4) are
  UNCONFIRMED (the official code was not available).

  Attributes:
    ratio: clip budget as a fraction of the group's valid tokens.
    norm_scope: "mini_batch" or "micro_batch".
    renormalize: drop the clipped tokens from the aggregation denominator.
  """

  ratio: float = 2e-4
  norm_scope: str = "mini_batch"
  renormalize: bool = False

  needs_key = True
  scales_weights = True

  def __post_init__(self) -> None:
    check_number("rand_pos_clip", "ratio", self.ratio, low=0.0, high=1.0, low_inclusive=False)
    check_choice("rand_pos_clip", "norm_scope", self.norm_scope, NORM_SCOPES)
    check_bool("rand_pos_clip", "renormalize", self.renormalize)

  def reads(self) -> frozenset[str]:
    return frozenset({ADVANTAGES})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del transform_state
    valid = batch.response_mask > 0
    row_groups, num_groups = batch.group_ids(self.norm_scope)
    counts = group_stats.group_count(valid, row_groups, num_groups)  # [G]
    budget = jnp.maximum(jnp.floor(counts * self.ratio), 1.0).astype(jnp.int32)
    chosen = group_stats.group_random_subset(key, valid & (state.advantages > 0), row_groups,
                                             num_groups, budget)
    state = _apply_weights(state, 1.0 - chosen.astype(jnp.float32), self.renormalize)
    return state.add_metrics("rand_pos_clip", {"clipfrac": group_stats.masked_mean(chosen, valid)})


# Revisiting Entropy (2511.05993): entropy-guided lambda, delta 0.2, Delta 0.05, lambda_0 0 (the
# PositiveAdvantageReweight defaults; third-party notes, UNCONFIRMED; base clip range verl's default).
register_method("pos_adv_reweight", objective={"transforms": ("pos_adv_reweight",)},
                source="arXiv 2511.05993 via third-party notes (no official code)")
