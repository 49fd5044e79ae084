"""STEER weights against a numpy transcription of the released code (algorithms.md §5.2)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._batch import ObjectiveState, PPOClipParams, TokenBatch
from rlvr_jax.objectives._policy_loss import ppo_token_loss
from rlvr_jax.objectives.transforms.steer import Steer, steer_weights

MASK = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], np.float32)
ADV = np.array([[1.0] * 4, [-0.5] * 4, [2.0] * 4], np.float32) * MASK
LOGP = np.log(np.array([[0.9, 0.2, 0.5, 0.3], [0.05, 0.7, 0.4, 0.4], [0.99, 0.6, 0.01, 0.3]], np.float32))
OLD_LOGP = np.log(np.array([[0.8, 0.25, 0.5, 0.3], [0.1, 0.6, 0.4, 0.4], [0.95, 0.7, 0.02, 0.35]],
                           np.float32))
OLD_ENTROPY = np.array([[0.3, 1.2, 0.8, 0.0], [2.0, 0.5, 0.0, 0.0], [0.05, 0.9, 1.5, 0.7]], np.float32)


def _batch(norm_group=(0, 0, 0), num_groups=1, **overrides) -> TokenBatch:
  fields = dict(response_mask=MASK, advantages=ADV, logp=LOGP, old_logp=OLD_LOGP, old_entropy=OLD_ENTROPY)
  fields.update(overrides)
  return TokenBatch.create(**{k: jnp.asarray(v) for k, v in fields.items()},
                           norm_group=jnp.asarray(norm_group), num_norm_groups=num_groups)


def _state(batch: TokenBatch, ppo: PPOClipParams = PPOClipParams()) -> ObjectiveState:
  return ObjectiveState.initial(batch, ppo, "token-mean")


def _code_omega(adv=ADV, logp=LOGP, old_logp=OLD_LOGP, entropy=OLD_ENTROPY) -> np.ndarray:
  x = np.clip(np.exp(logp.astype(np.float64)), 1e-8, 1 - 1e-8)
  f = x * (1 - x) * (np.log(x) + entropy)
  omega = adv / np.clip(np.exp(old_logp.astype(np.float64)), 1e-8, 1.0) * f
  return np.where(np.isfinite(omega), omega, 0.0)


def _reference_exponential(omega, valid, w_min, floor=0.02):
  magnitude = np.abs(omega)
  m_max = magnitude[valid].max()
  k = -math.log(w_min) / max(m_max, floor)
  return np.where(valid, np.clip(np.exp(-k * magnitude), w_min, 1.0), 0.0)


def _reference_linear(omega, valid, w_min, w_max):
  magnitude = np.abs(omega)
  m_min, m_max = magnitude[valid].min(), magnitude[valid].max()
  w = w_max - (magnitude - m_min) * (w_max - w_min) / (m_max - m_min)
  return np.where(valid, np.clip(w, w_min, w_max), 0.0)


def test_exponential_weights_match_released_code():
  """Default (run_exp.sh) weights: w_min at the largest |Omega|, exp decay, 0 on padding."""
  batch = _batch()
  weights, _ = steer_weights(Steer(), batch, _state(batch))
  expected = _reference_exponential(_code_omega(), MASK > 0, 0.8)
  np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5, atol=1e-6)
  assert np.isclose(np.asarray(weights)[MASK > 0].min(), 0.8, atol=1e-6)


def test_linear_weights_match_released_code():
  """run_linear.sh: |Omega| mapped linearly from w_max (smallest) down to w_min (largest)."""
  batch = _batch()
  weights, _ = steer_weights(Steer(w_min=0.8, w_max=1.2, mapping="linear"), batch, _state(batch))
  expected = _reference_linear(_code_omega(), MASK > 0, 0.8, 1.2)
  np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5, atol=1e-6)


def test_small_omega_batch_is_not_stretched_by_the_scale_floor():
  """With max|Omega| < 0.02 the code divides by 0.02, so no token reaches w_min."""
  tiny_adv = ADV * 1e-3
  batch = _batch(advantages=tiny_adv)
  weights, _ = steer_weights(Steer(), batch, _state(batch))
  expected = _reference_exponential(_code_omega(adv=tiny_adv), MASK > 0, 0.8)
  assert np.abs(_code_omega(adv=tiny_adv)).max() < 0.02
  np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5, atol=1e-6)
  assert np.asarray(weights)[MASK > 0].min() > 0.8


def test_micro_batch_scope_normalizes_each_group_separately():
  """Reference parity: min/max per micro-batch; rows 0-1 and row 2 are scaled independently."""
  batch = _batch(norm_group=(0, 0, 1), num_groups=2)
  weights, _ = steer_weights(Steer(norm_scope="micro_batch"), batch, _state(batch))
  omega = _code_omega()
  expected = np.zeros_like(omega)
  for rows in ([0, 1], [2]):
    expected[rows] = _reference_exponential(omega[rows], MASK[rows] > 0, 0.8)
  np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5, atol=1e-6)
  mini, _ = steer_weights(Steer(norm_scope="mini_batch"), batch, _state(batch))
  assert not np.allclose(np.asarray(mini), expected)


def test_all_masked_group_gets_zero_weight_and_no_nan():
  """A micro-batch without response tokens yields weight 0 (code: `if none valid: w = 0`)."""
  mask = MASK.copy()
  mask[2] = 0
  batch = _batch(response_mask=mask, advantages=ADV * mask, norm_group=(0, 0, 1), num_groups=2)
  for mapping in ("exponential", "linear"):
    weights, _ = steer_weights(Steer(mapping=mapping, w_max=1.2 if mapping == "linear" else 1.0,
                                     norm_scope="micro_batch"), batch, _state(batch))
    weights = np.asarray(weights)
    assert np.all(np.isfinite(weights))
    np.testing.assert_array_equal(weights[2], 0.0)


def test_non_finite_omega_counts_as_zero():
  """NaN entropy -> Omega set to 0 before |.|: weight 1 (exp) and it does not set the max."""
  entropy = OLD_ENTROPY.copy()
  entropy[0, 1] = np.nan
  batch = _batch(old_entropy=entropy)
  weights, omega = steer_weights(Steer(), batch, _state(batch))
  assert np.asarray(omega)[0, 1] == 0.0
  assert np.asarray(weights)[0, 1] == pytest.approx(1.0)
  expected = _reference_exponential(_code_omega(entropy=entropy), MASK > 0, 0.8)
  np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5, atol=1e-6)


def test_linear_with_equal_magnitudes_gives_midpoint():
  """All |Omega| equal (here all A = 0) -> (w_min + w_max) / 2 as in the code."""
  batch = _batch(advantages=np.zeros_like(ADV))
  weights, _ = steer_weights(Steer(w_min=0.8, w_max=1.2, mapping="linear"), batch, _state(batch))
  np.testing.assert_allclose(np.asarray(weights), np.where(MASK > 0, 1.0, 0.0), atol=1e-6)


def test_theorem_form_uses_ratio_and_clip_indicator():
  """Theorem form: r A I_clip pi(1-pi)(log pi + H); a clipped token has Omega 0 -> weight 1."""
  batch = _batch()
  ppo = PPOClipParams(eps_low=0.2, eps_high=0.05, dual_clip_c=3.0)
  weights, omega = steer_weights(Steer(omega_form="theorem"), batch, _state(batch, ppo))
  x = np.clip(np.exp(LOGP.astype(np.float64)), 1e-8, 1 - 1e-8)
  ratio = np.exp(LOGP.astype(np.float64) - OLD_LOGP)
  active = np.asarray(ppo_token_loss(jnp.asarray(LOGP), jnp.asarray(OLD_LOGP), jnp.asarray(ADV),
                                     eps_low=0.2, eps_high=0.05, dual_clip_c=3.0).gradient_active)
  expected_omega = -np.where(active, ratio * ADV, 0.0) * x * (1 - x) * (np.log(x) + OLD_ENTROPY)
  np.testing.assert_allclose(np.asarray(omega), expected_omega, rtol=1e-5, atol=1e-7)
  clipped = (MASK > 0) & ~active
  assert clipped.any()  # row 0 token 0: ratio 1.125 > 1.05 with A > 0
  np.testing.assert_allclose(np.asarray(weights)[clipped], 1.0)
  expected = _reference_exponential(expected_omega, MASK > 0, 0.8)
  np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5, atol=1e-6)


def test_asymmetric_linear_orders_by_signed_change():
  """Asymmetric: most entropy-decreasing token -> w_min, most entropy-increasing -> w_max."""
  batch = _batch()
  weights, omega = steer_weights(Steer(w_min=0.9, w_max=1.0, mapping="linear", mode="asymmetric"),
                                 batch, _state(batch))
  signed = -_code_omega()
  valid = MASK > 0
  s_min, s_max = signed[valid].min(), signed[valid].max()
  expected = np.where(valid, 0.9 + (signed - s_min) * 0.1 / (s_max - s_min), 0.0)
  np.testing.assert_allclose(np.asarray(omega)[valid], signed[valid], rtol=1e-5)
  np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5, atol=1e-6)


def test_asymmetric_exponential_keeps_entropy_increasing_tokens():
  """Asymmetric exp: w = clip(exp(+k Omega_signed), w_min, w_max); increasing tokens stay at w_max."""
  batch = _batch()
  weights, _ = steer_weights(Steer(mode="asymmetric"), batch, _state(batch))
  signed = -_code_omega()
  valid = MASK > 0
  k = -math.log(0.8) / max(np.abs(signed[valid]).max(), 0.02)
  expected = np.where(valid, np.clip(np.exp(k * signed), 0.8, 1.0), 0.0)
  np.testing.assert_allclose(np.asarray(weights), expected, rtol=1e-5, atol=1e-6)
  assert np.all(np.asarray(weights)[valid & (signed > 0)] == 1.0)


def test_weights_are_constants_in_the_gradient():
  """d loss / d logp = w * d PPO / d logp: no gradient flows through the weights themselves."""
  objective = build_objective({"transforms": ("steer",)})
  state = objective.init_state()

  def steer_loss(logp):
    return objective.loss(_batch(logp=logp), state)[0]

  batch = _batch()
  weights, _ = steer_weights(Steer(), batch, _state(batch))

  def weighted_ppo(logp):
    out = ppo_token_loss(logp, jnp.asarray(OLD_LOGP), jnp.asarray(ADV), dual_clip_c=3.0)
    return jnp.sum(weights * out.loss * MASK) / (MASK.sum() + 1e-8)

  np.testing.assert_allclose(jax.grad(steer_loss)(jnp.asarray(LOGP)),
                             jax.grad(weighted_ppo)(jnp.asarray(LOGP)), rtol=1e-5, atol=1e-7)


def test_bfloat16_inputs_are_cast_up():
  """bf16 inputs give float32 weights close to the float32 computation."""
  batch = _batch(logp=LOGP.astype(jnp.bfloat16), old_logp=OLD_LOGP.astype(jnp.bfloat16),
                 old_entropy=OLD_ENTROPY.astype(jnp.bfloat16))
  weights, _ = steer_weights(Steer(), batch, _state(batch))
  assert weights.dtype == jnp.float32
  expected = _reference_exponential(_code_omega(), MASK > 0, 0.8)
  np.testing.assert_allclose(np.asarray(weights), expected, atol=2e-2)
