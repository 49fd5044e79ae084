"""Token statistics: entropy, SIREN top-p entropy and the chunked LM-head path (algorithms.md §1.1, §6.1)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from rlvr_jax.objectives._token_stats import (entropy_from_logits, statistics_from_logits, token_statistics,
                                             topp_entropy_from_logits)


def _softmax(z: np.ndarray) -> np.ndarray:
  e = np.exp(z - z.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _topp_reference(z: np.ndarray, top_p: float, top_k: int) -> float:
  """SIREN's torch code for one position, in float64: searchsorted(left) cut-off, 1e-12 epsilons."""
  prob = _softmax(z.astype(np.float64))
  idx = np.argsort(-z, kind="stable")[:top_k]
  cumulative = np.cumsum(prob[idx])
  cutoff = np.searchsorted(cumulative, top_p, side="left")
  kept = prob[idx] * (np.arange(idx.size) < cutoff)
  q = kept / (kept.sum() + 1e-12)
  return float(-(q * np.log(q + 1e-12)).sum())


def test_entropy_matches_numpy_and_upcasts_bfloat16():
  """logsumexp - sum p z equals -sum p log p; bfloat16 logits give a float32 result."""
  z = np.random.default_rng(0).normal(scale=3.0, size=(4, 50)).astype(np.float32)
  p = _softmax(z.astype(np.float64))
  entropy = jax.jit(entropy_from_logits)
  np.testing.assert_allclose(np.asarray(entropy(jnp.asarray(z))), -(p * np.log(p)).sum(-1),
                             rtol=1e-5)
  out = entropy(jnp.asarray(z, jnp.bfloat16))
  assert out.dtype == jnp.float32
  zb = np.asarray(jnp.asarray(z, jnp.bfloat16).astype(jnp.float32), np.float64)
  pb = _softmax(zb)
  np.testing.assert_allclose(np.asarray(out), -(pb * np.log(pb)).sum(-1), rtol=1e-5)


def test_entropy_ignores_negative_infinity_logits():
  """-inf logits (masked vocabulary) contribute 0 to the value and give finite, zero gradients."""
  z = jnp.array([[0.0, np.log(3.0), -jnp.inf, -jnp.inf]])
  expected = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
  np.testing.assert_allclose(float(jax.jit(entropy_from_logits)(z)[0]), expected, rtol=1e-6)
  grad = np.asarray(jax.jit(jax.grad(lambda x: entropy_from_logits(x).sum()))(z))
  assert np.all(np.isfinite(grad)) and np.all(grad[0, 2:] == 0.0)


def test_entropy_gradient_is_analytic():
  """dH/dz_v = -p_v (log p_v + H)."""
  z = np.random.default_rng(1).normal(size=(3, 7)).astype(np.float32)
  p = _softmax(z.astype(np.float64))
  h = -(p * np.log(p)).sum(-1, keepdims=True)
  grad = jax.jit(jax.grad(lambda x: entropy_from_logits(x).sum()))(jnp.asarray(z))
  np.testing.assert_allclose(np.asarray(grad), -p * (np.log(p) + h), rtol=1e-4, atol=1e-6)


def test_topp_crossing_token_is_excluded():
  """p = (0.5, 0.25, 0.15, 0.1), top_p 0.8: cumsum (0.5, 0.75, 0.9) keeps 2 tokens -> H(2/3, 1/3)."""
  z = jnp.log(jnp.array([0.5, 0.25, 0.15, 0.1]))
  expected = -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))
  topp = jax.jit(functools.partial(topp_entropy_from_logits, top_p=0.8, top_k=10))
  np.testing.assert_allclose(float(topp(z)), expected, rtol=1e-5)


