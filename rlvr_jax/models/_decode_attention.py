"""Decode attention that reads only the filled part of the KV cache: one query token per row against the
cache, in blocks of slots, with an online softmax.

Why: a static cache has P + N - 1 slots, and XLA's masked attention reads every one of them at every
decode step, filled or not; at step t only P + t are filled. Here the loop runs over
ceil(filled / block) blocks, where `filled` is one past the highest slot written by any row of the batch,
so the bytes of KV read per step follow the filled length instead of the buffer length. (A ragged
per-row bound needs a kernel that skips work per row: Pallas' ragged paged attention on TPU; the XLA
loop here takes the batch's maximum.)

Exactness: blocks past a row's last real slot are fully masked. Their scores are a large finite
negative, so the running maximum does not move, the correction factor is exp(0) = 1 and the new
probabilities are exp(-huge) = 0 exactly: a row's result is bitwise the same however many blocks past its
end the loop runs. That is what lets the static and continuous samplers (different batch maxima) return
the same log-probs.

Einsum legend as in `rlvr_jax.models._modules` (B batch, S slots, N = K * G query heads, H head dim).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Masked scores: finite, so a fully masked block gives exp(masked - masked) = 1, never NaN; far below any
# real score, so exp(masked - real) underflows to exactly 0.
MASKED_SCORE = -0.7 * float(jnp.finfo(jnp.float32).max)


def slots_read(filled: jax.Array, slots: int, block: int) -> jax.Array:
  """Cache slots one row's decode attention reads when the batch has `filled` slots written: whole
  blocks up to `filled` (0 = every slot), never more than the cache."""
  block = min(block, slots) if block > 0 else slots
  return jnp.minimum((filled + block - 1) // block * block, slots)


def decode_slots_read(row_filled: jax.Array, slots: int, block: int, *, tile_rows: int) -> jax.Array:
  """Cache slots one decode step reads over all rows, rows b having `row_filled[b]` slots written: whole
  blocks up to the highest fill of each tile of `tile_rows` rows, for every row of the tile (1: each row
  by its own fill, the TPU kernel; the batch: this module's XLA loop; `rlvr_jax.models._ragged_decode`)."""
  tiles = row_filled.reshape(-1, tile_rows)  # [B / R, R]
  return jnp.sum(slots_read(jnp.max(tiles, axis=1), slots, block)) * tile_rows


def blocked_decode_attention(q: jax.Array, keys: jax.Array, values: jax.Array, kv_mask: jax.Array,
                             filled: jax.Array, block: int) -> jax.Array:
  """q [B, 1, N, H], keys / values [B, S, K, H], kv_mask [B, S] bool, filled [] int -> [B, 1, N, H].

  Reads slots [0, ceil(filled / block) * block) only. When S is not a multiple of `block`, the last
  block is read as the last `block` slots, with the slots an earlier block already covered masked, so
  every read is a full in-bounds slice of the cache as allocated (no padding). Scores and the softmax
  run in float32; the weighted sum of values is accumulated in float32 and cast to q's dtype at the end.
  """
  batch, _, num_heads, head_dim = q.shape
  slots, kv_heads = keys.shape[1], keys.shape[2]
  block = min(block, slots)
  groups = num_heads // kv_heads
  scale = 1.0 / jnp.sqrt(jnp.asarray(head_dim, jnp.float32))
  q = q.reshape(batch, kv_heads, groups, head_dim)  # [B, K, G, H]
  num_blocks = (jnp.minimum(filled, slots) + block - 1) // block

  def body(index, carry):
    running_max, denominator, acc = carry  # [B, K, G], [B, K, G], [B, K, G, H]
    first = index * block  # the first slot this block adds
    start = jnp.minimum(first, slots - block)  # the last block ends at the last slot
    k = jax.lax.dynamic_slice_in_dim(keys, start, block, axis=1).astype(q.dtype)  # [B, S', K, H]
    v = jax.lax.dynamic_slice_in_dim(values, start, block, axis=1).astype(q.dtype)
    new_slot = start + jnp.arange(block) >= first  # [S'] not read by an earlier block
    real = jax.lax.dynamic_slice_in_dim(kv_mask, start, block, axis=1) & new_slot[None, :]  # [B, S']
    scores = jnp.einsum("BKGH,BSKH->BKGS", q, k, preferred_element_type=jnp.float32) * scale
    scores = jnp.where(real[:, None, None, :], scores, MASKED_SCORE)
    new_max = jnp.maximum(running_max, jnp.max(scores, axis=-1))
    correction = jnp.exp(running_max - new_max)
    probs = jnp.exp(scores - new_max[..., None])  # [B, K, G, S']
    denominator = denominator * correction + jnp.sum(probs, axis=-1)
    acc = acc * correction[..., None] + jnp.einsum("BKGS,BSKH->BKGH", probs, v.astype(jnp.float32))
    return new_max, denominator, acc

  init = (jnp.full((batch, kv_heads, groups), MASKED_SCORE, jnp.float32),
          jnp.zeros((batch, kv_heads, groups), jnp.float32),
          jnp.zeros((batch, kv_heads, groups, head_dim), jnp.float32))
  _, denominator, acc = jax.lax.fori_loop(0, num_blocks, body, init)
  out = acc / denominator[..., None]  # a row with no real slot at all gets its values' mean, not NaN
  return out.reshape(batch, 1, num_heads, head_dim).astype(q.dtype)
