"""Entropy bonus and its adaptive-coefficient version (verl `entropy_coeff`; Skywork-OR1 "Ada-Ent-Reg").

The bonus -coef * agg(H) pushes every position's full-vocabulary entropy up (gradient through all V
logits; `token_statistics` computes H chunked). It is the baseline SIREN argues against: with a fixed
coefficient it tends to either do nothing or explode. The adaptive version moves the coefficient toward
a target entropy between steps: c <- max(0, c + step) while entropy is below the target, c - step
above it, and (Skywork) applies the bonus only while the current entropy is at or below the target.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import jax
import jax.numpy as jnp

from rlvr_jax.objectives._batch import ObjectiveState, TokenBatch
from rlvr_jax.objectives._methods import register_method
from rlvr_jax.objectives.transforms import _group_stats as group_stats
from rlvr_jax.objectives.transforms._registry import (TrainingProgress, Transform, read_metric,
                                                     register_transform)
from rlvr_jax.objectives._validation import check_bool, check_number, check_str


def aggregated_entropy(batch: TokenBatch, state: ObjectiveState) -> jax.Array:
  """agg(H, response mask) with the policy loss's mode and global counts; carries H's gradient."""
  return state.aggregation(batch.entropy, batch.response_mask, global_tokens=batch.global_tokens,
                           global_sequences=batch.global_sequences)


@register_transform("entropy_bonus")
@dataclasses.dataclass(frozen=True)
class EntropyBonus(Transform):
  """Adds -coef * agg(H) to the loss.

  Attributes:
    coef: entropy coefficient (verl default 0 = off; 0.005 is the SIREN repository's naive baseline).
  """

  coef: float = 0.005

  def __post_init__(self) -> None:
    check_number("entropy_bonus", "coef", self.coef, low=0.0)

  def required_inputs(self) -> frozenset[str]:
    return frozenset({"entropy"})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del transform_state, key
    entropy = aggregated_entropy(batch, state)
    state = state.add_loss("entropy_bonus", -self.coef * entropy)
    return state.add_metrics("entropy_bonus", {"entropy": jax.lax.stop_gradient(entropy)})


@register_transform("adaptive_entropy")
@dataclasses.dataclass(frozen=True)
class AdaptiveEntropyBonus(Transform):
  """Entropy bonus whose coefficient tracks a target entropy (UNCONFIRMED details, algorithms.md §8.4).

  Attributes:
    target_entropy: H_tgt (0.2 in the Revisiting comparison; 0.3657 = their measured initial entropy).
    initial_coef: c_0.
    coef_step: Delta_c per step.
    gate_above_target: apply the bonus only while the batch's mean entropy <= target (Skywork).
    entropy_metric: step metric holding H_k for the coefficient update.
  """

  target_entropy: float = 0.2
  initial_coef: float = 0.0
  coef_step: float = 0.005
  gate_above_target: bool = True
  entropy_metric: str = "entropy/mean"

  def __post_init__(self) -> None:
    check_number("adaptive_entropy", "target_entropy", self.target_entropy, low=0.0)
    check_number("adaptive_entropy", "initial_coef", self.initial_coef, low=0.0)
    check_number("adaptive_entropy", "coef_step", self.coef_step, low=0.0, low_inclusive=False)
    check_bool("adaptive_entropy", "gate_above_target", self.gate_above_target)
    check_str("adaptive_entropy", "entropy_metric", self.entropy_metric)

  def required_inputs(self) -> frozenset[str]:
    return frozenset({"entropy"})

  def init_state(self) -> dict[str, jax.Array]:
    return {"coef": jnp.asarray(self.initial_coef, jnp.float32)}

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del key
    valid = batch.response_mask > 0
    entropy = aggregated_entropy(batch, state)
    mean_entropy = group_stats.masked_mean(jax.lax.stop_gradient(batch.entropy), valid)
    coef = transform_state["coef"]
    if self.gate_above_target:
      coef = jnp.where(mean_entropy <= self.target_entropy, coef, 0.0)
    state = state.add_loss("adaptive_entropy", -coef * entropy)
    return state.add_metrics("adaptive_entropy", {"coef": coef,
                                                  "entropy": jax.lax.stop_gradient(entropy)})

  def update_state(self, transform_state: dict, step_metrics: Mapping[str, jax.Array],
                   progress: TrainingProgress) -> dict:
    del progress
    entropy = read_metric(step_metrics, self.entropy_metric, "adaptive_entropy")
    step = jnp.where(entropy < self.target_entropy, self.coef_step, -self.coef_step)
    return {"coef": jnp.maximum(transform_state["coef"] + step, 0.0)}


# Naive entropy bonus with SIREN's beta 0.005 (its naive_entropy_reg baseline; the EntropyBonus default).
register_method("entropy_bonus", objective={"transforms": ("entropy_bonus",)},
                source="Linn3a/siren fa59a8d naive_entropy_reg; verl entropy_coeff")
# Ada-Ent-Reg (Skywork-OR1 style; UNCONFIRMED step size), target 0.2 as in the Revisiting comparison.
register_method("adaptive_entropy", objective={"transforms": ("adaptive_entropy",)},
                source="Skywork-OR1 (UNCONFIRMED details); arXiv 2511.05993 comparison")
