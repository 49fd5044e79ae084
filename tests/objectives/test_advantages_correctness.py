"""W-REINFORCE / PSR / NSR are defined by the reward's verdict, under both reward conventions.

The numpy transcription below is RLVR-Decomposed @ 84be7a22 (`compute_psr_nsr_outcome_advantage` plus
the batch subsetting and assertion of `ray_trainer.fit`): advantage = return R on every token up to the
last one, "positive": R, "negative": R - 1, "weighted": R * lambda where R == 1 and R - 1 where R == 0;
PSR / NSR keep R == 1 / R == 0 rows, and every score must be 0 or 1.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives.advantages import compute_advantages

CORRECT = np.array([True, False, True, False, False, True], bool)
LENGTHS = np.array([3, 4, 1, 0, 2, 4])
T = 4
MASK = (np.arange(T)[None, :] < LENGTHS[:, None]).astype(np.float32)
GROUPS = np.array([0, 0, 0, 1, 1, 1], np.int32)


def _reference(scores, mask, advantage, weight):
  """RLVR-Decomposed, literally (gamma = 1, no KL in reward): returns -> advantages, plus the subset."""
  correct_idx = scores == 1
  incorrect_idx = scores == 0
  assert correct_idx.sum() + incorrect_idx.sum() == scores.size, "reference asserts binary {0, 1} scores"
  token_rewards = np.zeros_like(mask)
  for i, length in enumerate(mask.sum(-1).astype(int)):
    if length:
      token_rewards[i, length - 1] = scores[i]
  returns = np.zeros_like(mask)
  running = np.zeros(mask.shape[0], np.float32)
  for t in reversed(range(mask.shape[1])):
    running = token_rewards[:, t] + running
    returns[:, t] = running
    running = running * mask[:, t]
  if advantage == "positive":
    advantages, keep = returns.copy(), correct_idx
  elif advantage == "negative":
    advantages, keep = returns - 1, incorrect_idx
  else:
    advantages, keep = returns.copy(), np.ones_like(correct_idx)
    advantages[correct_idx] *= weight
    advantages[incorrect_idx] -= 1
  return advantages * mask * keep[:, None], keep


def _run(name, rewards, correct=CORRECT, **hparams):
  return compute_advantages(name, jnp.asarray(rewards), jnp.asarray(MASK), jnp.asarray(GROUPS),
                            correct=jnp.asarray(correct), **hparams)


@pytest.mark.parametrize("name,advantage", [("w_reinforce", "weighted"), ("psr", "positive"),
                                            ("nsr", "negative")])
@pytest.mark.parametrize("weight", [0.1, 0.5])
def test_matches_reference_code_on_binary_rewards(name, advantage, weight):
  """{0, 1} rewards with correct <=> R == 1: advantages and kept rows equal the reference exactly."""
  rewards = CORRECT.astype(np.float32)
  hparams = {"positive_weight": weight} if name == "w_reinforce" else {}
  out = _run(name, rewards, **hparams)
  expected, keep = _reference(rewards, MASK, advantage, weight)
  np.testing.assert_array_equal(np.asarray(out.keep), keep)
  np.testing.assert_allclose(np.asarray(out.advantages), expected, rtol=1e-7, atol=0)


def test_plus_minus_one_rewards_give_the_method_advantages():
  """STEER's +-1 rewards: an incorrect answer gets -1 (not R - 1 = -2), the correct ones lambda / +1.

  The same advantages as on {0, 1} rewards, because only the verdict decides.
  """
  plus_minus = np.where(CORRECT, 1.0, -1.0).astype(np.float32)
  binary = CORRECT.astype(np.float32)
  for name, hparams in [("w_reinforce", {"positive_weight": 0.1}), ("psr", {}), ("nsr", {})]:
    a = _run(name, plus_minus, **hparams)
    b = _run(name, binary, **hparams)
    np.testing.assert_array_equal(np.asarray(a.advantages), np.asarray(b.advantages))
    np.testing.assert_array_equal(np.asarray(a.keep), np.asarray(b.keep))
  w = np.asarray(_run("w_reinforce", plus_minus, positive_weight=0.1).advantages)
  # Row by row by hand: correct rows 0, 2, 5 -> 0.1 on their tokens; incorrect rows 1, 4 -> -1; row 3 empty.
  expected = np.array([[0.1, 0.1, 0.1, 0], [-1, -1, -1, -1], [0.1, 0, 0, 0], [0, 0, 0, 0], [-1, -1, 0, 0],
                       [0.1, 0.1, 0.1, 0.1]], np.float32)
  np.testing.assert_allclose(w, expected, rtol=1e-7)
  n = _run("nsr", plus_minus)
  np.testing.assert_array_equal(np.asarray(n.keep), ~CORRECT)
  assert np.asarray(n.advantages).min() == -1.0


def test_shaped_rewards_do_not_change_the_verdict():
  """A correct answer with an overlong penalty (0.7) is still correct; a wrong one with a format bonus
  (0.1) still incorrect: the value never decides (the old value-based rule gave 0.7 and 0.1 here)."""
  shaped = np.where(CORRECT, 0.7, 0.1).astype(np.float32)
  w = np.asarray(_run("w_reinforce", shaped, positive_weight=0.2).advantages)
  np.testing.assert_allclose(w[:, 0], [0.2, -1.0, 0.2, 0.0, -1.0, 0.2], rtol=1e-7)
  p = _run("psr", shaped)
  np.testing.assert_array_equal(np.asarray(p.keep), CORRECT)
  assert float(p.metrics["advantages/kept_fraction"]) == pytest.approx(0.5)
