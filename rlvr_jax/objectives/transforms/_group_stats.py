"""Masked statistics per normalization group, without Python loops over groups or tokens.

Rows carry a group id (their micro-batch, or 0 for the whole batch). Reductions go row-first over T and
then `jax.ops.segment_*` over rows, so the cost is O(B*T) plus O(B) segment work, and the result is a
[G] vector that is broadcast back to tokens by indexing. Top-k per group is a single lexicographic sort
(group, eligible first, score descending) followed by a rank-within-group, which handles a different k
per group and groups of different sizes in one pass.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def per_token(per_group: jax.Array, row_groups: jax.Array, num_tokens: int) -> jax.Array:
  """Broadcasts a [G] vector to [B, T] through the row group ids [B]."""
  return jnp.broadcast_to(per_group[row_groups][:, None], (row_groups.shape[0], num_tokens))


def group_count(valid: jax.Array, row_groups: jax.Array, num_groups: int) -> jax.Array:
  """[G] float32 number of valid tokens per group."""
  row_counts = jnp.sum(valid, axis=-1, dtype=jnp.float32)  # [B]
  return jax.ops.segment_sum(row_counts, row_groups, num_segments=num_groups)


def group_sum(values: jax.Array, valid: jax.Array, row_groups: jax.Array, num_groups: int) -> jax.Array:
  """[G] float32 sum of the valid values per group."""
  row_sums = jnp.sum(jnp.where(valid, values.astype(jnp.float32), 0.0), axis=-1)  # [B]
  return jax.ops.segment_sum(row_sums, row_groups, num_segments=num_groups)


def group_mean(values: jax.Array, valid: jax.Array, row_groups: jax.Array, num_groups: int) -> jax.Array:
  """[G] float32 mean of the valid values per group; 0 for a group without valid tokens."""
  count = group_count(valid, row_groups, num_groups)
  return group_sum(values, valid, row_groups, num_groups) / jnp.maximum(count, 1.0)


def group_min(values: jax.Array, valid: jax.Array, row_groups: jax.Array, num_groups: int) -> jax.Array:
  """[G] float32 minimum over valid values; +inf for a group without valid tokens."""
  row_min = jnp.min(jnp.where(valid, values.astype(jnp.float32), jnp.inf), axis=-1)  # [B]
  return jax.ops.segment_min(row_min, row_groups, num_segments=num_groups)


def group_max(values: jax.Array, valid: jax.Array, row_groups: jax.Array, num_groups: int) -> jax.Array:
  """[G] float32 maximum over valid values; -inf for a group without valid tokens."""
  row_max = jnp.max(jnp.where(valid, values.astype(jnp.float32), -jnp.inf), axis=-1)  # [B]
  return jax.ops.segment_max(row_max, row_groups, num_segments=num_groups)


def group_top_k(scores: jax.Array, eligible: jax.Array, row_groups: jax.Array, num_groups: int,
                k: jax.Array) -> jax.Array:
  """Marks the k[g] highest-scoring eligible tokens of each group g.

  At most the number of eligible tokens is selected, so k may exceed it. Ties keep the earlier token in
  row-major order (torch.topk leaves tie order unspecified; only exact ties can differ).

  Args:
    scores: [B, T] selection score; NaN counts as -inf.
    eligible: [B, T] bool, tokens that may be selected.
    row_groups: [B] int group id per row.
    num_groups: static number of groups G.
    k: [G] int, how many tokens to select per group.

  Returns:
    [B, T] bool selection.
  """
  num_rows, num_tokens = scores.shape
  flat_scores = jnp.nan_to_num(scores.astype(jnp.float32), nan=-jnp.inf).reshape(-1)  # [B*T]
  flat_eligible = eligible.reshape(-1)  # [B*T]
  flat_groups = jnp.repeat(row_groups, num_tokens)  # [B*T]
  # lexsort: the last key is the primary one -> by group, eligible tokens first, then descending score.
  order = jnp.lexsort((-flat_scores, ~flat_eligible, flat_groups))  # [B*T]
  group_sizes = jax.ops.segment_sum(jnp.ones_like(flat_groups), flat_groups, num_segments=num_groups)
  group_starts = jnp.cumsum(group_sizes) - group_sizes  # [G]
  sorted_groups = flat_groups[order]
  rank_sorted = jnp.arange(flat_groups.shape[0]) - group_starts[sorted_groups]
  rank = jnp.zeros_like(rank_sorted).at[order].set(rank_sorted)  # [B*T]
  selected = flat_eligible & (rank < k[flat_groups])
  return selected.reshape(num_rows, num_tokens)


def group_random_subset(key: jax.Array, eligible: jax.Array, row_groups: jax.Array, num_groups: int,
                        k: jax.Array) -> jax.Array:
  """Selects min(k[g], #eligible in g) eligible tokens of each group uniformly without replacement."""
  noise = jax.random.uniform(key, eligible.shape, jnp.float32)  # [B, T]
  return group_top_k(noise, eligible, row_groups, num_groups, k)


def masked_mean(values: jax.Array, valid: jax.Array) -> jax.Array:
  """Float32 mean over valid entries (0 when none); for metrics."""
  total = jnp.sum(jnp.where(valid, values.astype(jnp.float32), 0.0))
  return total / jnp.maximum(jnp.sum(valid, dtype=jnp.float32), 1.0)


def masked_extreme(values: jax.Array, valid: jax.Array, *, largest: bool) -> jax.Array:
  """Float32 max (or min) over valid entries, 0 when none; for metrics."""
  fill = -jnp.inf if largest else jnp.inf
  reduce = jnp.max if largest else jnp.min
  extreme = reduce(jnp.where(valid, values.astype(jnp.float32), fill))
  return jnp.where(jnp.any(valid), extreme, 0.0)
