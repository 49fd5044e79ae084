"""Next-token strategies: empirical frequencies match the intended distribution (chi-square at a fixed
seed), top-p keeps exactly the nucleus, log-probs are the hand-computed ones, bad settings are rejected."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.sampling import Greedy, Sample, SamplingKnobs, make_strategy, token_log_probs
from rlvr_jax.sampling._strategies import min_p_filter, nucleus_filter

# Distinct probabilities so every truncation boundary is unambiguous.
PROBS = np.array([0.30, 0.22, 0.16, 0.12, 0.09, 0.06, 0.03, 0.02])
LOGITS = np.log(PROBS).astype(np.float32) + 1.7  # an offset: strategies must be shift-invariant
DRAWS = 40_000


def _chi_square_critical(dof: int, z: float = 3.29) -> float:
  """Upper 0.05% quantile of chi-square(dof) (Wilson-Hilferty), so a correct sampler fails ~never."""
  return dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3


def _intended(temperature: float, top_k: int, top_p: float, min_p: float) -> np.ndarray:
  """The target distribution computed directly in numpy: temperature, top-k, top-p, min-p."""
  p = np.exp(LOGITS.astype(np.float64) / temperature)
  p /= p.sum()
  order = np.argsort(-p)
  keep = np.zeros_like(p, bool)
  keep[order[:top_k or len(p)]] = True
  p = np.where(keep, p, 0)
  p /= p.sum()
  ranked = p[order]
  mass_above = np.cumsum(ranked) - ranked
  nucleus = np.zeros_like(keep)
  nucleus[order[mass_above < top_p]] = True
  p = np.where(nucleus & keep, p, 0)
  p /= p.sum()
  p = np.where(p >= min_p * p.max(), p, 0)
  return p / p.sum()


def _draw(strategy, temperature=1.0, top_p=1.0, min_p=0.0):
  keys = jax.random.split(jax.random.key(1234), DRAWS)
  logits = jnp.broadcast_to(jnp.asarray(LOGITS), (DRAWS, LOGITS.size))
  tokens, logp = jax.jit(strategy)(logits, SamplingKnobs.create(temperature, top_p, min_p), keys)
  return np.asarray(tokens), np.asarray(logp)


@pytest.mark.parametrize("temperature,top_k,top_p,min_p", [
    (1.0, 0, 1.0, 0.0),    # plain categorical
    (0.6, 0, 1.0, 0.0),    # sharper
    (1.8, 0, 1.0, 0.0),    # flatter
    (1.0, 3, 1.0, 0.0),    # top-k
    (1.0, 0, 0.7, 0.0),    # top-p over the full vocabulary (sort path)
    (0.8, 5, 0.6, 0.0),    # top-k then top-p (presorted path)
    (1.0, 0, 1.0, 0.35),   # min-p
])
def test_empirical_frequencies_match_intended_distribution(temperature, top_k, top_p, min_p):
  """Chi-square goodness of fit over the support, no draws outside it, and per-draw log-probs equal to
  log of the intended (truncated, renormalized) probabilities."""
  strategy = make_strategy(temperature=temperature, top_p=top_p, top_k=top_k, min_p=min_p)
  tokens, logp = _draw(strategy, temperature, top_p, min_p)
  expected = _intended(temperature, top_k, top_p, min_p)
  counts = np.bincount(tokens, minlength=LOGITS.size)
  support = expected > 0
  assert counts[~support].sum() == 0, f"draws outside the support: {counts}"
  stat = float(np.sum((counts[support] - DRAWS * expected[support]) ** 2 / (DRAWS * expected[support])))
  assert stat < _chi_square_critical(int(support.sum()) - 1), (stat, counts, expected)
  np.testing.assert_allclose(logp, np.log(expected[tokens]), atol=1e-5)


def test_top_p_keeps_exactly_the_nucleus():
  """For each top_p the surviving set is the smallest top set whose mass reaches top_p (hand-listed)."""
  logits = jnp.asarray(np.log(PROBS)[None].astype(np.float32))
  # cumulative mass: .30 .52 .68 .80 .89 .95 .98 1.0
  cases = {0.1: 1, 0.30: 1, 0.31: 2, 0.52: 2, 0.6: 3, 0.8: 4, 0.9: 6, 0.99: 8, 1.0: 8}
  for top_p, size in cases.items():
    kept = np.isfinite(np.asarray(nucleus_filter(logits, jnp.float32(top_p))))[0]
    assert kept.tolist() == [True] * size + [False] * (8 - size), (top_p, kept)
    presorted = np.isfinite(np.asarray(nucleus_filter(logits, jnp.float32(top_p), presorted=True)))[0]
    assert presorted.tolist() == kept.tolist()


def test_nucleus_of_shuffled_vocabulary():
  """The nucleus is found by value, not by index: a shuffled vocabulary keeps the same tokens."""
  perm = np.random.default_rng(0).permutation(8)
  logits = jnp.asarray(np.log(PROBS)[perm][None].astype(np.float32))
  kept = np.isfinite(np.asarray(nucleus_filter(logits, jnp.float32(0.75))))[0]
  np.testing.assert_array_equal(np.flatnonzero(kept), np.sort(np.flatnonzero(perm < 4)))


def test_min_p_threshold_is_relative_to_the_top_token():
  """min_p=0.5 keeps tokens with p >= 0.15 (= 0.5 * 0.30); min_p=0 keeps all."""
  logits = jnp.asarray(np.log(PROBS)[None].astype(np.float32))
  assert np.isfinite(np.asarray(min_p_filter(logits, jnp.float32(0.5))))[0].tolist() == [True] * 3 + [False] * 5
  assert np.isfinite(np.asarray(min_p_filter(logits, jnp.float32(0.0)))).all()


def test_greedy_is_argmax_with_point_mass_log_prob():
  """Greedy picks the first maximal logit of each row and reports log-prob 0 under its distribution."""
  logits = jnp.asarray([[0.1, 2.0, -1.0, 2.0], [5.0, 0.0, 0.0, 0.0]])
  tokens, logp = Greedy()(logits, SamplingKnobs.create(1.0, 1.0, 0.0), jax.random.split(jax.random.key(0), 2))
  assert np.asarray(tokens).tolist() == [1, 0]
  assert np.asarray(logp).tolist() == [0.0, 0.0]


def test_token_log_probs_are_tempered_log_softmax():
  """log_softmax(logits / T)[token], hand-computed in float64."""
  logits = np.array([[1.0, 2.0, 3.0], [0.5, -0.5, 0.0]], np.float32)
  tokens = np.array([2, 1])
  for temperature in (1.0, 0.5):
    z = logits.astype(np.float64) / temperature
    want = z[[0, 1], tokens] - np.log(np.exp(z).sum(-1))
    got = token_log_probs(jnp.asarray(logits), jnp.asarray(tokens), temperature)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


def test_bfloat16_logits_are_promoted():
  """bfloat16 logits are cast to float32 before the log-softmax (the result is float32)."""
  logits = jnp.asarray([[1.0, 2.0, 3.0]], jnp.bfloat16)
  assert token_log_probs(logits, jnp.asarray([0]), 1.0).dtype == jnp.float32


def test_strategy_choice_is_static_and_hashable():
  """Temperature 0 is greedy regardless of truncation; top_p < 1 turns the nucleus on; equal settings
  give equal (hashable) strategies, so the compiled program is reused."""
  assert make_strategy(temperature=0.0, top_p=0.5, top_k=3, min_p=0.1) == Greedy()
  assert make_strategy(temperature=0.7, top_p=1.0, top_k=0, min_p=0.0) == Sample(top_k=0, nucleus=False)
  assert make_strategy(temperature=1.3, top_p=0.9, top_k=20, min_p=0.0) == Sample(top_k=20, nucleus=True)
  assert hash(make_strategy(temperature=0.7, top_p=0.9, top_k=0, min_p=0.0)) == hash(Sample(nucleus=True))


@pytest.mark.parametrize("field,kwargs", [
    ("temperature", dict(temperature=-0.5)),
    ("temperature", dict(temperature=float("nan"))),
    ("top_p", dict(top_p=0.0)),
    ("top_p", dict(top_p=1.5)),
    ("top_k", dict(top_k=-1)),
    ("top_k", dict(top_k=2.5)),
    ("min_p", dict(min_p=1.0)),
])
def test_invalid_settings_raise_naming_the_field(field, kwargs):
  """Each out-of-range setting raises ValueError naming the field."""
  settings = dict(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0) | kwargs
  with pytest.raises(ValueError, match=field):
    make_strategy(**settings)