def test_topp_single_kept_token_and_dominant_top1_are_exactly_zero():
  """One kept token (0.6 < 0.8 < 0.9) or top-1 >= top_p (0.85) gives exactly 0."""
  single = jnp.log(jnp.array([0.6, 0.3, 0.1]))
  dominant = jnp.log(jnp.array([0.85, 0.1, 0.05]))
  topp = jax.jit(functools.partial(topp_entropy_from_logits, top_p=0.8, top_k=10))
  assert float(topp(single)) == 0.0
  assert float(topp(dominant)) == 0.0


def test_topp_keeps_all_k_when_their_mass_is_below_p():
  """top_k = 3 tokens holding 0.6 < 0.8 of the mass are all kept and renormalized."""
  probs = np.array([0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1])
  topp = jax.jit(functools.partial(topp_entropy_from_logits, top_p=0.8, top_k=3))
  got = float(topp(jnp.log(jnp.asarray(probs))))
  q = probs[:3] / probs[:3].sum()
  np.testing.assert_allclose(got, -(q * np.log(q)).sum(), rtol=1e-5)


def test_topp_matches_torch_semantics_on_random_logits():
  """Random positions (sharp and flat) against the float64 transcription of SIREN's code."""
  rng = np.random.default_rng(2)
  z = (rng.normal(size=(16, 40)) * rng.uniform(0.3, 4.0, size=(16, 1))).astype(np.float32)
  topp = jax.jit(functools.partial(topp_entropy_from_logits, top_p=0.8, top_k=25))
  got = np.asarray(topp(jnp.asarray(z)))
  expected = [_topp_reference(row, 0.8, 25) for row in z]
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
  assert np.sum(got == 0.0) >= 1 and np.sum(got > 0.0) >= 1  # both regimes are exercised


def test_topp_gradient_only_through_kept_logits():
  """dH_p/dz_j = -q_j (log q_j + H_p) on the kept set, 0 for every other logit."""
  probs = np.array([0.1, 0.3, 0.05, 0.2, 0.35])
  z = jnp.log(jnp.asarray(probs, jnp.float32))
  grad = np.asarray(jax.jit(jax.grad(lambda x: topp_entropy_from_logits(x, top_p=0.9, top_k=5)))(z))
  kept = np.array([False, True, False, True, True])  # 0.35, 0.3, 0.2: cumsum 0.85 < 0.9, then 0.95
  q = probs[kept] / probs[kept].sum()
  h = -(q * np.log(q)).sum()
  np.testing.assert_allclose(grad[kept], -q * (np.log(q) + h), rtol=1e-4, atol=1e-7)
  assert np.all(grad[~kept] == 0.0)


# ------------------------------------------------------------------------------------------------
# Chunked LM-head path.

B, T, D, V = 3, 7, 16, 40  # 21 tokens: chunk_size 8 -> 3 chunks with 3 padded tokens


def _inputs(dtype=jnp.float32):
  k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
  hidden = jax.random.normal(k1, (B, T, D), dtype)
  unembed = (0.5 * jax.random.normal(k2, (V, D))).astype(dtype)
  targets = jax.random.randint(k3, (B, T), 0, V)
  return hidden, unembed, targets


def _objective(stats):
  # A weighted sum so that every statistic's gradient matters and none cancels.
  return jnp.sum(stats.logp) + 0.7 * jnp.sum(stats.entropy) - 0.3 * jnp.sum(stats.topp_entropy)


def _unchunked(hidden, unembed, targets, temperature):
  logits = jnp.einsum("btd,vd->btv", hidden, unembed) / temperature
  return statistics_from_logits(logits, targets, top_p=0.8, top_k=12)


def _chunked(hidden, unembed, targets, temperature):
  return token_statistics(hidden, unembed, targets, temperature=temperature, chunk_size=8, top_p=0.8,
                          top_k=12)


