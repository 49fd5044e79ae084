"""SIREN's `siren_kl` variant: the KL loss term restricted to the peak-entropy positions.

Instead of an entropy regularizer, the KL-to-reference term is applied only where the current policy is
most uncertain: the tokens of each response whose full entropy lies strictly above the row's
`mask_ratio` quantile (SIREN's peak-entropy mask, `peak_entropy_mask`). Low-entropy tokens are free to
move; the forking positions are held near the reference.

Reference: Linn3a/siren @ 5cb224de, `verl/verl/workers/actor/dp_actor.py::update_policy`: with
`experiment_type == "siren_kl"` the KL loss becomes agg_loss(kl, mask_by_quantile(full_entropy,
response_mask, 1, mask_ratio), loss_agg_mode), where full_entropy is the current policy's full-vocabulary
entropy (no gradient) from the training forward. That branch runs with `no_entropy_loss` (the actor
rejects siren_kl as an entropy-loss experiment), so there is no entropy term, and it needs
use_kl_loss. No released script uses it; the preset takes siren.sh's settings and verl's KL defaults
(low_var_kl, 0.001), UNCONFIRMED.
"""

from __future__ import annotations

import dataclasses

import jax

from rlvr_jax.objectives._batch import ObjectiveState, TokenBatch
from rlvr_jax.objectives._methods import DR_GRPO_AGGREGATION, register_method
from rlvr_jax.objectives.transforms import _group_stats as group_stats
from rlvr_jax.objectives.transforms._registry import Transform, register_transform
from rlvr_jax.objectives.transforms.siren import peak_entropy_mask
from rlvr_jax.objectives._validation import check_number


@register_transform("siren_kl")
@dataclasses.dataclass(frozen=True)
class SirenKL(Transform):
  """Aggregates the KL loss term over the peak-entropy tokens only.

  Attributes:
    mask_ratio: per-row quantile level of the peak-entropy mask (SIREN's mask_ratio, 0.8).
  """

  mask_ratio: float = 0.8

  needs_kl_loss = True

  def __post_init__(self) -> None:
    check_number("siren_kl", "mask_ratio", self.mask_ratio, low=0.0, high=1.0)

  def required_inputs(self) -> frozenset[str]:
    return frozenset({"entropy"})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del transform_state, key
    valid = batch.response_mask > 0  # [B, T]
    selected = peak_entropy_mask(batch.entropy, valid, self.mask_ratio)  # [B, T], stop-gradient inside
    state = state.restrict_kl_mask(selected)
    return state.add_metrics("siren_kl", {"selected_frac": group_stats.masked_mean(selected, valid)})


register_method("siren_kl", objective={**DR_GRPO_AGGREGATION, "transforms": ("siren_kl",), "kl": {}},
                estimator="dr_grpo", source="Linn3a/siren 5cb224de dp_actor.py experiment_type siren_kl "
                                            "(no script; siren.sh settings, verl KL defaults: UNCONFIRMED)")
