"""PPO (asymmetric + dual clip) and GPG token losses against verl's formula in numpy (algorithms.md §1.3, §3)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives._policy_loss import clip_metrics, gpg_token_loss, ppo_token_loss

# ratio r = exp(log_ratio) per column; advantages per row.
LOG_RATIO = np.log(np.array([0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.4, 2.0, 5.0], np.float32))
ADV = np.array([1.5, -2.0, 0.0], np.float32)
OLD = np.full((3, LOG_RATIO.size), -1.5, np.float32)
LOGP = OLD + LOG_RATIO[None, :]
A = np.broadcast_to(ADV[:, None], OLD.shape).astype(np.float32)


def _verl_loss(log_ratio, adv, eps_low, eps_high, c):
  """verl compute_policy_loss, literally: max(L1, L2), then min with -A c for A < 0."""
  ratio = np.exp(np.clip(log_ratio, -20.0, 20.0))
  l1 = -adv * ratio
  l2 = -adv * np.clip(ratio, 1.0 - eps_low, 1.0 + eps_high)
  lc = np.maximum(l1, l2)
  if c is None:
    return lc
  return np.where(adv < 0, np.minimum(lc, -adv * c), lc)


def _ppo(logp=LOGP, **kwargs):
  return ppo_token_loss(jnp.asarray(logp), jnp.asarray(OLD), jnp.asarray(A), **kwargs)


@pytest.mark.parametrize("eps_low,eps_high,c", [(0.2, 0.2, None), (0.2, 0.28, 3.0), (0.2, 0.28, 1.8)])
def test_loss_matches_verl(eps_low, eps_high, c):
  """Per-token loss equals verl's max/min form for symmetric, clip-higher and dual-clip settings."""
  out = _ppo(eps_low=eps_low, eps_high=eps_high, dual_clip_c=c)
  expected = _verl_loss(LOGP - OLD, A, eps_low, eps_high, c)
  np.testing.assert_allclose(np.asarray(out.loss), expected, rtol=1e-5, atol=1e-6)


def test_clip_flags_by_side():
  """r = 1.25, 1.4, 2, 5 exceed 1 + 0.2 for A > 0; r = 0.5, 0.75 fall below 1 - 0.2 for A < 0; r > c = 1.8 dual."""
  out = _ppo(eps_low=0.2, eps_high=0.2, dual_clip_c=1.8)
  np.testing.assert_array_equal(np.asarray(out.clipped_high[0]), [0, 0, 0, 0, 0, 1, 1, 1, 1])
  np.testing.assert_array_equal(np.asarray(out.clipped_low[1]), [1, 1, 0, 0, 0, 0, 0, 0, 0])
  np.testing.assert_array_equal(np.asarray(out.dual_clipped[1]), [0, 0, 0, 0, 0, 0, 0, 1, 1])
  assert not np.any(np.asarray(out.clipped_high)[1:]) and not np.any(np.asarray(out.clipped_low)[[0, 2]])
  assert not np.any(np.asarray(out.dual_clipped)[[0, 2]])  # dual clip only for A < 0; A = 0 never clips


def test_gradient_is_zero_exactly_where_clipped():
  """d loss / d logp = -A r on gradient-active tokens and 0 on every clipped token (STEER's I_clip)."""
  out = _ppo(eps_low=0.2, eps_high=0.28, dual_clip_c=3.0)
  grad = jax.grad(lambda lp: jnp.sum(_ppo(lp, eps_low=0.2, eps_high=0.28, dual_clip_c=3.0).loss))(
      jnp.asarray(LOGP))
  active = np.asarray(out.gradient_active)
  ratio = np.exp(LOGP - OLD)
  np.testing.assert_allclose(np.asarray(grad), np.where(active, -A * ratio, 0.0), rtol=1e-5, atol=1e-6)
  # Sanity of the fixture: some tokens on each side are clipped, some are not.
  assert 0 < active[0].sum() < active.shape[1] and 0 < active[1].sum() < active.shape[1]


def test_old_logp_and_advantages_get_no_gradient():
  """Rollout data is constant: gradients w.r.t. old_logp and advantages are zero."""
  def loss(old, adv):
    return jnp.sum(ppo_token_loss(jnp.asarray(LOGP), old, adv).loss)
  g_old, g_adv = jax.grad(loss, argnums=(0, 1))(jnp.asarray(OLD), jnp.asarray(A))
  assert np.all(np.asarray(g_old) == 0.0) and np.all(np.asarray(g_adv) == 0.0)


