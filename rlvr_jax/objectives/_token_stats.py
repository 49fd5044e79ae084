"""Per-token statistics from the LM head: log-prob of the sampled token, entropy, SIREN top-p entropy,
and sum_v pi(v)^2 (the path-variance term of verl's optimal token baseline).

These are the only objective inputs that need the full vocabulary. A float32 [B*T, V] logits tensor for
Qwen (V = 151936) costs 0.61 MB per token (~20 GB at 8 x 4096 tokens), so `token_statistics` never builds
it: it computes logits chunk by chunk from the final hidden states and the LM head, and each chunk is
rematerialized in the backward pass, so both directions hold one [chunk, V] block at a time.
Everything is computed in float32 from possibly-bfloat16 inputs (algorithms.md §0, §1.1, §6.1).
"""

from __future__ import annotations

import numbers

import flax.struct
import jax
import jax.numpy as jnp

# SIREN's renormalization epsilons (dp_actor `efficient_top_p_sampling`), kept for value parity.
_TOPP_EPS = 1e-12


@flax.struct.dataclass
class TokenStats:
  """Statistics of the next-token distribution at each response position."""

  logp: jax.Array  # [B, T] log-prob of the target token
  entropy: jax.Array | None  # [B, T] full-vocabulary entropy (nats)
  topp_entropy: jax.Array | None  # [B, T] SIREN top-p entropy (gradient only through kept logits)
  sum_pi_squared: jax.Array | None = None  # [B, T] sum_v pi(v)^2 (optimal token baseline input)


def _entropy(logits: jax.Array, lse: jax.Array) -> jax.Array:
  """logsumexp(z) - sum p z: avoids log(0). -inf logits (masked vocabulary) contribute exactly 0."""
  probs = jnp.exp(logits - lse[..., None])
  # Replace -inf before the product: 0 * -inf is NaN, and so would be its cotangent.
  finite_logits = jnp.where(jnp.isneginf(logits), 0.0, logits)
  return lse - jnp.sum(probs * finite_logits, axis=-1)


def entropy_from_logits(logits: jax.Array) -> jax.Array:
  """Shannon entropy of softmax(logits) in float32, [..., V] -> [...] (verl `entropy_from_logits`)."""
  logits = logits.astype(jnp.float32)
  return _entropy(logits, jax.nn.logsumexp(logits, axis=-1))


def validate_topp(*, top_p: float, top_k: int) -> None:
  """Raises ValueError naming the bad nucleus hyperparameter; config validation calls this too."""
  if not isinstance(top_p, numbers.Real) or not 0.0 < top_p <= 1.0:
    raise ValueError(f"top-p entropy: top_p must be in (0, 1], got {top_p!r}")
  if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k <= 0:
    raise ValueError(f"top-p entropy: top_k must be a positive int, got {top_k!r}")


def _topp_entropy(logits: jax.Array, lse: jax.Array, *, top_p: float, top_k: int) -> jax.Array:
  # The full-softmax normalizer is a constant: q renormalizes over the kept set, so it cancels (up to
  # the 1e-12 epsilons) and the gradient reaches only the kept logits, as in SIREN's torch code.
  top_logits, _ = jax.lax.top_k(logits, min(top_k, logits.shape[-1]))  # [..., K] descending
  probs = jnp.exp(top_logits - jax.lax.stop_gradient(lse)[..., None])  # [..., K]
  # Strict `<`: the token at which the cumulative mass reaches top_p is excluded (SIREN's searchsorted
  # cut-off), so a top-1 probability >= top_p keeps nothing and the entropy is 0.
  keep = jnp.cumsum(jax.lax.stop_gradient(probs), axis=-1) < top_p  # [..., K]
  kept = jnp.where(keep, probs, 0.0)
  q = kept / (jnp.sum(kept, axis=-1, keepdims=True) + _TOPP_EPS)
  return -jnp.sum(q * jnp.log(q + _TOPP_EPS), axis=-1)


def topp_entropy_from_logits(logits: jax.Array, *, top_p: float, top_k: int) -> jax.Array:
  """SIREN's nucleus entropy, [..., V] -> [...] float32 (algorithms.md §6.1, exact code semantics).

  Kept set = the longest prefix of the top-`top_k` tokens (sorted by logit) whose cumulative full-softmax
  probability stays strictly below `top_p`; if the top-K mass is below top_p all K are kept. The kept
  probabilities are renormalized with SIREN's 1e-12 epsilons, so an empty or single-token set gives 0.
  The kept set is a constant; gradients flow only into the kept logits.
  """
  validate_topp(top_p=top_p, top_k=top_k)
  logits = logits.astype(jnp.float32)
  return _topp_entropy(logits, jax.nn.logsumexp(logits, axis=-1), top_p=top_p, top_k=top_k)


def sum_pi_squared_from_logits(logits: jax.Array, lse: jax.Array) -> jax.Array:
  """sum_v softmax(z)_v^2 = exp(logsumexp(2 z) - 2 logsumexp(z)): the collision probability, in log space."""
  return jnp.exp(jax.nn.logsumexp(2.0 * logits, axis=-1) - 2.0 * lse)


