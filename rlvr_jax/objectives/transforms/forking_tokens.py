"""Forking-token mask (Wang et al., "Beyond the 80/20 Rule", arXiv 2506.01939).

A minority of high-entropy tokens are the "forks" where a reasoning path is decided; restricting the
policy gradient to them (the top 20% by entropy) matches or beats full-token training, and leaves the
low-entropy majority, whose updates mostly sharpen already-confident tokens, untouched. The mask
removes the other tokens from the aggregation, numerator and denominator alike (the reference passes
m * M to agg_loss), so token-mean averages over the selected tokens only.

Selection follows `get_global_entropy_top_mask`: k = max(1, int(n * top_ratio + 0.9999)) of the n valid
tokens of each group, by the current policy's entropy (value only). SIREN's re-implementation of this
baseline thresholds per row at the (1 - top_ratio) quantile instead ("row_quantile").
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rlvr_jax.objectives._batch import NORM_SCOPES, ObjectiveState, TokenBatch
from rlvr_jax.objectives._methods import DAPO_DUAL_CLIP, register_method
from rlvr_jax.objectives.transforms import _group_stats as group_stats
from rlvr_jax.objectives.transforms._registry import Transform, register_transform
from rlvr_jax.objectives.transforms.siren import peak_entropy_mask
from rlvr_jax.objectives._validation import check_choice, check_number

FORK_SELECTIONS = ("top_k", "row_quantile")
FORK_ENTROPY_SOURCES = ("current", "old")

# `int(n * rho + 0.9999)` in the reference: a ceiling that tolerates float noise just above an integer.
_CEIL_SLACK = 0.9999


def forking_token_mask(entropy: jax.Array, valid: jax.Array, row_groups: jax.Array, num_groups: int,
                       top_ratio: float) -> jax.Array:
  """[B, T] bool: the top max(1, int(n * top_ratio + 0.9999)) valid tokens by entropy per group."""
  counts = group_stats.group_count(valid, row_groups, num_groups)  # [G]
  k = jnp.maximum(jnp.floor(counts * top_ratio + _CEIL_SLACK), 1.0).astype(jnp.int32)
  return group_stats.group_top_k(jax.lax.stop_gradient(entropy), valid, row_groups, num_groups, k)


@register_transform("fork_tokens")
@dataclasses.dataclass(frozen=True)
class ForkingTokens(Transform):
  """Keeps only the highest-entropy tokens in the policy loss.

  Attributes:
    top_ratio: fraction of valid tokens kept (entropy_top_ratio, 0.2).
    selection: "top_k" (Wang et al., per group) or "row_quantile" (SIREN's baseline, per response,
      strictly above the 1 - top_ratio quantile).
    entropy_source: "current" (training forward, as the reference) or "old" (rollout pass; cheaper).
    norm_scope: "mini_batch" or "micro_batch" (reference: per micro-batch); "top_k" only.
  """

  top_ratio: float = 0.2
  selection: str = "top_k"
  entropy_source: str = "current"
  norm_scope: str = "mini_batch"

  def __post_init__(self) -> None:
    check_number("fork_tokens", "top_ratio", self.top_ratio, low=0.0, high=1.0, low_inclusive=False)
    check_choice("fork_tokens", "selection", self.selection, FORK_SELECTIONS)
    check_choice("fork_tokens", "entropy_source", self.entropy_source, FORK_ENTROPY_SOURCES)
    check_choice("fork_tokens", "norm_scope", self.norm_scope, NORM_SCOPES)

  def required_inputs(self) -> frozenset[str]:
    return frozenset({TokenBatch.entropy_field(self.entropy_source)})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del transform_state, key
    valid = batch.response_mask > 0
    entropy = batch.entropy_from(self.entropy_source)
    if self.selection == "top_k":
      row_groups, num_groups = batch.group_ids(self.norm_scope)
      keep = forking_token_mask(entropy, valid, row_groups, num_groups, self.top_ratio)
    else:
      keep = peak_entropy_mask(entropy, valid, 1.0 - self.top_ratio)
    state = state.restrict_mask(keep)
    return state.add_metrics("fork_tokens", {"selected_frac": group_stats.masked_mean(keep, valid)})


# Beyond the 80/20 rule: DAPO clip + top-20% entropy tokens (the ForkingTokens default).
register_method("fork_tokens",
                objective={"dual_clip_c": DAPO_DUAL_CLIP, "transforms": ("clip_higher", "fork_tokens")},
                source="Shenzhi-Wang/Beyond-the-80-20-Rule-RLVR 6f5dda6 run_only_top20_high_entropy_tokens_dapo")