def test_log_ratio_clamp_switch():
  """With the clamp a log-ratio of 100 becomes exp(20); without it exp(100) overflows (SIREN's copy)."""
  logp = jnp.array([[100.0, -100.0]])
  old = jnp.zeros((1, 2))
  adv = jnp.array([[-1.0, 1.0]])
  clamped = ppo_token_loss(logp, old, adv)
  np.testing.assert_allclose(np.asarray(clamped.log_ratio), [[20.0, -20.0]])
  np.testing.assert_allclose(float(clamped.loss[0, 0]), np.exp(20.0), rtol=1e-5)
  raw = ppo_token_loss(logp, old, adv, clamp_log_ratio=False)
  assert np.isinf(float(raw.loss[0, 0]))  # float32 overflow: why the clamp exists
  capped = ppo_token_loss(logp, old, adv, clamp_log_ratio=False, dual_clip_c=3.0)
  assert float(capped.loss[0, 0]) == pytest.approx(3.0)


def test_clip_metrics_hand_computed():
  """Masked clip fractions by side, the dual fraction and ppo_kl = mean(-log_ratio) over valid tokens."""
  out = _ppo(eps_low=0.2, eps_high=0.2, dual_clip_c=1.8)
  mask = np.ones_like(OLD)
  mask[:, -1] = 0.0  # drop r = 5
  metrics = {k: float(v) for k, v in clip_metrics(out, jnp.asarray(mask)).items()}
  n = mask.sum()  # 24
  assert metrics["pg_clipfrac_high"] == pytest.approx(3 / n)  # r = 1.25, 1.4, 2
  assert metrics["pg_clipfrac_low"] == pytest.approx(2 / n)  # r = 0.5, 0.75
  assert metrics["pg_clipfrac"] == pytest.approx(5 / n)
  assert metrics["pg_clipfrac_dual"] == pytest.approx(1 / n)  # r = 2
  assert metrics["ppo_kl"] == pytest.approx(-3 * LOG_RATIO[:-1].sum() / n, rel=1e-5)


def test_pg_clipfrac_equals_verl_definition():
  """pg_clipfrac equals verl's masked_mean(L2 > L1) on random inputs."""
  rng = np.random.default_rng(0)
  logp = rng.normal(scale=0.3, size=(4, 16)).astype(np.float32)
  old = rng.normal(scale=0.3, size=(4, 16)).astype(np.float32)
  adv = rng.normal(size=(4, 16)).astype(np.float32)
  out = ppo_token_loss(jnp.asarray(logp), jnp.asarray(old), jnp.asarray(adv), eps_low=0.2, eps_high=0.28)
  r = np.exp(logp - old)
  verl = np.mean(-adv * np.clip(r, 0.8, 1.28) > -adv * r)
  assert float(clip_metrics(out, jnp.ones((4, 16)))["pg_clipfrac"]) == pytest.approx(verl, abs=1e-6)


def test_gpg_loss_and_gradient():
  """GPG loss is -A logp and its gradient w.r.t. logp is -A."""
  loss = gpg_token_loss(jnp.asarray(LOGP), jnp.asarray(A))
  np.testing.assert_allclose(np.asarray(loss), -A * LOGP, rtol=1e-6)
  grad = jax.grad(lambda lp: jnp.sum(gpg_token_loss(lp, jnp.asarray(A))))(jnp.asarray(LOGP))
  np.testing.assert_allclose(np.asarray(grad), -A)


def test_bad_clip_hyperparameters_raise():
  """dual_clip_c <= 1, eps_low outside [0, 1], negative eps_high and shape mismatches raise ValueError."""
  with pytest.raises(ValueError, match="dual_clip_c must be > 1.*1.0"):
    _ppo(dual_clip_c=1.0)
  with pytest.raises(ValueError, match="eps_low.*1.5"):
    _ppo(eps_low=1.5)
  with pytest.raises(ValueError, match="eps_high.*-0.1"):
    _ppo(eps_high=-0.1)
  with pytest.raises(ValueError, match="same shape"):
    ppo_token_loss(jnp.asarray(LOGP), jnp.asarray(OLD[:, :2]), jnp.asarray(A))