def statistics_from_logits(logits: jax.Array, targets: jax.Array, *, with_entropy: bool = True,
                           top_p: float | None = None, top_k: int = 10000,
                           with_sum_pi_squared: bool = False) -> TokenStats:
  """TokenStats from materialized logits [..., V] (temperature already applied) and targets [...].

  The per-chunk kernel of `token_statistics`, and the direct path when logits are small. Targets
  outside [0, V) (e.g. a -100 ignore index on padding) are clipped into range, so they give a finite
  value that the response mask removes rather than a NaN that would poison masked reductions.
  """
  if top_p is not None:
    validate_topp(top_p=top_p, top_k=top_k)
  logits = logits.astype(jnp.float32)
  lse = jax.nn.logsumexp(logits, axis=-1)  # [...]
  target_logits = jnp.take_along_axis(logits, targets[..., None].astype(jnp.int32), axis=-1,
                                      mode="clip")[..., 0]
  return TokenStats(
      logp=target_logits - lse,
      entropy=_entropy(logits, lse) if with_entropy else None,
      topp_entropy=None if top_p is None else _topp_entropy(logits, lse, top_p=top_p, top_k=top_k),
      sum_pi_squared=sum_pi_squared_from_logits(logits, lse) if with_sum_pi_squared else None,
  )


def _validate(hidden: jax.Array, unembed: jax.Array, targets: jax.Array, *, temperature: float,
              chunk_size: int, top_p: float | None, top_k: int) -> None:
  if hidden.ndim != 3:
    raise ValueError(f"token_statistics: hidden must be [B, T, D], got shape {hidden.shape}")
  if unembed.ndim != 2 or unembed.shape[1] != hidden.shape[2]:
    raise ValueError(f"token_statistics: unembed must be [V, D] with D={hidden.shape[2]}, got {unembed.shape}")
  if targets.shape != hidden.shape[:2]:
    raise ValueError(f"token_statistics: targets must be [B, T]={hidden.shape[:2]}, got {targets.shape}")
  if not jnp.issubdtype(targets.dtype, jnp.integer):
    raise ValueError(f"token_statistics: targets must be integer token ids, got dtype {targets.dtype}")
  if isinstance(temperature, numbers.Real) and not temperature > 0:
    raise ValueError(f"token_statistics: temperature must be > 0, got {temperature!r}")
  if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size <= 0:
    raise ValueError(f"token_statistics: chunk_size must be a positive int, got {chunk_size!r}")
  if top_p is not None:
    validate_topp(top_p=top_p, top_k=top_k)


def token_statistics(hidden: jax.Array, unembed: jax.Array, targets: jax.Array, *, temperature: float = 1.0,
                     chunk_size: int = 512, with_entropy: bool = True, top_p: float | None = None,
                     top_k: int = 10000, with_sum_pi_squared: bool = False) -> TokenStats:
  """Log-prob / entropy / top-p entropy of every position, without a [B, T, V] float32 tensor.

  Logits = hidden @ unembed.T / temperature, accumulated in float32, `chunk_size` tokens at a time.
  Each chunk is `jax.checkpoint`ed, so the backward pass recomputes its logits instead of keeping all
  chunks' [chunk, V] residuals: peak memory is O(chunk * V) in both directions, and the gradients with
  respect to `hidden` and `unembed` are exact.

  Chunk c takes the flattened tokens c, c + num_chunks, c + 2 * num_chunks, ... rather than a
  contiguous run: when the batch axis is sharded, every chunk then spans all shards and each device
  works on its own rows at every step, instead of the devices taking turns. With B*T a multiple of
  chunk_size and chunk_size a multiple of the shard count, the forward needs no communication at all.

  Args:
    hidden: [B, T, D] final hidden states (after the final norm), any float dtype.
    unembed: [V, D] LM head (or tied embedding), HF layout.
    targets: [B, T] int token whose log-prob is wanted (position t predicts targets[:, t]).
    temperature: rollout temperature; divides the logits before any statistic (verl convention).
    chunk_size: tokens per chunk; the last chunk is padded.
    with_entropy: also compute the full-vocabulary entropy.
    top_p, top_k: compute SIREN's top-p entropy with these (None: skip).
    with_sum_pi_squared: also compute sum_v pi(v)^2 (the `optimal_token_baseline` estimator's input).

  Returns:
    TokenStats of [B, T] float32 arrays (None for statistics not requested).
  """
  _validate(hidden, unembed, targets, temperature=temperature, chunk_size=chunk_size, top_p=top_p,
            top_k=top_k)
  batch, seq, dim = hidden.shape
  num_tokens = batch * seq
  chunk = min(chunk_size, num_tokens)
  num_chunks = -(-num_tokens // chunk)
  pad = num_chunks * chunk - num_tokens

  flat_hidden = jnp.pad(hidden.reshape(num_tokens, dim), ((0, pad), (0, 0)))  # [N', D]
  flat_targets = jnp.pad(targets.reshape(num_tokens), (0, pad))  # [N']
  # Strided chunks: chunk c holds flat tokens {c, c + num_chunks, ...}.
  hidden_chunks = flat_hidden.reshape(chunk, num_chunks, dim).swapaxes(0, 1)  # [num_chunks, chunk, D]
  target_chunks = flat_targets.reshape(chunk, num_chunks).swapaxes(0, 1)  # [num_chunks, chunk]

  def chunk_statistics(chunk_hidden: jax.Array, chunk_targets: jax.Array) -> TokenStats:
    logits = jnp.einsum("cd,vd->cv", chunk_hidden, unembed, preferred_element_type=jnp.float32)
    return statistics_from_logits(logits / temperature, chunk_targets, with_entropy=with_entropy,
                                  top_p=top_p, top_k=top_k, with_sum_pi_squared=with_sum_pi_squared)

  chunk_statistics = jax.checkpoint(chunk_statistics, prevent_cse=False)
  per_chunk = jax.lax.map(lambda xs: chunk_statistics(*xs), (hidden_chunks, target_chunks))

  def unchunk(x: jax.Array) -> jax.Array:  # [num_chunks, chunk] -> [B, T]
    return x.swapaxes(0, 1).reshape(-1)[:num_tokens].reshape(batch, seq)

  return jax.tree.map(unchunk, per_chunk)
