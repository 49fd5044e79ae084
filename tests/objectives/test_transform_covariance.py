"""Clip-Cov and KL-Cov against numpy transcriptions of the reference rules (algorithms.md §2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._batch import ObjectiveState, PPOClipParams, TokenBatch
from rlvr_jax.objectives.transforms.covariance import ClipCov, KLCov, token_covariance

RNG = np.random.default_rng(3)
B, T = 4, 25
MASK = (np.arange(T)[None] < np.array([25, 20, 0, 12])[:, None]).astype(np.float32)
ADV = (RNG.normal(size=(B, 1)) * 2).astype(np.float32) * MASK
LOGP = (-RNG.exponential(size=(B, T)) * 2).astype(np.float32)
OLD_LOGP = (LOGP + RNG.normal(size=(B, T)) * 0.3).astype(np.float32)


def _batch(norm_group=(0, 0, 0, 0), num_groups=1, logp=LOGP) -> TokenBatch:
  return TokenBatch.create(response_mask=jnp.asarray(MASK), advantages=jnp.asarray(ADV),
                           logp=jnp.asarray(logp), old_logp=jnp.asarray(OLD_LOGP),
                           norm_group=jnp.asarray(norm_group), num_norm_groups=num_groups)


def _apply(transform, batch, ppo=PPOClipParams(), key=None) -> ObjectiveState:
  state = ObjectiveState.initial(batch, ppo, "token-mean")
  return transform.apply(batch, state, transform.init_state(), key)


def _np_cov(valid=MASK > 0):
  a, lp = ADV[valid].astype(np.float64), LOGP[valid].astype(np.float64)
  cov = np.zeros(MASK.shape)
  cov[valid] = (a - a.mean()) * (lp - lp.mean())
  return cov


def test_token_covariance_is_centered_over_valid_tokens():
  """cov = (A - mean A)(logp - mean logp) with means over valid tokens only (padding excluded)."""
  cov = token_covariance(jnp.asarray(ADV), jnp.asarray(LOGP), jnp.asarray(MASK > 0),
                         jnp.zeros(B, jnp.int32), 1)
  np.testing.assert_allclose(np.asarray(cov)[MASK > 0], _np_cov()[MASK > 0], rtol=1e-4, atol=1e-5)


def test_kl_cov_adds_abs_log_ratio_on_top_k_covariance_tokens():
  """k = max(1, floor(ratio N)) largest cov; L = -A r (+ coef |logp - old| on the k tokens), no clip."""
  ratio, coef = 0.1, 0.7
  out = _apply(KLCov(ratio=ratio, coef=coef), _batch())
  valid = MASK > 0
  k = max(1, int(valid.sum() * ratio))
  cov = np.where(valid, _np_cov(), -np.inf)
  top = np.zeros(valid.size, bool)
  top[np.argsort(-cov.reshape(-1), kind="stable")[:k]] = True
  top = top.reshape(valid.shape)
  d = LOGP.astype(np.float64) - OLD_LOGP
  expected = -ADV * np.exp(d) + np.where(top, coef * np.abs(d), 0.0)
  np.testing.assert_allclose(np.asarray(out.token_loss)[valid], expected[valid], rtol=1e-5, atol=1e-6)
  assert float(out.metrics["kl_cov/selected_frac"]) == pytest.approx(k / valid.sum())


def test_kl_cov_gradient_on_selected_token_includes_the_kl_term():
  """d L / d logp = -A r + coef sign(d) on a selected token, -A r elsewhere."""
  transform = KLCov(ratio=0.05, coef=1.0)
  plain = -ADV * np.exp(LOGP.astype(np.float64) - OLD_LOGP)
  selected = np.abs(np.asarray(_apply(transform, _batch()).token_loss) - plain) > 1e-4
  assert selected.sum() == max(1, int(0.05 * MASK.sum()))

  def total(logp):
    return jnp.sum(_apply(transform, _batch(logp=logp)).token_loss * MASK)

  grad = np.asarray(jax.grad(total)(jnp.asarray(LOGP)))
  d = LOGP - OLD_LOGP
  expected = (-ADV * np.exp(d) + np.where(selected, np.sign(d), 0.0)) * MASK
  np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5)


def test_clip_cov_chooses_min_budget_candidates_within_bounds():
  """Chosen tokens: valid, not already clipped, lower < cov < upper; count = min(budget, #candidates)."""
  lower, upper = 0.05, 3.0
  ppo = PPOClipParams(eps_low=0.2, eps_high=0.2)
  valid = MASK > 0
  cov = _np_cov()
  r = np.exp(LOGP - OLD_LOGP)
  clipped = ((ADV > 0) & (r > 1.2)) | ((ADV < 0) & (r < 0.8))
  candidates = valid & ~clipped & (cov > lower) & (cov < upper)
  assert candidates.sum() > 2
  for ratio in (0.01, 0.5):
    budget = max(1, int(ratio * valid.sum()))
    out = _apply(ClipCov(ratio=ratio, lower=lower, upper=upper), _batch(), ppo, jax.random.key(1))
    zeroed = valid & (np.asarray(out.token_loss) == 0) & (ADV != 0)
    assert zeroed.sum() == min(budget, candidates.sum())
    assert np.all(candidates[zeroed])


def test_clip_cov_loss_is_single_clip_ppo_without_clamp_elsewhere():
  """Unchosen tokens keep max(-A r, -A clip(r)) with no dual clip and no log-ratio clamp."""
  out = _apply(ClipCov(ratio=1e-3, lower=0.05, upper=3.0), _batch(), PPOClipParams(0.2, 0.28, 3.0),
               jax.random.key(0))
  r = np.exp(LOGP.astype(np.float64) - OLD_LOGP)
  expected = np.maximum(-ADV * r, -ADV * np.clip(r, 0.8, 1.28))
  got = np.asarray(out.token_loss)
  keep = (MASK > 0) & (got != 0)
  np.testing.assert_allclose(got[keep], expected[keep], rtol=1e-5, atol=1e-6)


def test_clip_cov_subset_is_uniform_over_candidates():
  """Over keys, each candidate is chosen with probability budget / #candidates."""
  lower, upper = 0.05, 3.0
  transform = ClipCov(ratio=0.01, lower=lower, upper=upper)
  batch = _batch()
  draw = jax.jit(jax.vmap(lambda key: _apply(transform, batch, key=key).token_loss == 0))
  zeroed = np.asarray(draw(jax.random.split(jax.random.key(7), 2000))) & (MASK > 0) & (ADV != 0)
  valid = MASK > 0
  r = np.exp(LOGP - OLD_LOGP)
  clipped = ((ADV > 0) & (r > 1.2)) | ((ADV < 0) & (r < 0.8))
  candidates = valid & ~clipped & (_np_cov() > lower) & (_np_cov() < upper)
  frequency = zeroed.mean(0)[candidates]
  np.testing.assert_allclose(frequency, 1 / candidates.sum(), atol=0.03)


def test_clip_cov_reads_clip_range_set_by_clip_higher():
  """Listed after clip_higher, Clip-Cov's 'already clipped' test uses the new eps_high."""
  config = {"transforms": ("clip_higher", "clip_cov"), "clip_higher": {"eps_low": 0.2, "eps_high": 5.0},
            "clip_cov": {"ratio": 0.5, "lower": -100.0, "upper": 100.0}}
  objective = build_objective(config)
  state = objective.transform(_batch(), objective.init_state(), jax.random.key(0))
  assert float(state.metrics["clip_cov/ppo_clipfrac"]) < float(
      _apply(ClipCov(ratio=0.5, lower=-100.0, upper=100.0), _batch(), key=jax.random.key(0)).metrics[
          "clip_cov/ppo_clipfrac"])


def test_micro_batch_scope_computes_means_per_group():
  """Per-group centering differs from whole-batch centering."""
  groups = jnp.asarray([0, 0, 1, 1])
  per_group = np.asarray(token_covariance(jnp.asarray(ADV), jnp.asarray(LOGP), jnp.asarray(MASK > 0),
                                          groups, 2))
  rows = [3]
  valid = MASK[rows] > 0
  a, lp = ADV[rows][valid], LOGP[rows][valid]
  np.testing.assert_allclose(per_group[rows][valid], (a - a.mean()) * (lp - lp.mean()), rtol=1e-4,
                             atol=1e-6)
