"""The two-level inverse-CDF draw (`rlvr_jax.sampling._categorical`): against a numpy transcription at
chosen uniforms (block edges, the last partial block, zero-mass tokens and blocks, a uniform just below 1),
empirical frequencies over a vocabulary of several blocks, log-probs, and rows independent of the batch."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.sampling._categorical import BLOCK, first_above, inverse_cdf, sample_categorical

WIDTH = 2 * BLOCK + 276  # three blocks, the last one partial


def _numpy_inverse_cdf(scaled: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
  """The published method, transcribed: pick a block with probability mass(block) / total by the first
  uniform, then a token with probability p / mass(block) by the second (float64)."""
  choices = []
  for row, (u_block, u_token) in zip(scaled.astype(np.float64), uniforms.astype(np.float64)):
    size = min(BLOCK, row.size)
    p = np.exp(row - row.max())
    p = np.concatenate([p, np.zeros(-row.size % size)]).reshape(-1, size)
    block = int(np.searchsorted(np.cumsum(p.sum(1)), u_block * p.sum(), side="right"))
    token = int(np.searchsorted(np.cumsum(p[block]), u_token * p[block].sum(), side="right"))
    choices.append(block * size + token)
  return np.array(choices)


def _logits(rng: np.random.Generator, rows: int, width: int) -> np.ndarray:
  """Random logits with -inf holes: a whole zero-mass block in row 1, scattered -inf tokens elsewhere."""
  logits = rng.normal(size=(rows, width)).astype(np.float32) * 2
  logits[rng.random((rows, width)) < 0.3] = -np.inf
  if rows > 1 and width > BLOCK:
    logits[1, BLOCK:2 * BLOCK] = -np.inf
  logits[:, :2] = -np.inf  # a uniform of 0 must skip the leading zero-mass tokens
  logits[:, 2] = 1.0  # every row keeps a token
  return logits


@pytest.mark.parametrize("width", [8, BLOCK, WIDTH])
def test_choices_equal_the_numpy_transcription(width):
  """Uniforms at 0, at values that land on block and token edges, and just below 1."""
  rng = np.random.default_rng(width)
  logits = _logits(rng, 6, width)
  uniforms = np.array([[0.0, 0.0], [0.5, 0.5], [0.999999940, 0.999999940], [0.25, 0.75], [0.7, 0.1],
                       [0.999, 0.001]], np.float32)
  choice, logp = jax.jit(inverse_cdf)(jnp.asarray(logits), jnp.asarray(uniforms))
  choice = np.asarray(choice)
  want = _numpy_inverse_cdf(logits, uniforms)
  # float32 block sums may move an edge by ~1e-7 of the mass; these uniforms sit away from edges except 0 / ~1.
  np.testing.assert_array_equal(choice, want)
  assert np.all(np.isfinite(logits[np.arange(6), choice])), "a zero-mass token was drawn"
  shifted = logits.astype(np.float64) - logits.max(1, keepdims=True)
  log_total = np.log(np.exp(shifted).sum(1))
  np.testing.assert_allclose(np.asarray(logp), shifted[np.arange(6), choice] - log_total, atol=2e-5)


def test_empirical_frequencies_over_several_blocks():
  """40,000 draws over three blocks: ten likely tokens spread over the blocks (block edges and the last
  partial block included) and the rest of the vocabulary as one bin; chi-square at a fixed seed."""
  likely = np.array([0, 5, BLOCK - 1, BLOCK, 700, 2 * BLOCK - 1, 2 * BLOCK, 1100, WIDTH - 1, 1250])
  logits = np.full(WIDTH, -3.0, np.float32)
  logits[likely] = np.log(np.linspace(1, 4, likely.size)) + 4.0
  p = np.exp(logits.astype(np.float64))
  p /= p.sum()
  draws = 40_000
  keys = jax.random.split(jax.random.key(7), draws)
  tokens, logp = jax.jit(sample_categorical)(keys, jnp.broadcast_to(jnp.asarray(logits), (draws, WIDTH)))
  tokens = np.asarray(tokens)
  counts = np.bincount(tokens, minlength=WIDTH)
  observed = np.append(counts[likely], draws - counts[likely].sum())
  expected = draws * np.append(p[likely], 1 - p[likely].sum())
  dof = observed.size - 1
  critical = dof * (1 - 2 / (9 * dof) + 3.29 * math.sqrt(2 / (9 * dof))) ** 3  # upper 0.05% (Wilson-Hilferty)
  stat = float(np.sum((observed - expected) ** 2 / expected))
  assert stat < critical, (stat, observed, expected)
  np.testing.assert_allclose(np.asarray(logp), np.log(p[tokens]), atol=1e-5)


def test_zero_mass_tokens_are_never_drawn():
  """Only two tokens have mass, in different blocks; the rest is -inf (as top-k / top-p leave it)."""
  logits = np.full((4_000, WIDTH), -np.inf, np.float32)
  logits[:, 3] = 0.0
  logits[:, WIDTH - 2] = math.log(3.0)
  keys = jax.random.split(jax.random.key(3), logits.shape[0])
  tokens = np.asarray(jax.jit(sample_categorical)(keys, jnp.asarray(logits))[0])
  assert set(np.unique(tokens)) == {3, WIDTH - 2}
  assert abs(np.mean(tokens == WIDTH - 2) - 0.75) < 0.03


def test_a_row_draws_the_same_whatever_the_batch():
  """Row r's token reads only its key and its logits: drawn alone or among other rows it is the same token
  (its log-prob the same to float32 rounding: XLA:CPU sums a row differently at another batch size, which
  the samplers' `batch_invariant` mode removes)."""
  logits = _logits(np.random.default_rng(0), 5, WIDTH)
  keys = jax.random.split(jax.random.key(11), 5)
  draw = jax.jit(sample_categorical)
  batch = [np.asarray(x) for x in draw(keys, jnp.asarray(logits))]
  for r in range(5):
    alone = [np.asarray(x) for x in draw(keys[r:r + 1], jnp.asarray(logits[r:r + 1]))]
    assert alone[0][0] == batch[0][r]
    np.testing.assert_allclose(alone[1][0], batch[1][r], rtol=1e-6)


def test_a_prefix_sum_that_wobbles_never_picks_a_zero_mass_token():
  """A prefix sum computed as a tree may differ by an ulp where a token adds nothing: the pick skips
  tokens without mass, and falls back on the last token with mass when no sum with mass exceeds the target."""
  cumulative = jnp.asarray([[1.0, 2.0, 2.0000002, 2.0, 3.0], [1.0, 2.0, 2.0000002, 2.0000002, 2.0000002]])
  has_mass = jnp.asarray([[True, True, False, False, True], [True, True, False, False, False]])
  picked = first_above(cumulative, has_mass, jnp.asarray([2.0000001, 2.0000001]))
  assert np.asarray(picked).tolist() == [4, 1]
  assert np.asarray(first_above(cumulative, has_mass, jnp.asarray([0.5, 1.5]))).tolist() == [0, 1]
