"""Entropy-based advantage (Cheng et al., "Reasoning with Exploration: An Entropy Perspective",
arXiv 2506.14758).

A' = A + min(alpha * sg(H), |A| / kappa). High-entropy positions get a bonus that favours exploratory
tokens, and the clip at |A| / kappa keeps the bonus from flipping a negative advantage's sign (for
kappa >= 1) or dominating it. The entropy is detached: the bonus reshapes credit, it does not ask the
model to raise entropy directly. SIREN's baseline hard-codes kappa = 1 (the default here); the paper
uses kappa = 2 (UNCONFIRMED from memory, algorithms.md §8.2).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rlvr_jax.objectives._batch import ObjectiveState, TokenBatch
from rlvr_jax.objectives._methods import DR_GRPO_AGGREGATION, register_method
from rlvr_jax.objectives.transforms import _group_stats as group_stats
from rlvr_jax.objectives.transforms._registry import ADVANTAGES, Transform, register_transform
from rlvr_jax.objectives._validation import check_choice, check_number

ENTROPY_ADVANTAGE_SOURCES = ("current", "old")


@register_transform("entropy_advantage")
@dataclasses.dataclass(frozen=True)
class EntropyAdvantage(Transform):
  """Adds the clipped entropy bonus to the advantages.

  Attributes:
    alpha: bonus scale (adv_alpha, 0.4).
    kappa: clip divisor; 1 in SIREN's baseline code, 2 in the paper.
    entropy_source: "current" (training forward, as the references) or "old" (rollout pass).
  """

  alpha: float = 0.4
  kappa: float = 1.0
  entropy_source: str = "current"

  def __post_init__(self) -> None:
    check_number("entropy_advantage", "alpha", self.alpha, low=0.0)
    check_number("entropy_advantage", "kappa", self.kappa, low=0.0, low_inclusive=False)
    check_choice("entropy_advantage", "entropy_source", self.entropy_source, ENTROPY_ADVANTAGE_SOURCES)

  def reads(self) -> frozenset[str]:
    return frozenset({ADVANTAGES})

  def writes(self) -> frozenset[str]:
    return frozenset({ADVANTAGES})

  def required_inputs(self) -> frozenset[str]:
    return frozenset({TokenBatch.entropy_field(self.entropy_source)})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del transform_state, key
    valid = batch.response_mask > 0
    entropy = batch.entropy_from(self.entropy_source)
    entropy = jax.lax.stop_gradient(entropy).astype(jnp.float32)
    bonus = jnp.minimum(self.alpha * entropy, jnp.abs(state.advantages) / self.kappa)  # [B, T]
    bonus = jnp.where(valid, bonus, 0.0)
    state = state.replace(advantages=state.advantages + bonus)
    return state.add_metrics("entropy_advantage", {"bonus_mean": group_stats.masked_mean(bonus, valid)})


# Entropy-based advantage as SIREN's baseline runs it (alpha 0.4, kappa 1: the defaults; Dr.GRPO).
register_method("entropy_advantage", objective={**DR_GRPO_AGGREGATION, "transforms": ("entropy_advantage",)},
                estimator="dr_grpo", source="Linn3a/siren fa59a8d dp_actor.py baseline_entropy_adv")
