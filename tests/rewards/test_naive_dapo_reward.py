"""naive_dapo (Beyond the 80/20): `</think>` handling and box extraction, the grade (mathd, sympy, PRIME
math_equal) with its \\pi quirk, and the batch reward; parity of `compute_score` with the literal
transcriptions of its parts (Beyond-the-80-20-Rule-RLVR @097092a, naive_dapo.py) on LaTeX-free inputs."""

from __future__ import annotations

import numpy as np
import pytest

from rlvr_jax.rewards import REWARDS, NaiveDapoReward, RewardConfig, build_reward
from rlvr_jax.rewards._naive_dapo_grader import grade
from rlvr_jax.rewards._reference_extraction import naive_dapo_answer
from tests.rewards.test_mathd_normalize import _ref_normalize_answer
from tests.rewards.test_prime_grader import _ref_math_equal
from tests.rewards.test_sympy_grader import _ref_grade_answer_sympy

# --- literal transcription of the reference's extraction and compute_score -------------------------------


def _ref_last_boxed_only_string(string):
  idx = string.rfind("\\boxed")
  if idx < 0:
    idx = string.rfind("\\fbox")
    if idx < 0:
      return None
  i = idx
  left_brace_idx = None
  right_brace_idx = None
  num_left_braces_open = 0
  while i < len(string):
    if string[i] == "{":
      num_left_braces_open += 1
      if left_brace_idx is None:
        left_brace_idx = i
    elif string[i] == "}":
      num_left_braces_open -= 1
      if num_left_braces_open == 0:
        right_brace_idx = i
        break
    i += 1
  if left_brace_idx is None or right_brace_idx is None:
    return None
  return string[left_brace_idx + 1:right_brace_idx].strip()


def _ref_match_answer(response):
  is_matched = False
  response = response.split("</think>")[-1]
  ans_boxed = _ref_last_boxed_only_string(response)
  if ans_boxed:
    is_matched = True
    response = ans_boxed
  return is_matched, response


def _ref_grade_answer(given_answer, ground_truth):
  if _ref_normalize_answer(ground_truth, units=False) == _ref_normalize_answer(given_answer, units=False):
    return True
  return _ref_grade_answer_sympy(given_answer, ground_truth, naive=True)


def _ref_compute_score(solution_str, ground_truth):
  is_matched, extracted_model_output = _ref_match_answer(str(solution_str))
  ground_truth = str(ground_truth)
  correct = _ref_grade_answer(extracted_model_output, ground_truth)
  if not correct:
    try:
      if "\\pi" in extracted_model_output or "\\pi" in ground_truth:
        raise TypeError("math_equal() got an unexpected keyword argument 'tiemout'")
      correct = _ref_math_equal(extracted_model_output, ground_truth)
    except:  # noqa: E722
      correct = False
  return {"score": 1.0 if correct else 0.0, "acc": correct}


# --- extraction ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("response, expected", [
    ("so \\boxed{5}", (True, "5")),
    ("\\boxed{ 5 }", (True, "5")),                                       # stripped
    ("<think>\\boxed{4}</think>so \\boxed{5}", (True, "5")),
    ("<think>\\boxed{4}</think>no box", (False, "no box")),             # only after the last </think>
    ("a</think>b</think>\\boxed{6}", (True, "6")),
    ("\\fbox{7}", (True, "7")),                                          # \fbox when there is no \boxed
    ("\\fbox{7} \\boxed{8}", (True, "8")),
    ("\\boxed{8} \\fbox{7}", (True, "8")),                               # \boxed wins wherever it is
    ("\\boxed {9}", (True, "9")),                                        # first brace group after it
    ("\\boxed 5 and {x}", (True, "x")),
    ("\\boxed{\\frac{1}{2}}", (True, "\\frac{1}{2}")),
    ("\\boxed{}", (False, "\\boxed{}")),                                 # empty: the whole text is graded
    ("\\boxed{5", (False, "\\boxed{5")),                                 # unclosed: likewise
    ("\\boxed{5}" + "x" * 10_000, (True, "5")),                          # no truncation
])
def test_extraction(response, expected):
  """`match_answer`: the last box after `</think>`, else the whole text after it."""
  assert naive_dapo_answer(response) == expected


@pytest.mark.parametrize("response", ["\\boxed}{5}", "}\\boxed{5}", "\\boxed{{5}", "\\boxed", "</think>",
                                      "\\fbox{a}\\fbox{b}", "\\boxed{a}}", "x</think>\\boxed{ }", ""])
def test_extraction_parity(response):
  """Equal to the transcribed `match_answer` on edge cases."""
  assert naive_dapo_answer(response) == _ref_match_answer(response)


