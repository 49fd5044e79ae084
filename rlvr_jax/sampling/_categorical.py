"""One draw per row from softmax(scaled logits), by a two-level inverse CDF: two uniforms per row.

Why not `jax.random.categorical`: it takes the argmax of logits plus Gumbel noise, i.e. V random numbers
per row and step. At a Qwen vocabulary (V = 151,936) that is 19 M threefry hashes per decode step for 128
rows, and on CPU JAX lowers threefry as a rolled 5-iteration loop that writes two u32[R, V] arrays per
iteration: measured at the ~0.5B shape with 128 rows, 0.44 s of a decode step went to the noise (more
than the LM head's matmul), and the continuous sampler paid it again for every admission's token 0.
Inverse-CDF sampling (torch.multinomial's method, FlashInfer's `sampling_from_probs`) needs one uniform
per row instead, and a pass over the logits that the log-softmax needs anyway.

Two levels, so float32 cumulative sums stay short: the vocabulary is cut into blocks of `BLOCK` tokens;
the first uniform picks a block by the cumulative block masses, the second a token by the cumulative
masses inside that block. P(token i) = mass(block) / total x p_i / mass(block) = p_i / total, exactly up
to float32 rounding of the masses (relative ~1e-7 x the terms summed: at most `BLOCK` tokens or
V / `BLOCK` blocks). A zero-mass token or block (a -inf logit: truncated by top-k, top-p or min-p) is
never drawn (`_pick`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Tokens per block: ~sqrt(V) at Qwen's vocabulary, so neither cumulative sum is long.
BLOCK = 512


def _pick(masses: jax.Array, uniform: jax.Array) -> jax.Array:
  """masses [R, W] >= 0 (some positive per row), uniform [R] in [0, 1) -> [R] int32: index i with
  probability masses[i] / sum.

  The prefix sums are a product with a triangle of ones (float32 throughout, HIGHEST precision so a TPU
  does not round the masses to bfloat16): one dot compiles faster than a cumulative sum, which XLA:CPU
  rewrites into a tree of reduce-windows.
  """
  width = masses.shape[-1]
  triangle = jnp.triu(jnp.ones((width, width), masses.dtype))  # [W, W]: column i sums masses [0, i]
  cumulative = jnp.matmul(masses, triangle, precision=jax.lax.Precision.HIGHEST)  # [R, W]
  return first_above(cumulative, masses > 0, uniform * cumulative[:, -1])


def first_above(cumulative: jax.Array, has_mass: jax.Array, target: jax.Array) -> jax.Array:
  """cumulative [R, W], has_mass [R, W] bool, target [R] -> [R] int32: the first index with mass whose
  prefix sum exceeds the target, else the last index with mass.

  "With mass" matters at the rounding level: prefix sums that are not one sequential sum (a tree, a dot)
  need not repeat their predecessor exactly where a token adds nothing, and a zero-mass token (excluded by
  top-k, top-p or min-p) must never be drawn. The fallback covers u x sum rounding onto the last sums.
  One max-reduction ranks both cases: an index above the target scores 2W - i (the first one wins), any
  other index with mass scores i + 1 (the last one wins), an index without mass 0.
  """
  width = has_mass.shape[-1]
  index = jnp.arange(width, dtype=jnp.int32)  # [W]
  above = cumulative > target[:, None]  # [R, W]
  score = jnp.where(has_mass, jnp.where(above, 2 * width - index, index + 1), 0)  # [R, W]
  best = jnp.max(score, axis=-1)  # [R]
  return jnp.where(best > width, 2 * width - best, best - 1).astype(jnp.int32)


def sample_categorical(keys: jax.Array, scaled: jax.Array) -> tuple[jax.Array, jax.Array]:
  """keys [R] (one PRNG stream per row), scaled [R, W] float32 logits (-inf = excluded) ->
  (choice [R] int32, log-prob of the choice under softmax(scaled) [R] float32).

  Row r reads only keys[r] and scaled[r], so its draw does not depend on the other rows of the batch.
  """
  uniforms = jax.vmap(lambda key: jax.random.uniform(key, (2,), jnp.float32))(keys)  # [R, 2]
  return inverse_cdf(scaled, uniforms)


def inverse_cdf(scaled: jax.Array, uniforms: jax.Array) -> tuple[jax.Array, jax.Array]:
  """scaled [R, W] float32 logits, uniforms [R, 2] in [0, 1) (block, then token) -> (choice [R] int32,
  log-prob of the choice [R] float32)."""
  rows, width = scaled.shape
  size = min(BLOCK, width)  # tokens per block
  blocks = -(-width // size)
  top = jnp.max(scaled, axis=-1, keepdims=True)  # [R, 1], finite: every row keeps its top token
  padded = jnp.pad(scaled - top, ((0, 0), (0, blocks * size - width)), constant_values=-jnp.inf)
  padded = padded.reshape(rows, blocks, size)  # [R, nb, bs]; the padding has no mass
  block_mass = jnp.sum(jnp.exp(padded), axis=-1)  # [R, nb]
  block = _pick(block_mass, uniforms[:, 0])  # [R]
  in_block = jnp.take_along_axis(padded, block[:, None, None], axis=1)[:, 0]  # [R, bs]
  offset = _pick(jnp.exp(in_block), uniforms[:, 1])  # [R]
  chosen = jnp.take_along_axis(in_block, offset[:, None], axis=-1)[:, 0]  # [R] log-mass relative to the top
  logp = chosen - jnp.log(jnp.sum(block_mass, axis=-1))
  return (block * size + offset).astype(jnp.int32), logp
