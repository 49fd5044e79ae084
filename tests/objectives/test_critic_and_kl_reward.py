"""Clipped value loss, explained variance, KL in the reward and the KL controllers vs verl in numpy.

verl-project/verl 018f23b5 core_algos.py (compute_value_loss, FixedKLController, AdaptiveKLController),
0094eb20 ray_trainer.py (apply_kl_penalty), metric_utils.py (critic/vf_explained_var).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives._critic import explained_variance, value_loss
from rlvr_jax.objectives._kl_reward import KL_CONTROLLERS, KLInRewardConfig, kl_penalized_rewards

RNG = np.random.default_rng(13)
B, T = 4, 6
MASK = (np.arange(T)[None] < np.array([6, 3, 1, 4])[:, None]).astype(np.float32)
VALUES = RNG.normal(size=(B, T)).astype(np.float32)
OLD_VALUES = (VALUES + RNG.normal(size=(B, T)) * 0.6).astype(np.float32)
RETURNS = RNG.normal(size=(B, T)).astype(np.float32)


def _verl_value_loss(v, ret, old, mask, c, mode):
  clipped = np.maximum(np.minimum(v, old + c), old - c)
  l1, l2 = (v - ret) ** 2, (clipped - ret) ** 2
  mat = np.maximum(l1, l2)
  if mode == "token-mean":
    agg = (mat * mask).sum() / (mask.sum() + 1e-8)
  else:  # seq-mean-token-mean
    agg = ((mat * mask).sum(-1) / mask.sum(-1)).mean()
  return 0.5 * agg, ((l2 > l1) * mask).sum() / (mask.sum() + 1e-8)


@pytest.mark.parametrize("mode", ["token-mean", "seq-mean-token-mean"])
@pytest.mark.parametrize("c", [0.2, 0.5])
def test_value_loss_matches_verl(mode, c):
  loss, metrics = value_loss(jnp.asarray(VALUES), jnp.asarray(RETURNS), jnp.asarray(OLD_VALUES),
                             jnp.asarray(MASK), cliprange_value=c, aggregation=mode)
  expected, clipfrac = _verl_value_loss(VALUES, RETURNS, OLD_VALUES, MASK, c, mode)
  assert float(loss) == pytest.approx(expected, rel=1e-5)
  assert float(metrics["critic/vf_clipfrac"]) == pytest.approx(clipfrac, rel=1e-5)


def test_value_loss_by_hand_and_gradient():
  """V_old = 0, c = 0.5, R = 1: V = 0.2 (inside) -> 0.5 (V - R)^2 with grad V - R; V = 2 (outside, but
  further from R than the clipped 0.5) -> the unclipped loss, grad V - R; V = 0.8 (clipped to 0.5, worse
  than V) -> 0.5 (0.5 - 1)^2 and zero gradient."""
  mask = jnp.ones((1, 3))
  ret, old = jnp.ones((1, 3)), jnp.zeros((1, 3))
  v = jnp.asarray([[0.2, 2.0, 0.8]])

  def loss_fn(values):
    return value_loss(values, ret, old, mask, cliprange_value=0.5, aggregation="seq-mean-token-sum")[0]

  loss, grad = jax.value_and_grad(loss_fn)(v)
  assert float(loss) == pytest.approx(0.5 * (0.8 ** 2 + 1.0 ** 2 + 0.5 ** 2), rel=1e-6)
  np.testing.assert_allclose(np.asarray(grad), [[-0.8, 1.0, 0.0]], atol=1e-6)


def test_explained_variance_matches_verl_and_bounds():
  """1 - var(R - V) / (var(R) + 1e-5) with unbiased variances over valid tokens; 1 for V = R."""
  valid = MASK > 0
  r, v = RETURNS[valid].astype(np.float64), VALUES[valid].astype(np.float64)
  expected = 1 - np.var(r - v, ddof=1) / (np.var(r, ddof=1) + 1e-5)
  got = explained_variance(jnp.asarray(RETURNS), jnp.asarray(VALUES), jnp.asarray(MASK))
  assert float(got) == pytest.approx(expected, rel=1e-5)
  perfect = explained_variance(jnp.asarray(RETURNS), jnp.asarray(RETURNS), jnp.asarray(MASK))
  assert float(perfect) == pytest.approx(1.0, abs=1e-6)
  mean_only = np.zeros_like(RETURNS)
  mean_only[valid] = r.mean()  # predicting the mean return explains nothing
  assert float(explained_variance(jnp.asarray(RETURNS), jnp.asarray(mean_only), jnp.asarray(MASK))) == (
      pytest.approx(0.0, abs=1e-4))
  assert np.isnan(float(explained_variance(jnp.ones((1, 2)), jnp.ones((1, 2)), jnp.asarray([[1.0, 0.0]]))))


# --------------------------------------------------------------------------------------- KL in reward


def _verl_apply_kl_penalty(scores, mask, old, ref, beta, kind):
  token_scores = np.zeros_like(mask)
  for i, n in enumerate(mask.sum(-1).astype(int)):
    if n:
      token_scores[i, n - 1] = scores[i]
  d = old.astype(np.float64) - ref
  if kind == "kl":
    kld = d
  elif kind == "low_var_kl":
    u = np.clip(-d, -20, 20)
    kld = np.clip(np.exp(u) - u - 1, -10, 10)
  else:
    kld = np.abs(d)
  kld = kld * mask
  rewards = token_scores - beta * kld
  current_kl = ((kld * mask).sum(-1) / (mask.sum(-1) + 1e-8)).mean()
  return rewards, current_kl


@pytest.mark.parametrize("kind", ["kl", "low_var_kl", "abs"])
def test_kl_penalized_rewards_match_verl(kind):
  scores = np.array([1.0, 0.0, -1.0, 1.0], np.float32)
  old = (-RNG.exponential(size=(B, T))).astype(np.float32)
  ref = (old + RNG.normal(size=(B, T)) * 0.3).astype(np.float32)
  rewards, metrics = kl_penalized_rewards(jnp.asarray(scores), jnp.asarray(MASK), jnp.asarray(old),
                                          jnp.asarray(ref), coef=0.05, kind=kind)
  expected, current_kl = _verl_apply_kl_penalty(scores, MASK, old, ref, 0.05, kind)
  np.testing.assert_allclose(np.asarray(rewards), expected, rtol=1e-5, atol=1e-6)
  assert float(metrics["kl_in_reward/kl"]) == pytest.approx(current_kl, rel=1e-5)
  assert float(metrics["kl_in_reward/coef"]) == pytest.approx(0.05)


def test_kl_penalized_rewards_by_hand():
  """Score 1 on the last of 2 tokens; k1 = old - ref = [0.5, -0.25]; beta = 0.1."""
  rewards, metrics = kl_penalized_rewards(jnp.asarray([1.0]), jnp.asarray([[1.0, 1.0, 0.0]]),
                                          jnp.asarray([[-1.0, -2.0, -9.0]]), jnp.asarray([[-1.5, -1.75, 0.0]]),
                                          coef=0.1)
  np.testing.assert_allclose(np.asarray(rewards), [[-0.05, 1.025, 0.0]], atol=1e-6)
  assert float(metrics["kl_in_reward/kl"]) == pytest.approx(0.125, rel=1e-6)


class _VerlAdaptive:
  """verl AdaptiveKLController, literally."""

  def __init__(self, init_kl_coef, target_kl, horizon):
    self.value, self.target, self.horizon = init_kl_coef, target_kl, horizon

  def update(self, current_kl, n_steps):
    proportional_error = np.clip(current_kl / self.target - 1, -0.2, 0.2)
    self.value *= 1 + proportional_error * n_steps / self.horizon


def test_adaptive_controller_tracks_verl_over_steps():
  """Ten updates with KL above, near and below target, including the +-0.2 error clip; jit-able."""
  config = KLInRewardConfig(controller="adaptive", coef=0.01, target_kl=0.05, horizon=1000)
  state = config.init_state()
  reference = _VerlAdaptive(0.01, 0.05, 1000)
  update = jax.jit(lambda s, kl: config.update(s, kl, 256))
  for kl in [0.2, 0.06, 0.05, 0.0, 0.03, 0.5, 0.051, 0.049, 1.0, 0.0]:
    state = update(state, jnp.float32(kl))
    reference.update(kl, 256)
    assert float(state.coef) == pytest.approx(reference.value, rel=1e-5)
  # By hand, first step: error clip(0.2 / 0.05 - 1) = 0.2 -> beta * (1 + 0.2 * 256 / 1000).
  first = config.update(config.init_state(), 0.2, 256)
  assert float(first.coef) == pytest.approx(0.01 * 1.0512, rel=1e-6)


def test_fixed_controller_and_config_validation():
  config = KLInRewardConfig.from_mapping({"controller": "fixed", "coef": 0.002})
  state = config.update(config.init_state(), 10.0, 512)
  assert float(state.coef) == pytest.approx(0.002)
  assert set(KL_CONTROLLERS.names()) == {"fixed", "adaptive"}
  with pytest.raises(ValueError, match=r"unknown KL controller kl_in_reward.controller='pid'"):
    KLInRewardConfig(controller="pid")
  with pytest.raises(ValueError, match=r"kl_in_reward.target_kl must be > 0.0, got 0.0"):
    KLInRewardConfig(target_kl=0.0)
  with pytest.raises(ValueError, match=r"unknown kl_in_reward keys \['beta'\]"):
    KLInRewardConfig.from_mapping({"beta": 0.1})
  with pytest.raises(ValueError, match=r"unknown KL estimator kl_in_reward.kind='k9'"):
    KLInRewardConfig(kind="k9")
