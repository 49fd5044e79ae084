"""Next-token selection from one decode step's logits, and the log-probs RL needs from that step.

A strategy is a tiny frozen dataclass holding only what changes the compiled program (greedy or not, the
static `k` of `lax.top_k`, whether a nucleus sort is needed). The numbers that merely change values
(temperature, top-p, min-p) travel as traced float32 scalars in `SamplingKnobs`, so sweeping them never
recompiles. Every strategy returns the token *and* its log-prob under the distribution it was actually
drawn from; the behaviour log-prob the trainer recomputes is `token_log_probs` (before truncation).

Truncation order (as in transformers' warpers and vLLM): temperature, then top-k, then top-p on the
top-k-renormalized distribution, then min-p.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Union

import jax
import jax.numpy as jnp
from flax import struct

from rlvr_jax.sampling._categorical import sample_categorical


@struct.dataclass
class SamplingKnobs:
  """Per-call sampling values, traced (changing them reuses the compiled sampler).

  Attributes:
    temperature: [] float32, > 0 for sampling strategies (ignored by `Greedy`).
    top_p: [] float32 in (0, 1]; only read when the strategy was built with `nucleus=True`.
    min_p: [] float32 in [0, 1); 0 keeps every token.
  """

  temperature: jax.Array
  top_p: jax.Array
  min_p: jax.Array

  @classmethod
  def create(cls, temperature: float, top_p: float, min_p: float) -> "SamplingKnobs":
    as_f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return cls(temperature=as_f32(temperature), top_p=as_f32(top_p), min_p=as_f32(min_p))


@dataclasses.dataclass(frozen=True)
class Greedy:
  """argmax decoding (temperature 0). Its sampling distribution is a point mass: sampling log-prob 0."""

  def __call__(self, logits: jax.Array, knobs: SamplingKnobs, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
    del knobs, keys
    tokens = jnp.argmax(logits, axis=-1).astype(jnp.int32)  # [B]
    return tokens, jnp.zeros(tokens.shape, jnp.float32)


@dataclasses.dataclass(frozen=True)
class Sample:
  """Ancestral sampling at a temperature, optionally truncated by top-k, top-p (nucleus) and min-p.

  Attributes:
    top_k: keep the k most likely tokens (0 = no top-k). Static: it is the shape of `lax.top_k`.
    nucleus: apply top-p. Static because top-p without top-k needs a [B, V] sort every step, which is
      skipped entirely when top_p == 1.
  """

  top_k: int = 0
  nucleus: bool = False

  def __call__(self, logits: jax.Array, knobs: SamplingKnobs, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
    """logits [B, V] float32, keys [B] (one PRNG stream per row) -> (tokens [B], sampling log-probs [B])."""
    scaled = logits.astype(jnp.float32) / knobs.temperature  # [B, V]
    candidates = None
    if self.top_k:
      # Sorted descending, so the nucleus below needs no second sort.
      scaled, candidates = jax.lax.top_k(scaled, min(self.top_k, scaled.shape[-1]))  # [B, k]
    if self.nucleus:
      scaled = nucleus_filter(scaled, knobs.top_p, presorted=candidates is not None)
    scaled = min_p_filter(scaled, knobs.min_p)
    # Each row draws from its own key, so a row's token never depends on the other rows of the batch.
    choice, logp = sample_categorical(keys, scaled)  # [B], [B]
    tokens = choice if candidates is None else jnp.take_along_axis(candidates, choice[:, None], axis=-1)[:, 0]
    return tokens.astype(jnp.int32), logp


Strategy = Union[Greedy, Sample]


def nucleus_filter(scaled: jax.Array, top_p: jax.Array, *, presorted: bool = False) -> jax.Array:
  """Sets logits outside the top-p nucleus to -inf.

  The nucleus is the smallest set of most-likely tokens whose mass reaches `top_p`: a token is kept when
  the mass of the tokens ranked strictly above it is below `top_p` (so the top token always survives).
  Instead of scattering a sorted mask back (an extra [B, V] scatter), the cut is a logit threshold: the
  smallest kept logit. Tokens tied with that logit are all kept.
  """
  ranked = scaled if presorted else jnp.flip(jnp.sort(scaled, axis=-1), axis=-1)  # [B, V] descending
  probs = jax.nn.softmax(ranked, axis=-1)
  mass_above = jnp.cumsum(probs, axis=-1) - probs
  kept = mass_above < top_p
  threshold = jnp.min(jnp.where(kept, ranked, jnp.inf), axis=-1, keepdims=True)  # [B, 1]
  return jnp.where(scaled >= threshold, scaled, -jnp.inf)


def min_p_filter(scaled: jax.Array, min_p: jax.Array) -> jax.Array:
  """Drops tokens whose probability is below min_p times the top probability (min_p = 0 keeps all)."""
  cutoff = jnp.max(scaled, axis=-1, keepdims=True) + jnp.log(min_p)  # log(0) = -inf keeps everything
  return jnp.where(scaled >= cutoff, scaled, -jnp.inf)


def token_log_probs(logits: jax.Array, tokens: jax.Array, temperature: jax.Array | float) -> jax.Array:
  """Behaviour log-probs: log_softmax(logits / temperature)[token] in float32, before any truncation.

  This is what the trainer recomputes from the same parameters (verl divides logits by the rollout
  temperature before its log-softmax), so the two agree to float32 precision.
  logits [B, V], tokens [B] -> [B].
  """
  logp = jax.nn.log_softmax(logits.astype(jnp.float32) / temperature, axis=-1)
  return jnp.take_along_axis(logp, tokens[:, None], axis=-1)[:, 0]


def logprob_temperature(temperature: float) -> float:
  """The temperature behaviour log-probs are taken at: the sampling temperature, or 1 for greedy
  decoding (temperature 0), which has none. The trainer's recomputed log-probs and entropies use the same
  value, so this is the one place the rule is written."""
  return float(temperature) if temperature > 0 else 1.0


def make_strategy(*, temperature: float, top_p: float, top_k: int, min_p: float) -> Strategy:
  """Validates the sampling settings (ValueError naming the field) and picks the strategy.

  temperature == 0 means greedy; top-p / top-k / min-p are then irrelevant (argmax lies inside every
  truncation) and ignored.
  """
  if not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature < 0:
    raise ValueError(f"temperature={temperature!r}: must be a finite number >= 0 (0 = greedy)")
  if not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
    raise ValueError(f"top_p={top_p!r}: must be in (0, 1]")
  if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
    raise ValueError(f"top_k={top_k!r}: must be an int >= 0 (0 = no top-k)")
  if not isinstance(min_p, (int, float)) or not 0 <= min_p < 1:
    raise ValueError(f"min_p={min_p!r}: must be in [0, 1)")
  if temperature == 0:
    return Greedy()
  return Sample(top_k=top_k, nucleus=top_p < 1)
