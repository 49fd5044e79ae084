"""The math_verify reward: symbolic equivalence, wrong and missing answers, reward values, and a
pathological answer that hangs sympy (timed out, scored as incorrect, pool still working)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from rlvr_jax.rewards import REWARDS, MathVerifyReward, RewardConfig, build_reward


def crash_on_boom(task):
  """Injected verifier (module level, so workers import it): the answer 'boom' kills the worker."""
  predicted, reference = task
  if predicted == "boom":
    os._exit(1)
  return predicted == reference


@pytest.fixture(scope="module")
def reward():
  with build_reward("math_verify", RewardConfig(timeout_s=30.0, workers=2)) as r:
    yield r


@pytest.mark.parametrize("completion, answer", [
    ("so \\boxed{\\frac{1}{2}}", "0.5"),
    ("\\boxed{0.5}", "\\frac12"),
    ("\\boxed{\\dfrac{1}{2}}", "1/2"),
    ("\\boxed{2\\sqrt{2}}", "\\sqrt{8}"),
    ("\\boxed{x^2+2x+1}", "(x+1)^2"),
    ("\\boxed{50\\%}", "50"),
    ("The answer is 12.", "12"),
])
def test_equivalent_forms_are_correct(reward, completion, answer):
  """Different surface forms of the same value verify as correct and score 1."""
  result = reward([completion], [answer])
  assert result.correct.tolist() == [True], result
  assert result.scores.tolist() == [1.0]


def test_batch_scores_and_counts(reward):
  """Wrong answers score 0, missing answers are counted as no_answer, order is preserved."""
  completions = ["\\boxed{3}", "I give up", "\\boxed{\\frac{2}{3}}", "\\boxed{7}", "\\boxed{}"]
  answers = ["4", "1", "0.6666666667", "7", "2"]
  result = reward(completions, answers)
  assert result.scores.dtype == np.float32 and result.scores.shape == (5,)
  np.testing.assert_array_equal(result.correct, [False, False, True, True, False])
  np.testing.assert_array_equal(result.scores, [0, 0, 1, 1, 0])
  assert result.metrics["no_answer"] == 2 and result.metrics["correct"] == 2
  assert result.metrics["timeouts"] == result.metrics["crashes"] == 0
  assert result.extracted == ("3", None, "\\frac{2}{3}", "7", None)


def test_plus_minus_one_values_and_format_bonus():
  """Configured values {-1, +1} plus a 0.1 bonus for any boxed answer, right or wrong; a correct
  plain-text answer is verified but earns no format bonus."""
  config = RewardConfig(correct=1.0, incorrect=-1.0, format_weight=0.1, workers=1)
  with MathVerifyReward(config) as reward:
    result = reward(["\\boxed{4}", "\\boxed{5}", "four", "The answer is 4."], ["4", "4", "4", "4"])
  np.testing.assert_allclose(result.scores, [1.1, -0.9, -1.0, 1.0], rtol=1e-6)
  assert result.correct.tolist() == [True, False, False, True]


def test_hanging_answer_times_out_and_pool_continues():
  """`9^{9^{9^{9^9}}}` makes sympy hang; the sample scores `incorrect`, is counted, and the rest of the
  batch and the next batch are scored normally."""
  with MathVerifyReward(RewardConfig(timeout_s=3.0, workers=2, incorrect=-1.0)) as reward:
    result = reward(["\\boxed{9^{9^{9^{9^{9}}}}}", "\\boxed{2}", "\\boxed{3}"], ["1", "2", "4"])
    assert result.metrics["timeouts"] == 1
    np.testing.assert_array_equal(result.scores, [-1.0, 1.0, -1.0])
    again = reward(["\\boxed{6}"], ["6"])
    assert again.correct.tolist() == [True] and again.metrics["timeouts"] == 0


def test_mismatched_lengths_raise(reward):
  """A batch with unequal numbers of completions and answers is a caller bug: ValueError."""
  with pytest.raises(ValueError, match="2 completions but 1 answers"):
    reward(["a", "b"], ["1"])


def test_registry_entries_and_unknown_name():
  """The registry holds the three rewards, and an unknown name lists them in the error."""
  assert {"math_verify", "builtin_arithmetic", "format"} <= set(REWARDS.names())
  with pytest.raises(ValueError, match="reward.name='nope'.*math_verify"):
    build_reward("nope")


@pytest.mark.parametrize("kwargs, message", [
    (dict(timeout_s=0.0), "reward.timeout_s=0.0"),
    (dict(workers=0), "reward.workers=0"),
    (dict(correct=float("nan")), "reward.correct=nan"),
    (dict(format_weight="1"), "reward.format_weight='1'"),
])
def test_bad_config(kwargs, message):
  """Invalid reward settings raise ValueError naming the field and value."""
  with pytest.raises(ValueError, match=message):
    RewardConfig(**kwargs)


def test_worker_crash_scores_incorrect_and_is_counted():
  """A verifier that kills its process scores that sample `incorrect`, counts a crash, and the
  replaced worker scores the next batch."""
  with MathVerifyReward(RewardConfig(workers=1), verify_fn=crash_on_boom, initializer=None) as reward:
    result = reward(["\\boxed{7}", "\\boxed{boom}", "\\boxed{8}"], ["7", "7", "8"])
    np.testing.assert_array_equal(result.scores, [1, 0, 1])
    assert result.metrics["crashes"] == 1
    assert reward(["\\boxed{3}"], ["3"]).correct.tolist() == [True]