# --- grading ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, truth, expected", [
    ("\\frac12", "\\frac{1}{2}", True),          # mathd
    ("0.5", "\\frac{1}{2}", True),               # mathd: 0.5 -> \frac{1}{2}
    ("1,000", "1000", True),                      # sympy grader
    ("3.0", "3", True),
    ("50", "0.5", True),                          # math_equal: percentage (x100)
    ("$5", "5", True),
    ("\\frac{2}{4}", "\\frac{1}{2}", False),     # pylatexenc: "2/4", unreduced, so a string match is needed;
                                                  # math_equal cannot parse LaTeX (prime_grader)
    ("2\\pi", "6.2832", False),                   # \pi: math_equal never runs (misspelled keyword)
    ("2\\pi", "2\\pi", True),                     # ... but equal strings still match
    ("x_1", "1", False),                          # math_equal raises on "x_1": wrong
    ("7", "8", False),
    ("the answer is 5", "5", False),              # unboxed text is graded whole
    ("5", "5", True),                             # ... so a bare "5" after </think> is right
])
def test_grade(answer, truth, expected):
  """Hand-worked verdicts of naive_dapo."""
  assert grade(answer, truth) is expected


_PARITY_CASES = [
    ("\\boxed{5}", "5"), ("\\boxed{5.0}", "5"), ("\\boxed{1,000}", "1000"), ("\\boxed{50}", "0.5"),
    ("\\boxed{$5}", "5"), ("\\boxed{(1, 2)}", "(1,2)"), ("\\boxed{(1, 2)}", "[1,2]"), ("5", "5"),
    ("<think>5</think>6", "5"), ("\\boxed{x^2+2x+1}", "(x+1)^2"), ("\\boxed{x_1}", "1"), ("\\boxed{A}", "a"),
    ("\\boxed{12 cm}", "12"), ("\\boxed{3 liters}", "3"), ("\\boxed{7 3/4}", "31/4"), ("\\boxed{2/4}", "1/2"),
    ("\\boxed{1/2}", "0.5"), ("no box here", "5"), ("\\boxed{ 7 }", "7"), ("\\fbox{9}", "9"),
    ("\\boxed{101_2}", "101"), ("\\boxed{Interval(0, 1)}", "[0, 1]"), ("\\boxed{1, 2}", "2, 1"),
    ("\\boxed{sqrt(8)}", "2*sqrt(2)"), ("\\boxed{0.3333}", "1/3"), ("\\boxed{10%}", "10"),
]


@pytest.mark.parametrize("response, truth", _PARITY_CASES)
def test_compute_score_parity(response, truth):
  """The whole verdict (extraction + grade) equals the composed transcriptions on LaTeX-free cases."""
  matched, text = naive_dapo_answer(response)
  assert grade(text, truth) == _ref_compute_score(response, truth)["acc"]


# --- the reward over a batch (verifier workers) ----------------------------------------------------------


@pytest.fixture(scope="module")
def reward():
  with build_reward("naive_dapo", RewardConfig(workers=1, timeout_s=30.0)) as r:
    yield r


def test_batch_values_and_counts(reward):
  """1 / 0; unboxed text is graded whole but counts as no answer and reports no extraction."""
  completions = ["<think>\\boxed{1}</think>\\boxed{\\frac{1}{2}}", "5", "\\fbox{7}", "\\boxed{8}", "x = 5"]
  result = reward(completions, ["0.5", "5", "7", "7", "5"])
  np.testing.assert_array_equal(result.correct, [True, True, True, False, True])
  np.testing.assert_array_equal(result.scores, np.array([1, 1, 1, 0, 1], np.float32))
  assert result.extracted == ("\\frac{1}{2}", None, "7", "8", None)
  assert result.metrics == {"correct": 4, "no_answer": 2, "timeouts": 0, "crashes": 0, "errors": 0}


def test_plus_minus_values_and_format_bonus():
  """Values come from the config; the format bonus follows the box."""
  with NaiveDapoReward(RewardConfig(correct=1.0, incorrect=-1.0, format_weight=0.5, workers=1)) as r:
    result = r(["\\boxed{4}", "\\boxed{5}", "4"], ["4", "4", "4"])
  np.testing.assert_allclose(result.scores, [1.5, -0.5, 1.0])


def test_odd_inputs_never_raise(reward):
  """Unicode, huge, unbalanced or hostile answers are scored, never raised on."""
  completions = ["\\boxed{５}", "\\boxed{" + "9" * 5000 + "}", "y" * 100_000, "\\boxed{{{}",
                 "\\boxed{__import__('os').system('true')}", "\\boxed{\ud800}", "\\boxed{9^{9^{9^{9}}}}"]
  result = reward(completions, ["5", "9", "1", "1", "0", "1", "1"])
  assert result.scores.shape == (7,) and result.metrics["crashes"] == 0


def test_registered():
  """naive_dapo is a registry factory of a RewardConfig."""
  reward = REWARDS.get("naive_dapo")(RewardConfig(workers=1))
  assert isinstance(reward, NaiveDapoReward)
  reward.close()