def test_chunked_values_and_gradients_match_unchunked():
  """Values and d/d(hidden, unembed) of logp + entropy + top-p entropy match the [B, T, V] version."""
  hidden, unembed, targets = _inputs()

  def value_and_grads(fn):
    def loss(h, w):
      stats = fn(h, w, targets, 0.7)
      return _objective(stats), stats
    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(hidden, unembed)

  (value_c, stats_c), (gh_c, gw_c) = value_and_grads(_chunked)
  (value_u, stats_u), (gh_u, gw_u) = value_and_grads(_unchunked)
  for name in ("logp", "entropy", "topp_entropy"):
    np.testing.assert_allclose(np.asarray(getattr(stats_c, name)), np.asarray(getattr(stats_u, name)),
                               rtol=1e-5, atol=1e-5, err_msg=name)
  assert np.sum(np.asarray(stats_u.topp_entropy) > 0) > 0  # the nucleus path is exercised
  np.testing.assert_allclose(float(value_c), float(value_u), rtol=1e-5)
  np.testing.assert_allclose(np.asarray(gh_c), np.asarray(gh_u), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(np.asarray(gw_c), np.asarray(gw_u), rtol=1e-4, atol=1e-5)


def test_logp_is_log_softmax_of_target_and_temperature_divides_first():
  """logp = log_softmax(h W^T / temperature)[target], checked in numpy."""
  hidden, unembed, targets = _inputs()
  stats = jax.jit(functools.partial(token_statistics, temperature=0.5, chunk_size=5, with_entropy=False))(
      hidden, unembed, targets)
  assert stats.entropy is None and stats.topp_entropy is None
  logits = np.einsum("btd,vd->btv", np.asarray(hidden, np.float64), np.asarray(unembed, np.float64)) / 0.5
  logp = np.log(_softmax(logits))
  expected = np.take_along_axis(logp, np.asarray(targets)[..., None], -1)[..., 0]
  np.testing.assert_allclose(np.asarray(stats.logp), expected, rtol=1e-4, atol=1e-5)


def test_sum_pi_squared_is_the_collision_probability():
  """sum_v softmax(h W^T / T)_v^2 in numpy, chunked; absent unless requested (OTB's rollout input)."""
  hidden, unembed, targets = _inputs()
  stats = jax.jit(functools.partial(token_statistics, temperature=0.7, chunk_size=5, with_entropy=False,
                                    with_sum_pi_squared=True))(hidden, unembed, targets)
  logits = np.einsum("btd,vd->btv", np.asarray(hidden, np.float64), np.asarray(unembed, np.float64)) / 0.7
  np.testing.assert_allclose(np.asarray(stats.sum_pi_squared), (_softmax(logits) ** 2).sum(-1), rtol=1e-4)
  assert jax.jit(functools.partial(token_statistics, chunk_size=5))(hidden, unembed, targets).sum_pi_squared is None


def test_bfloat16_inputs_give_float32_statistics():
  """bfloat16 hidden / LM head: float32 outputs matching the float32 computation on the rounded inputs."""
  hidden, unembed, targets = _inputs(jnp.bfloat16)
  stats_fn = jax.jit(functools.partial(token_statistics, chunk_size=8))
  stats = stats_fn(hidden, unembed, targets)
  assert stats.logp.dtype == jnp.float32 and stats.entropy.dtype == jnp.float32
  ref = stats_fn(hidden.astype(jnp.float32), unembed.astype(jnp.float32), targets)
  np.testing.assert_allclose(np.asarray(stats.logp), np.asarray(ref.logp), rtol=1e-3, atol=1e-3)


def test_out_of_range_targets_stay_finite():
  """A -100 ignore index on padding gives a finite log-prob instead of NaN."""
  hidden, unembed, targets = _inputs()
  stats = jax.jit(functools.partial(token_statistics, chunk_size=8, with_entropy=False))(
      hidden, unembed, targets.at[0, -1].set(-100))
  assert np.all(np.isfinite(np.asarray(stats.logp)))


def test_batch_sharded_inputs_need_no_communication():
  """Batch sharded over 8 devices: same statistics as one device, and the compiled program has no collective."""
  if jax.device_count() < 8:
    pytest.fail("tests/conftest.py should provide 8 host devices")
  k1, k2, k3 = jax.random.split(jax.random.PRNGKey(3), 3)
  hidden = jax.random.normal(k1, (8, 4, D))
  unembed = jax.random.normal(k2, (V, D))
  targets = jax.random.randint(k3, (8, 4), 0, V)
  mesh = Mesh(np.array(jax.devices()[:8]), ("data",))
  batch_sharding = NamedSharding(mesh, P("data"))
  fn = jax.jit(lambda h, w, t: token_statistics(h, w, t, chunk_size=8), out_shardings=batch_sharding)
  hidden_sharded = jax.device_put(hidden, batch_sharding)
  targets_sharded = jax.device_put(targets, batch_sharding)
  hlo = fn.lower(hidden_sharded, unembed, targets_sharded).compile().as_text()
  for collective in ("all-gather", "all-to-all", "collective-permute", "all-reduce", "reduce-scatter"):
    assert collective not in hlo, collective
  sharded = fn(hidden_sharded, unembed, targets_sharded)
  single = jax.jit(functools.partial(token_statistics, chunk_size=8))(hidden, unembed, targets)
  np.testing.assert_allclose(np.asarray(sharded.logp), np.asarray(single.logp), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(np.asarray(sharded.entropy), np.asarray(single.entropy), rtol=1e-5, atol=1e-5)


def test_backward_memory_is_bounded_by_the_chunk():
  """Compiled forward+backward temporaries stay near a few [chunk, V] blocks and do not grow with B*T."""
  vocab, dim, chunk = 4096, 32, 128

  def temp_bytes(num_tokens: int) -> int:
    shapes = (jax.ShapeDtypeStruct((1, num_tokens, dim), jnp.float32),
              jax.ShapeDtypeStruct((vocab, dim), jnp.float32),
              jax.ShapeDtypeStruct((1, num_tokens), jnp.int32))

    def loss(h, w, t):
      stats = token_statistics(h, w, t, chunk_size=chunk)
      return jnp.sum(stats.logp) + jnp.sum(stats.entropy)

    compiled = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(*shapes).compile()
    return compiled.memory_analysis().temp_size_in_bytes

  small, large = temp_bytes(2048), temp_bytes(8192)
  full_logits = 8192 * vocab * 4  # 128 MiB: one unchunked float32 logits tensor
  assert large < full_logits / 8, (large, full_logits)
  # 4x the tokens adds well under one [chunk, V] block (only O(N * D) residuals grow).
  assert large - small < chunk * vocab * 4, (small, large)


def test_bad_arguments_raise_naming_the_value():
  """Shape, dtype, temperature, chunk_size, top_p and top_k problems raise ValueError before tracing."""
  hidden, unembed, targets = _inputs()
  with pytest.raises(ValueError, match="temperature must be > 0, got 0.0"):
    token_statistics(hidden, unembed, targets, temperature=0.0)
  with pytest.raises(ValueError, match="chunk_size must be a positive int, got 0"):
    token_statistics(hidden, unembed, targets, chunk_size=0)
  with pytest.raises(ValueError, match="top_p must be in \\(0, 1\\], got 1.5"):
    token_statistics(hidden, unembed, targets, top_p=1.5)
  with pytest.raises(ValueError, match="top_k must be a positive int, got 0"):
    topp_entropy_from_logits(jnp.zeros((4,)), top_p=0.8, top_k=0)
  with pytest.raises(ValueError, match="unembed must be"):
    token_statistics(hidden, unembed[:, :3], targets)
  with pytest.raises(ValueError, match="targets must be \\[B, T\\]"):
    token_statistics(hidden, unembed, targets[:, :2])
  with pytest.raises(ValueError, match="integer token ids"):
    token_statistics(hidden, unembed, targets.astype(jnp.float32))
