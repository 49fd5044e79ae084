"""The forking-token entropy bonus against a hand-computed case and a numpy transcription."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._batch import ObjectiveState, PPOClipParams, TokenBatch
from rlvr_jax.objectives.transforms.entropy_bonus import EntropyBonus
from rlvr_jax.objectives.transforms.fork_entropy_bonus import ForkEntropyBonus

MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], np.float32)
ENTROPY = np.array([[0.5, 3.0, 0.1, 0.2, 0.4], [2.0, 0.3, 0.6, 9.0, 9.0]], np.float32)


def _batch(entropy=ENTROPY) -> TokenBatch:
  zeros = jnp.zeros(MASK.shape)
  return TokenBatch.create(response_mask=jnp.asarray(MASK), advantages=zeros, logp=zeros, old_logp=zeros,
                           entropy=jnp.asarray(entropy), old_entropy=jnp.asarray(entropy))


def _term(transform, entropy=ENTROPY, mode="token-mean"):
  batch = _batch(entropy)
  state = ObjectiveState.initial(batch, PPOClipParams(), mode)
  return transform.apply(batch, state, transform.init_state(), None)


def _numpy_reference(entropy, mask, coef, top_ratio):
  """One group (no group ids given): k = max(1, int(n * rho + 0.9999)) forks among the n valid tokens,
  bonus = -coef * sum(H at forks) / n (token-mean)."""
  valid = entropy[mask > 0]
  k = max(1, int(valid.size * top_ratio + 0.9999))
  forks = np.sort(valid)[::-1][:k]
  return -coef * forks.sum() / valid.size


def test_hand_computed_case():
  """8 valid tokens, rho 0.2: k = int(1.6 + 0.9999) = 2 forks, H = 3.0 and 2.0 (the 9.0s are padding):
  -0.01 * 5.0 / 8; the gradient is -coef / 8 on the forks and 0 elsewhere."""
  out = _term(ForkEntropyBonus(coef=0.01, top_ratio=0.2))
  assert float(out.extra_losses["fork_entropy_bonus"]) == pytest.approx(-0.01 * 5.0 / 8, rel=1e-6)
  assert float(out.metrics["fork_entropy_bonus/fork_frac"]) == pytest.approx(2 / 8)
  grad = jax.grad(lambda h: _term(ForkEntropyBonus(coef=0.01), h).extra_losses["fork_entropy_bonus"])(
      jnp.asarray(ENTROPY))
  expected = np.zeros_like(ENTROPY)
  expected[0, 1] = expected[1, 0] = -0.01 / 8
  np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("top_ratio", [0.1, 0.3, 0.5, 0.9])
def test_matches_the_numpy_transcription(top_ratio):
  rng = np.random.default_rng(int(top_ratio * 10))
  entropy = rng.uniform(0, 3, MASK.shape).astype(np.float32)
  out = _term(ForkEntropyBonus(coef=0.02, top_ratio=top_ratio), entropy)
  assert float(out.extra_losses["fork_entropy_bonus"]) == pytest.approx(
      _numpy_reference(entropy, MASK, 0.02, top_ratio), rel=1e-5)


def test_every_token_a_fork_is_the_plain_entropy_bonus():
  for mode in ("token-mean", "seq-mean-token-mean"):
    fork = _term(ForkEntropyBonus(coef=0.01, top_ratio=1.0), mode=mode).extra_losses["fork_entropy_bonus"]
    plain = _term(EntropyBonus(coef=0.01), mode=mode).extra_losses["entropy_bonus"]
    assert float(fork) == pytest.approx(float(plain), rel=1e-6)


def test_the_method_preset_builds_and_bad_values_are_named():
  objective = build_objective({"transforms": ("fork_entropy_bonus",)})
  assert objective is not None
  with pytest.raises(ValueError, match="fork_entropy_bonus.*top_ratio"):
    ForkEntropyBonus(top_ratio=0.0)
