"""Entropy bonus on the forking tokens only: -coef * agg(H * 1[fork], M).

An ablation between two baselines this library already has: the plain entropy bonus raises the entropy of
every position, most of which are near-deterministic tokens whose entropy carries no exploration (and
whose bonus is what makes a fixed coefficient explode); the 80/20 paper (Wang et al., arXiv 2506.01939)
finds the reasoning path decided at the top ~20% highest-entropy "forking" tokens. This transform keeps
the policy loss on every token and adds the bonus at the forks alone, selected per group exactly as
`fork_tokens` selects them (value only, no gradient through the selection). Non-fork tokens contribute
zero to the aggregate but still count in its denominator, so at top_ratio = 1 it is `entropy_bonus`.
"""

from __future__ import annotations

import dataclasses

import jax

from rlvr_jax.objectives._batch import NORM_SCOPES, ObjectiveState, TokenBatch
from rlvr_jax.objectives._methods import register_method
from rlvr_jax.objectives.transforms import _group_stats as group_stats
from rlvr_jax.objectives.transforms.forking_tokens import forking_token_mask
from rlvr_jax.objectives.transforms._registry import Transform, register_transform
from rlvr_jax.objectives._validation import check_choice, check_number


@register_transform("fork_entropy_bonus")
@dataclasses.dataclass(frozen=True)
class ForkEntropyBonus(Transform):
  """Adds -coef * agg(H * fork_mask, response mask) to the loss.

  Attributes:
    coef: entropy coefficient (the entropy_bonus default, 0.005).
    top_ratio: fraction of each group's valid tokens that are forks (the 80/20 paper's 0.2).
    norm_scope: the groups the forks are ranked in, "mini_batch" or "micro_batch".
  """

  coef: float = 0.005
  top_ratio: float = 0.2
  norm_scope: str = "mini_batch"

  def __post_init__(self) -> None:
    check_number("fork_entropy_bonus", "coef", self.coef, low=0.0)
    check_number("fork_entropy_bonus", "top_ratio", self.top_ratio, low=0.0, high=1.0, low_inclusive=False)
    check_choice("fork_entropy_bonus", "norm_scope", self.norm_scope, NORM_SCOPES)

  def required_inputs(self) -> frozenset[str]:
    return frozenset({"entropy"})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del transform_state, key
    valid = batch.response_mask > 0
    row_groups, num_groups = batch.group_ids(self.norm_scope)
    forks = forking_token_mask(batch.entropy, valid, row_groups, num_groups, self.top_ratio)  # [B, T]
    fork_entropy = state.aggregation(batch.entropy * forks, batch.response_mask,
                                     global_tokens=batch.global_tokens, global_sequences=batch.global_sequences)
    state = state.add_loss("fork_entropy_bonus", -self.coef * fork_entropy)
    return state.add_metrics("fork_entropy_bonus", {"entropy": jax.lax.stop_gradient(fork_entropy),
                                                    "fork_frac": group_stats.masked_mean(forks, valid)})


register_method("fork_entropy_bonus", objective={"transforms": ("fork_entropy_bonus",)},
                source="this library: entropy_bonus restricted to the 80/20 forking tokens (arXiv 2506.01939)")
