"""GSPO, CISPO, GMPO and SAPO against numpy transcriptions of verl's losses, by hand, and in gradient.

verl-project/verl 018f23b5 `verl/trainer/ppo/core_algos.py`: compute_policy_loss_gspo,
compute_policy_loss_cispo, compute_policy_loss_geo_mean, compute_policy_loss_sapo (+ agg_loss).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import TokenBatch, build_objective
from rlvr_jax.objectives._sequence_ratio_losses import gmpo_sequence_loss, gspo_token_loss
from rlvr_jax.objectives._soft_clip_losses import cispo_token_loss, sapo_token_loss

RNG = np.random.default_rng(17)
B, T = 5, 6
MASK = (np.arange(T)[None] < np.array([6, 4, 1, 5, 0])[:, None]).astype(np.float32)
SEQ_ADV = np.array([1.0, -0.7, 0.4, -1.5, 1.0], np.float32)
ADV = (SEQ_ADV[:, None] * MASK).astype(np.float32)
OLD = (-RNG.exponential(size=(B, T))).astype(np.float32)
LOGP = (OLD + RNG.normal(size=(B, T)) * 0.3).astype(np.float32)


def _seq_mean_token_mean(mat, mask):
  """verl legacy agg_loss seq-mean-token-mean with empty rows counted as 0 (SIREN / v0.7 zero-row form)."""
  rows = (mat * mask).sum(-1)
  counts = mask.sum(-1)
  return np.where(counts > 0, rows / np.maximum(counts, 1), 0.0).mean()


def _batch(logp=LOGP, adv=ADV, mask=MASK, old=OLD):
  return TokenBatch.create(response_mask=jnp.asarray(mask), advantages=jnp.asarray(adv), logp=jnp.asarray(logp),
                           old_logp=jnp.asarray(old))


# ------------------------------------------------------------------------------------------------ GSPO


def _verl_gspo(logp, old, adv, mask, eps_low, eps_high):
  nak = logp.astype(np.float64) - old
  lengths = np.maximum(mask.sum(-1), 1)
  seq = (nak * mask).sum(-1) / lengths
  s = np.exp(np.minimum(np.broadcast_to(seq[:, None], logp.shape), 10.0))
  l1 = -adv * s
  l2 = -adv * np.clip(s, 1 - eps_low, 1 + eps_high)
  return np.maximum(l1, l2), l2 > l1


@pytest.mark.parametrize("eps", [(3e-4, 4e-4), (0.2, 0.28)])
def test_gspo_matches_verl_and_its_objective(eps):
  """Token loss equals verl's max(L1, L2); the built objective aggregates it seq-mean-token-mean."""
  out = gspo_token_loss(jnp.asarray(LOGP), jnp.asarray(OLD), jnp.asarray(ADV), jnp.asarray(MASK),
                        eps_low=eps[0], eps_high=eps[1])
  expected, clipped = _verl_gspo(LOGP, OLD, ADV, MASK, *eps)
  np.testing.assert_allclose(np.asarray(out.loss), expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(np.asarray(out.clipped), clipped)
  objective = build_objective({"policy_loss": "gspo", "loss_agg_mode": "seq-mean-token-mean",
                               "gspo": {"eps_low": eps[0], "eps_high": eps[1]}})
  loss, metrics = objective.loss(_batch(), objective.init_state())
  assert float(loss) == pytest.approx(_seq_mean_token_mean(expected, MASK), rel=1e-5)
  assert float(metrics["policy/pg_clipfrac"]) == pytest.approx((clipped * MASK).sum() / MASK.sum(), rel=1e-5)


def test_gspo_by_hand_and_straight_through_gradient():
  """Row log-ratios [0.1, 0.3] -> s = exp(0.2) for both tokens; A = 1, eps_high = 0.5: unclipped, loss
  -s per token and d/d logp_t = -s (its own token only); eps_high = 0.1: clipped, zero gradient."""
  old = np.zeros((1, 2), np.float32)
  logp = np.array([[0.1, 0.3]], np.float32)
  adv = np.ones((1, 2), np.float32)
  mask = np.ones((1, 2), np.float32)

  def total(lp, eps_high):
    out = gspo_token_loss(lp, jnp.asarray(old), jnp.asarray(adv), jnp.asarray(mask), eps_low=0.2,
                          eps_high=eps_high)
    return jnp.sum(out.loss)

  value, grad = jax.value_and_grad(total)(jnp.asarray(logp), 0.5)
  assert float(value) == pytest.approx(-2 * np.exp(0.2), rel=1e-6)
  np.testing.assert_allclose(np.asarray(grad), [[-np.exp(0.2), -np.exp(0.2)]], rtol=1e-6)
  value, grad = jax.value_and_grad(total)(jnp.asarray(logp), 0.1)
  assert float(value) == pytest.approx(-2 * 1.1, rel=1e-6)
  assert np.all(np.asarray(grad) == 0.0)


# ----------------------------------------------------------------------------------------------- CISPO


def _verl_cispo(logp, old, adv, eps_low, eps_high):
  ratio = np.exp(np.clip(logp.astype(np.float64) - old, -20, 20))
  weight = np.clip(ratio, 1 - eps_low, 1 + eps_high)
  return -weight * adv * logp, weight, ratio != weight


@pytest.mark.parametrize("eps_low", [None, 0.2])
def test_cispo_matches_verl_value_and_gradient(eps_low):
  """loss = -sg(clip(r)) A logp; gradient -clip(r) A on every token, clipped ones included."""
  verl_low = 10.0 if eps_low is None else eps_low  # verl's example: clip_ratio_low = 10 never binds
  expected, weight, clipped = _verl_cispo(LOGP, OLD, ADV, verl_low, 0.2)
  fn = lambda lp: cispo_token_loss(lp, jnp.asarray(OLD), jnp.asarray(ADV), eps_low=eps_low, eps_high=0.2)
  out = fn(jnp.asarray(LOGP))
  np.testing.assert_allclose(np.asarray(out.loss), expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(np.asarray(out.clipped), clipped)
  grad = jax.grad(lambda lp: jnp.sum(fn(lp).loss))(jnp.asarray(LOGP))
  np.testing.assert_allclose(np.asarray(grad), -weight * ADV, rtol=1e-5, atol=1e-7)
  assert np.any(clipped & (ADV != 0))  # the test exercises clipped tokens that keep a gradient
  objective = build_objective({"policy_loss": "cispo", "cispo": {"eps_low": eps_low, "eps_high": 0.2}})
  loss, _ = objective.loss(_batch(), objective.init_state())
  assert float(loss) == pytest.approx((expected * MASK).sum() / (MASK.sum() + 1e-8), rel=1e-5)


# ------------------------------------------------------------------------------------------------ GMPO


def _verl_gmpo(logp, old, adv, mask, eps_low, eps_high):
  nak = logp.astype(np.float64) - old
  sgn = np.sign(adv)
  clamp = np.clip(nak, -eps_low, eps_high)
  nak_min = sgn * np.minimum(sgn * nak, sgn * clamp)
  n = mask.sum(-1)
  ratio = np.exp((nak_min * mask).sum(-1) / (n + 1e-8))
  seq_adv = (adv * mask).sum(-1) / (n + 1e-8)
  return -seq_adv * ratio, (nak != clamp)


@pytest.mark.parametrize("eps", [(0.4, 0.4), (0.1, 0.2)])
def test_gmpo_matches_verl_geo_mean(eps):
  """Per-response -A exp(mean clipped log r); the objective is their plain mean over rows (torch.mean)."""
  logp = (OLD + RNG.normal(size=(B, T)) * 0.4).astype(np.float32)
  expected, clipped = _verl_gmpo(logp, OLD, ADV, MASK, *eps)
  out = gmpo_sequence_loss(jnp.asarray(logp), jnp.asarray(OLD), jnp.asarray(ADV), jnp.asarray(MASK),
                           eps_low=eps[0], eps_high=eps[1])
  np.testing.assert_allclose(np.asarray(out.loss), expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(np.asarray(out.clipped_high | out.clipped_low), clipped & (ADV != 0))
  objective = build_objective({"policy_loss": "gmpo", "loss_agg_mode": "seq-mean-token-mean",
                               "gmpo": {"eps_low": eps[0], "eps_high": eps[1]}})
  loss, _ = objective.loss(_batch(logp=logp), objective.init_state())
  assert float(loss) == pytest.approx(expected.mean(), rel=1e-5)  # row 4 is empty: 0, still counted


def test_gmpo_by_hand_gradient():
  """A = 1, log r = [0.1, 0.6] with clip 0.4: d~ = [0.1, 0.4]; ratio = exp(0.25); loss = -exp(0.25);
  d/d logp = [-exp(0.25) / 2, 0] (the clipped token is frozen). For A = -1, log r = [-0.6, 0.1]: d~ =
  [-0.4, 0.1], ratio = exp(-0.15), loss = exp(-0.15), gradient [0, exp(-0.15) / 2]."""

  def loss_and_grad(log_ratio, adv):
    old = jnp.zeros((1, 2))
    fn = lambda lp: gmpo_sequence_loss(lp, old, jnp.full((1, 2), adv), jnp.ones((1, 2)), eps_low=0.4,
                                       eps_high=0.4).loss[0]
    return jax.value_and_grad(fn)(jnp.asarray([log_ratio], jnp.float32))

  value, grad = loss_and_grad([0.1, 0.6], 1.0)
  assert float(value) == pytest.approx(-np.exp(0.25), rel=1e-5)
  np.testing.assert_allclose(np.asarray(grad), [[-np.exp(0.25) / 2, 0.0]], rtol=1e-5, atol=1e-7)
  value, grad = loss_and_grad([-0.6, 0.1], -1.0)
  assert float(value) == pytest.approx(np.exp(-0.15), rel=1e-5)
  np.testing.assert_allclose(np.asarray(grad), [[0.0, np.exp(-0.15) / 2]], rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------------------------------------ SAPO


def _verl_sapo(logp, old, adv, tau_pos, tau_neg):
  ratio = np.exp(np.clip(logp.astype(np.float64) - old, -20, 20))
  tau = np.where(adv > 0, tau_pos, tau_neg)
  sig = 1 / (1 + np.exp(-tau * (ratio - 1)))
  gate = sig * 4 / tau
  return -gate * adv, 4 * sig * (1 - sig) * ratio * -adv


@pytest.mark.parametrize("taus", [(1.0, 1.05), (2.0, 4.0)])
def test_sapo_matches_verl_value_and_gradient(taus):
  """-sigmoid(tau (r - 1)) 4 / tau * A; gradient -A r 4 s (1 - s) (= -A r at r = 1), never exactly 0."""
  fn = lambda lp: sapo_token_loss(lp, jnp.asarray(OLD), jnp.asarray(ADV), tau_pos=taus[0], tau_neg=taus[1])
  expected, expected_grad = _verl_sapo(LOGP, OLD, ADV, *taus)
  np.testing.assert_allclose(np.asarray(fn(jnp.asarray(LOGP)).loss), expected, rtol=1e-5, atol=1e-6)
  grad = jax.grad(lambda lp: jnp.sum(fn(lp).loss))(jnp.asarray(LOGP))
  np.testing.assert_allclose(np.asarray(grad), expected_grad, rtol=1e-4, atol=1e-6)
  objective = build_objective({"policy_loss": "sapo", "loss_agg_mode": "seq-mean-token-mean",
                               "sapo": {"tau_pos": taus[0], "tau_neg": taus[1]}})
  loss, _ = objective.loss(_batch(), objective.init_state())
  assert float(loss) == pytest.approx(_seq_mean_token_mean(expected, MASK), rel=1e-5)


def test_sapo_by_hand_at_the_behaviour_policy():
  """r = 1: gate 2 / tau, so loss = -2 A / tau; slope 1, so d/d logp = -A (PPO's gradient at r = 1)."""
  zeros = jnp.zeros((1, 2))
  adv = jnp.asarray([[1.0, -1.0]])
  fn = lambda lp: jnp.sum(sapo_token_loss(lp, zeros, adv, tau_pos=1.0, tau_neg=2.0).loss)
  value, grad = jax.value_and_grad(fn)(zeros)
  assert float(value) == pytest.approx(-2.0 / 1.0 + 2.0 / 2.0, rel=1e-6)
  np.testing.assert_allclose(np.asarray(grad), [[-1.0, 1.0]], rtol=1e-6)
