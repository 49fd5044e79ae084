"""Entropy bonus, adaptive entropy coefficient and the entropy-based advantage."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import TrainingProgress
from rlvr_jax.objectives._batch import ObjectiveState, PPOClipParams, TokenBatch
from rlvr_jax.objectives.transforms.entropy_advantage import EntropyAdvantage
from rlvr_jax.objectives.transforms.entropy_bonus import AdaptiveEntropyBonus, EntropyBonus

MASK = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.float32)
ENTROPY = np.array([[0.5, 1.0, 0.1, 7.0], [2.0, 0.3, 7.0, 7.0]], np.float32)
ADV = np.array([[1.0] * 4, [-0.2] * 4], np.float32) * MASK
PROGRESS = TrainingProgress.create(1, 10)


def _batch(entropy=ENTROPY, adv=ADV) -> TokenBatch:
  zeros = jnp.zeros(MASK.shape)
  return TokenBatch.create(response_mask=jnp.asarray(MASK), advantages=jnp.asarray(adv), logp=zeros,
                           old_logp=zeros, entropy=jnp.asarray(entropy),
                           old_entropy=jnp.asarray(entropy) * 2)


def _apply(transform, batch, transform_state=None, mode="token-mean") -> ObjectiveState:
  state = ObjectiveState.initial(batch, PPOClipParams(), mode)
  return transform.apply(batch, state, transform_state or transform.init_state(), None)


def test_entropy_bonus_is_minus_coef_times_aggregated_entropy():
  """-coef * agg(H) in the policy's mode; gradient -coef / N on each valid token."""
  out = _apply(EntropyBonus(coef=0.01), _batch())
  token_mean = (ENTROPY * MASK).sum() / MASK.sum()
  assert float(out.extra_losses["entropy_bonus"]) == pytest.approx(-0.01 * token_mean, rel=1e-5)
  seq_mean = _apply(EntropyBonus(coef=0.01), _batch(), mode="seq-mean-token-mean")
  rows = [(ENTROPY[i] * MASK[i]).sum() / MASK[i].sum() for i in range(2)]
  assert float(seq_mean.extra_losses["entropy_bonus"]) == pytest.approx(-0.01 * np.mean(rows), rel=1e-5)
  grad = jax.grad(lambda h: _apply(EntropyBonus(coef=0.01), _batch(entropy=h)).extra_losses[
      "entropy_bonus"])(jnp.asarray(ENTROPY))
  np.testing.assert_allclose(np.asarray(grad), -0.01 * MASK / MASK.sum(), rtol=1e-5)


def test_adaptive_coefficient_update_and_floor():
  """c += step when H < target, c -= step otherwise, never below 0."""
  transform = AdaptiveEntropyBonus(target_entropy=0.5, initial_coef=0.0, coef_step=0.01)
  state = transform.init_state()
  state = transform.update_state(state, {"entropy/mean": jnp.asarray(0.4)}, PROGRESS)
  state = transform.update_state(state, {"entropy/mean": jnp.asarray(0.4)}, PROGRESS)
  assert float(state["coef"]) == pytest.approx(0.02)
  for _ in range(3):
    state = transform.update_state(state, {"entropy/mean": jnp.asarray(0.6)}, PROGRESS)
  assert float(state["coef"]) == 0.0


def test_adaptive_bonus_is_gated_off_above_target():
  """Skywork gate: no bonus while the batch's mean entropy exceeds the target; ungated it applies."""
  state = {"coef": jnp.asarray(0.1)}
  mean_entropy = (ENTROPY * MASK).sum() / MASK.sum()  # 0.78
  gated = _apply(AdaptiveEntropyBonus(target_entropy=0.5), _batch(), state)
  assert float(gated.extra_losses["adaptive_entropy"]) == 0.0
  below = _apply(AdaptiveEntropyBonus(target_entropy=1.0), _batch(), state)
  assert float(below.extra_losses["adaptive_entropy"]) == pytest.approx(-0.1 * mean_entropy, rel=1e-5)
  ungated = _apply(AdaptiveEntropyBonus(target_entropy=0.5, gate_above_target=False), _batch(), state)
  assert float(ungated.extra_losses["adaptive_entropy"]) == pytest.approx(-0.1 * mean_entropy, rel=1e-5)


@pytest.mark.parametrize("kappa", [1.0, 2.0])
def test_entropy_advantage_adds_clipped_detached_bonus(kappa):
  """A' = A + min(alpha H, |A| / kappa) on valid tokens; the sign of a negative A never flips."""
  out = _apply(EntropyAdvantage(alpha=0.4, kappa=kappa), _batch())
  expected = (ADV + np.minimum(0.4 * ENTROPY, np.abs(ADV) / kappa)) * MASK
  np.testing.assert_allclose(np.asarray(out.advantages), expected, rtol=1e-6)
  negative = (ADV < 0) & (MASK > 0)
  assert np.all(np.asarray(out.advantages)[negative] <= 0)
  grad = jax.grad(lambda h: jnp.sum(_apply(EntropyAdvantage(), _batch(entropy=h)).advantages))(
      jnp.asarray(ENTROPY))
  np.testing.assert_array_equal(np.asarray(grad), 0.0)


def test_entropy_advantage_zero_advantage_gets_no_bonus():
  """|A| = 0 caps the bonus at 0: zero-variance groups stay at zero advantage."""
  out = _apply(EntropyAdvantage(), _batch(adv=np.zeros_like(ADV)))
  np.testing.assert_array_equal(np.asarray(out.advantages), 0.0)


def test_entropy_advantage_old_source_uses_rollout_entropy():
  """entropy_source='old' reads old_entropy (here 2x the current entropy)."""
  out = _apply(EntropyAdvantage(alpha=0.1, entropy_source="old"), _batch())
  expected = (ADV + np.minimum(0.1 * 2 * ENTROPY, np.abs(ADV))) * MASK
  np.testing.assert_allclose(np.asarray(out.advantages), expected, rtol=1e-6)
