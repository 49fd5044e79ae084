"""The built-in arithmetic reward (exact integer match in the last box) and the format reward."""

from __future__ import annotations

import numpy as np
import pytest

from rlvr_jax.rewards import RewardConfig, build_reward, integer_match


@pytest.mark.parametrize("extracted, answer, expected", [
    ("122", "122", True), (" +122 ", "122", True), ("-7", "-7", True), ("1,234", "1234", True),
    ("121", "122", False), ("122.0", "122", False), ("12a", "12", False), (None, "3", False),
    ("0", "-0", True),
])
def test_integer_match(extracted, answer, expected):
  """Only the same integer counts; decimals, junk and missing answers do not."""
  assert integer_match(extracted, answer) is expected


def test_arithmetic_reward_batch():
  """Scores use the configured values; only the last box counts; plain-text answers are not accepted."""
  with build_reward("builtin_arithmetic", RewardConfig(correct=1.0, incorrect=-1.0)) as reward:
    result = reward(["\\boxed{122}", "\\boxed{5} no, \\boxed{6}", "The answer is 6.", "\\boxed{5}"],
                    ["122", "6", "6", "6"])
  np.testing.assert_array_equal(result.correct, [True, True, False, False])
  np.testing.assert_array_equal(result.scores, np.array([1, 1, -1, -1], np.float32))
  assert result.metrics["no_answer"] == 1 and result.metrics["correct"] == 2


def test_format_reward():
  """The format reward checks only for a closed, non-empty box, whatever the answer."""
  with build_reward("format") as reward:
    result = reward(["\\boxed{wrong}", "\\boxed{}", "\\boxed{1", "none"], ["1"] * 4)
  np.testing.assert_array_equal(result.scores, [1, 0, 0, 0])
  assert result.metrics["no_answer"] == 3
