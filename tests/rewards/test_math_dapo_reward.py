"""The math_dapo reward (verl's DAPO scorer): 'Answer:' extraction from the last 300 characters,
Minerva normalisation, the strict-box mode, and the configured reward values."""

from __future__ import annotations

import numpy as np
import pytest

from rlvr_jax.rewards import REWARDS, MathDapoReward, RewardConfig, dapo_prediction, normalize_final_answer


@pytest.mark.parametrize("raw, expected", [
    ("x = 5", "5"),                         # right-hand side of the last '='
    ("1,000", "1000"),                      # thousands separator of a plain integer
    ("1,2", "12"),                          # (verl quirk: any comma-separated digits count as one integer)
    ("5 dollars", "5"),                     # units removed after spaces are
    ("$\\frac{1}{2}$", "\\frac{1}{2}"),     # math kept, dollars dropped
    ("\\frac12", "\\frac{1}{2}"),           # shorthand expanded
    ("\\sqrt3", "\\sqrt{3}"),
    ("\\text{(B)}", "(B)"),
    ("90^\\circ", "90"),
    ("\\boxed{7}", "7"),
])
def test_normalize_final_answer(raw, expected):
  """Hand-worked Minerva normalisations."""
  assert normalize_final_answer(raw) == expected


def test_prediction_is_last_answer_line_in_the_tail():
  """The last 'Answer:' line counts, case-insensitively; one outside the final 300 characters does not;
  a bare box is no answer in the default mode but is the answer in strict mode (verbatim)."""
  assert dapo_prediction("Answer: 3\nmore work\nanswer:  $5$ ") == "5"
  assert dapo_prediction("Answer: 5\n" + "x" * 300) is None
  assert dapo_prediction("so \\boxed{5}") is None
  assert dapo_prediction("so \\boxed{ 5}", strict_box=True) == " 5"
  assert dapo_prediction("\\boxed{5}" + "." * 100, strict_box=True) is None  # box outside the last 100


def test_batch_scores_plus_minus_one():
  """verl's values (+1 / -1): equivalent normalised forms pass, wrong or missing answers fail."""
  reward = MathDapoReward(RewardConfig(correct=1.0, incorrect=-1.0))
  completions = ["Thus\nAnswer: \\frac12", "Answer: 6", "\\boxed{5}", "Answer: 1,000 dollars"]
  result = reward(completions, ["\\frac{1}{2}", "5", "5", "1000"])
  np.testing.assert_array_equal(result.correct, [True, False, False, True])
  np.testing.assert_array_equal(result.scores, np.array([1, -1, -1, 1], np.float32))
  assert result.metrics["no_answer"] == 1 and result.metrics["correct"] == 2
  assert result.extracted == ("\\frac{1}{2}", "6", None, "1000")


def test_strict_box_compares_verbatim():
  """Strict mode: the last box must equal the reference character for character (no normalisation)."""
  reward = MathDapoReward(strict_box=True)
  result = reward(["\\boxed{5}", "\\boxed{ 5}", "Answer: 5"], ["5", "5", "5"])
  np.testing.assert_array_equal(result.scores, [1, 0, 0])


def test_registered():
  """math_dapo is a registry entry built from a RewardConfig."""
  reward = REWARDS.get("math_dapo")(RewardConfig())
  assert isinstance(reward, MathDapoReward) and not reward.strict_box
