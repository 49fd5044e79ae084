"""XLA softmax attention for any query count, with its backward pass written out.

The math of `jax.nn.dot_product_attention`'s XLA implementation (scores in float32 scaled by 1/sqrt(H),
masked scores set to float32's lowest value so a fully masked query row comes out uniform instead of NaN,
probabilities cast to the value dtype), laid out for XLA:CPU, where this path carries training:

- heads-major: each key/value head's G query heads are stacked into one [G * T] block of query rows, so
  the scores are [B * K] plain batched matmuls ("bmh,bsh->bms"); the library function's layout made XLA
  copy the scores between layouts in the backward pass. (Keeping B and K as two batch dimensions computes
  the same values with other float32 rounding on XLA:CPU; the merged form is the one the documented runs
  used. Rows split over ('data', 'fsdp') and K over 'tensor' merge into one split batch dimension.)
- a custom VJP that writes the softmax backward as flash attention does,
  d_scores = p * (d_p - rowsum(d_out * out)): the row sums run over the head dim ([b, m, h]) instead of
  over the [b, m, s] scores, and autodiff's separate passes over the scores are gone.
- the key / value gradients contract the query rows m; on CPU they run as plain batched matmuls on a
  materialized slots-major copy ([b, s, m]) of the probabilities / score gradients
  (`_contract_query_rows`).

On the tiny preset's update step (bench/train_step.py) the attention backward took ~1.6x less time than
through `jax.nn.dot_product_attention`. On TPU and GPU training runs the fused kernels (splash, cuDNN)
instead; this path still serves the XLA option everywhere.

Einsum legend of this file: b = B * K (batch x key/value heads), m = G * T (the query rows of one
key/value head), s = S (key/value slots), h = H (head dim).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

_MASKED = float(jnp.finfo(jnp.float32).min)


def grouped_attention(q: jax.Array, keys: jax.Array, values: jax.Array, mask: jax.Array) -> jax.Array:
  """q [B, T, N, H], keys / values [B, S, K, H] (N a multiple of K), mask broadcastable to
  [B, K, G, T, S] bool (True = attend) -> [B, T, N, H]."""
  batch, seq_len, num_heads, head_dim = q.shape
  slots, kv_heads = keys.shape[1], keys.shape[2]
  groups = num_heads // kv_heads
  rows = batch * kv_heads
  q_rows = q.reshape(batch, seq_len, kv_heads, groups, head_dim).transpose(0, 2, 3, 1, 4)  # [B, K, G, T, H]
  q_rows = q_rows.reshape(rows, groups * seq_len, head_dim)  # [b, m, h]
  k_rows = keys.transpose(0, 2, 1, 3).reshape(rows, slots, head_dim)  # [b, s, h]
  v_rows = values.transpose(0, 2, 1, 3).reshape(rows, slots, head_dim)
  mask = jnp.broadcast_to(mask, (batch, kv_heads, groups, seq_len, slots)).reshape(rows, groups * seq_len, slots)
  out = _softmax_attention(q_rows, k_rows, v_rows, mask, 1.0 / math.sqrt(head_dim))  # [b, m, h]
  out = out.reshape(batch, kv_heads, groups, seq_len, head_dim).transpose(0, 3, 1, 2, 4)  # [B, T, K, G, H]
  return out.reshape(batch, seq_len, num_heads, head_dim)


def _probabilities(q: jax.Array, k: jax.Array, mask: jax.Array, scale: float) -> jax.Array:
  """float32 softmax probabilities [b, m, s] of the masked, scaled scores."""
  scores = jnp.einsum("bmh,bsh->bms", q, k, preferred_element_type=jnp.float32) * scale
  return jax.nn.softmax(jnp.where(mask, scores, _MASKED), axis=-1)


def _attend(probs: jax.Array, v: jax.Array) -> jax.Array:
  return jnp.einsum("bms,bsh->bmh", probs.astype(v.dtype), v)


def _softmax_attention_reference(q, k, v, mask, scale):
  return _attend(_probabilities(q, k, mask, scale), v)


_softmax_attention = jax.custom_vjp(_softmax_attention_reference, nondiff_argnums=(4,))


def _forward(q, k, v, mask, scale):
  probs = _probabilities(q, k, mask, scale)
  out = _attend(probs, v)
  return out, (q, k, v, mask, probs, out)


def _backward(scale, residuals, d_out):
  """Gradients of q, k, v (the mask gets none). Masked scores had their gradient cut by the `where`, so
  d_scores is zeroed there; a fully masked row's uniform probabilities still reach d_v, as in autodiff."""
  q, k, v, mask, probs, out = residuals
  row_dot = jnp.sum(d_out.astype(jnp.float32) * out.astype(jnp.float32), axis=-1, keepdims=True)  # [b, m, 1]
  d_probs = jnp.einsum("bmh,bsh->bms", d_out, v, preferred_element_type=jnp.float32)
  d_scores = (jnp.where(mask, probs * (d_probs - row_dot), 0.0) * scale).astype(q.dtype)  # [b, m, s]
  d_q = jnp.einsum("bms,bsh->bmh", d_scores, k)
  d_k = _contract_query_rows(d_scores, q)
  d_v = _contract_query_rows(probs.astype(q.dtype), d_out)
  return d_q, d_k, d_v, None


def _contract_query_rows(x: jax.Array, y: jax.Array) -> jax.Array:
  """"bms,bmh->bsh": the key / value gradients, which contract the query rows m.

  XLA:CPU runs this einsum as a strided contraction outside XNNPACK, on one thread; on CPU it runs on a
  materialized slots-major copy of x ([b, s, m]) as a plain batched matmul instead (1.82 vs 1.11 ms, copy
  included, two cores, the tiny preset's shape), the barrier keeping XLA from folding the transpose back
  into the dot. TPU and GPU compilers handle the einsum as written, and there the copy would only add
  memory (a 7B block at 4,096 tokens: 5.60 -> 6.53 GiB of temporaries), so the choice is made per
  platform at lowering (`jax.lax.platform_dependent`), which also holds when compiling for a TPU from a
  CPU host."""
  def strided(x, y):
    return jnp.einsum("bms,bmh->bsh", x, y)

  def slots_major(x, y):
    return jnp.einsum("bsm,bmh->bsh", jax.lax.optimization_barrier(jnp.swapaxes(x, 1, 2)), y)

  return jax.lax.platform_dependent(x, y, cpu=slots_major, default=strided)


_softmax_attention.defvjp(_forward, _backward)
