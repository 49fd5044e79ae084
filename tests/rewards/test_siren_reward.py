"""siren_math_verify (SIREN's `reward_func`): math-verify on the whole response with the reference's
argument order (the parsed response is `gold`), exceptions scoring 0, and the batch reward."""

from __future__ import annotations

import numpy as np
import pytest

from rlvr_jax.rewards import REWARDS, RewardConfig, SirenMathVerifyReward, build_reward, _siren_reward as siren_reward

# A pair on which math-verify is not symmetric: a relation as gold is turned into a set to meet an
# interval, an interval as gold is not (math_verify.grader.sympy_expr_eq).
INTERVAL_RESPONSE, RELATION_REFERENCE = "so \\boxed{(1,2)}", "$1 < x < 2$"
RELATION_RESPONSE, INTERVAL_REFERENCE = "so \\boxed{1 < x < 2}", "$(1,2)$"


@pytest.fixture(scope="module")
def reward():
  with build_reward("siren_math_verify", RewardConfig(workers=1, timeout_s=60.0)) as r:
    yield r


def test_argument_order_is_the_reference_one():
  """verify(parse(response), parse(reference)): the response's relation meets the reference's interval,
  not the other way round (swapping the arguments flips both verdicts)."""
  assert siren_reward.verify_in_worker((RELATION_RESPONSE, INTERVAL_REFERENCE)) == (True, "1 < x < 2")
  assert siren_reward.verify_in_worker((INTERVAL_RESPONSE, RELATION_REFERENCE)) == (False, "(1,2)")


def test_batch(reward):
  """The whole response is parsed (no box needed); 1 / 0; `extracted` is math-verify's match."""
  completions = ["Adding them gives \\boxed{0.5}", "The answer is 12", "I do not know",
                 INTERVAL_RESPONSE, RELATION_RESPONSE, "\\boxed{7}"]
  answers = ["\\frac{1}{2}", "12", "3", RELATION_REFERENCE, INTERVAL_REFERENCE, "8"]
  result = reward(completions, answers)
  np.testing.assert_array_equal(result.correct, [True, True, False, False, True, False])
  np.testing.assert_array_equal(result.scores, np.array([1, 1, 0, 0, 1, 0], np.float32))
  # math-verify's text of what it matched (it writes 0.5 as \frac{1}{2})
  assert result.extracted == ("\\frac{1}{2}", "12", None, "(1,2)", "1 < x < 2", "7")
  assert result.metrics == {"correct": 3, "no_answer": 1, "timeouts": 0, "crashes": 0, "errors": 0}


def test_differs_from_the_math_verify_entry(reward):
  """The project's `math_verify` parses the reference as gold, so on the asymmetric pair it disagrees."""
  with build_reward("math_verify", RewardConfig(workers=1)) as ours:
    assert ours([INTERVAL_RESPONSE], [RELATION_REFERENCE]).correct.tolist() == [True]
  assert reward([INTERVAL_RESPONSE], [RELATION_REFERENCE]).correct.tolist() == [False]


def test_exceptions_score_zero(monkeypatch):
  """Any exception in parse or verify is a 0, as in the reference's `except Exception`."""
  import math_verify

  def broken(*args, **kwargs):
    raise RuntimeError("parser bug")

  monkeypatch.setattr(math_verify, "parse", broken)
  assert siren_reward.verify_in_worker(("\\boxed{1}", "1")) == (False, None)


def test_plus_minus_values_and_format_bonus():
  """Values come from the config; the format bonus is paid where math-verify found an answer."""
  with SirenMathVerifyReward(RewardConfig(correct=1.0, incorrect=-1.0, format_weight=0.5, workers=1)) as r:
    result = r(["\\boxed{4}", "\\boxed{5}", "no idea"], ["4", "4", "4"])
  np.testing.assert_allclose(result.scores, [1.5, -0.5, -1.0])


def test_odd_inputs_never_raise(reward):
  """Unicode, huge and unbalanced responses are scored, never raised on."""
  completions = ["\\boxed{５}", "x" * 100_000 + " \\boxed{1}", "\\boxed{{{}", "\ud800", ""]
  result = reward(completions, ["5", "1", "1", "1", "1"])
  assert result.scores.shape == (5,) and result.correct[1] and result.metrics["crashes"] == 0


def test_registered():
  """siren_math_verify is a registry factory of a RewardConfig."""
  reward = REWARDS.get("siren_math_verify")(RewardConfig(workers=1))
  assert isinstance(reward, SirenMathVerifyReward)
  reward.close()
