"""entropy_math (Clip-Cov / KL-Cov): box extraction, the three-way grade (mathd, sympy, math-verify), the
repetition guard, time budgets, and the batch reward with its values; parity with literal transcriptions
of the reference's extraction and `repeatness` (volcengine/verl @b95e257b, entropy_math/__init__.py)."""

from __future__ import annotations

import random
import time
from itertools import islice, zip_longest

import numpy as np
import pytest
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from rlvr_jax.rewards import REWARDS, EntropyMathReward, RewardConfig, build_reward, _entropy_math_grader as entropy_math_grader
from rlvr_jax.rewards._entropy_math_grader import grade, is_latex_equal, repeatness
from rlvr_jax.rewards._reference_extraction import entropy_math_answer
from tests.rewards.test_mathd_normalize import _ref_normalize_answer
from tests.rewards.test_sympy_grader import _ref_grade_answer_sympy, _ref_normalize

# --- literal transcription of the reference's extraction and repetition guard --------------------------


def _ref_last_boxed_only_string(string):
  idx = string.rfind("\\boxed")
  if idx < 0:
    idx = string.rfind("\\fbox")
    if idx < 0:
      return None
  i = idx
  right_brace_idx = None
  num_left_braces_open = 0
  while i < len(string):
    if string[i] == "{":
      num_left_braces_open += 1
    if string[i] == "}":
      num_left_braces_open -= 1
      if num_left_braces_open == 0:
        right_brace_idx = i
        break
    i += 1
  if right_brace_idx is None:
    retval = None
  else:
    retval = string[idx:right_brace_idx + 1]
  return retval


def _ref_remove_boxed(s):
  left = "\\boxed{"
  try:
    assert s[:len(left)] == left
    assert s[-1] == "}"
    return s[len(left):-1]
  except Exception:
    return None


def _ref_extract_answer(passage):
  if "\\boxed" in passage:
    return _ref_remove_boxed(_ref_last_boxed_only_string(passage))
  return None


def _ref_repeatness(s):
  def ranks(seq):
    index = {v: i for i, v in enumerate(sorted(set(seq)))}
    return [index[v] for v in seq]

  def suffixArray(s):  # noqa: N802
    line = ranks(s)
    n, k, ans, sa = len(s), 1, line, [0] * len(s)
    while k < n - 1:
      line = ranks(list(zip_longest(line, islice(line, k, None), fillvalue=-1)))
      ans, k = line, k << 1
    for i, k in enumerate(ans):
      sa[k] = i
    return ans, sa

  def lcp(arr, suffixArr, inv_suff):  # noqa: N803
    n, ans, k = len(arr), [0] * len(arr), 0
    for i in range(n):
      if inv_suff[i] == n - 1:
        k = 0
        continue
      j = suffixArr[inv_suff[i] + 1]
      while i + k < n and j + k < n and arr[i + k] == arr[j + k]:
        k += 1
      ans[inv_suff[i]] = k
      if k > 0:
        k -= 1
    return ans

  arr = [ord(i) for i in s]
  n = len(arr)
  if n <= 1:
    return 0
  c, sa = suffixArray(arr)
  cnt = sum(lcp(arr, sa, c))
  return (cnt * 2 / (n * (n + 1))) > 0.2


def _ref_is_latex_equal(given_answer, ground_truth):  # without the SIGALRM wrapper: fast inputs only
  try:
    if (len(given_answer) > 128 and _ref_repeatness(given_answer)) or (
        len(ground_truth) > 128 and _ref_repeatness(ground_truth)):
      return False
    ground_truth_normalized = _ref_normalize(ground_truth, naive=False)
    given_normalized = _ref_normalize(given_answer, naive=False)
    if ground_truth_normalized is None:
      return False
    if ground_truth_normalized == given_normalized:
      return True
    if "$" not in given_answer:
      given_answer = f"${given_answer}$"
    if "$" not in ground_truth:
      ground_truth = f"${ground_truth}$"
    config = (LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig())
    return verify(parse(ground_truth, extraction_config=config, fallback_mode="no_fallback",
                        extraction_mode=["first_match"], parsing_timeout=1),
                  parse(given_answer, extraction_config=config, fallback_mode="no_fallback",
                        extraction_mode=["first_match"], parsing_timeout=1),
                  timeout_seconds=1)
  except Exception:
    return False


def _ref_grade(model_answer, gt_answer):
  if "\\boxed" in gt_answer:
    gt_answer = _ref_extract_answer(gt_answer)
  correct = (_ref_normalize_answer(model_answer, units=True) == _ref_normalize_answer(gt_answer, units=True)
             or _ref_grade_answer_sympy(model_answer, gt_answer, naive=False))
  return correct or _ref_is_latex_equal(model_answer, gt_answer)


# --- extraction ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("response, expected", [
    ("so \\boxed{5}.", "5"),
    ("\\boxed{1} and \\boxed{2}", "2"),                       # the last box
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),                # nested braces
    ("\\boxed{ 5 }", " 5 "),                                   # verbatim (graders strip later)
    ("\\boxed{}", ""),                                         # empty: an answer, and a wrong one
    ("\\fbox{5}", None),                                       # \fbox never counts
    ("\\boxed{3} then \\fbox{5}", "3"),                        # ... even after a \boxed
    ("\\boxed 5", None), ("\\boxed {5}", None),                # must be "\boxed{"
    ("\\boxed{5", None),                                       # unclosed
    ("<think>\\boxed{4}</think>", "4"),                        # no </think> handling
    ("\\boxed{7}" + "x" * 10_000, "7"),                        # no truncation
    ("no answer", None),
])
def test_extraction(response, expected):
  """The last `\\boxed{...}` of the whole response, as the reference extracts it."""
  assert entropy_math_answer(response) == expected


_EXTRACTION_PARITY = [
    "\\boxed{5}", "\\boxed{\\boxed{5}}", "\\boxed{a}}", "\\boxed}{5}", "\\boxed{{5}", "}\\boxed{5}", "\\boxed",
    "\\fbox{5}", "\\fbox{1}\\boxed{2}", "\\boxed{1}\\fbox{2}", "\\boxed 5 {6}", "\\boxedx{5}", "\\boxed{ \\{1\\} }",
    "x\\boxed{a\\}b}", "\\boxed{5}\\boxed", "", "{}", "\\boxed{\u00e9\U0001d7d3}",
]


@pytest.mark.parametrize("response", _EXTRACTION_PARITY)
def test_extraction_parity(response):
  """Equal to the transcribed `extract_answer` on edge cases."""
  assert entropy_math_answer(response) == _ref_extract_answer(response)


# --- repetition guard ------------------------------------------------------------------------------------


def test_repeatness_hand_cases():
  """A text made of one repeated unit is flagged; varied text is not; tiny texts never are."""
  rng = random.Random(0)
  assert repeatness("ab" * 100) is True
  assert repeatness("".join(rng.choice("abcdefghij") for _ in range(300))) is False
  assert repeatness("a") is False and repeatness("") is False


@pytest.mark.parametrize("seed", range(6))
def test_repeatness_parity(seed):
  """Equal to the transcribed suffix-array computation on random and semi-repetitive texts."""
  rng = random.Random(seed)
  unit = "".join(rng.choice("xyz0123") for _ in range(rng.randint(1, 12)))
  text = unit * rng.randint(1, 30) + "".join(rng.choice("abc\\{}") for _ in range(rng.randint(0, 200)))
  assert repeatness(text) == _ref_repeatness(text)


# --- grading ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer, truth, expected", [
    ("\\frac12", "\\frac{1}{2}", True),          # mathd
    ("5 cm", "5", True),                          # mathd unit words
    ("x = 5", "5", True),                         # mathd drops a short left-hand side
    ("1,000", "1000", True),                      # sympy grader's thousands separators
    ("3.0", "3", True),
    ("\\frac{2}{4}", "\\frac{1}{2}", True),      # (the LaTeX step evaluates it: see sympy_grader)
    ("1/3", "0.333333", True),                    # only math-verify's recall accepts this one
    ("(1,2)", "[1,2]", False),
    ("7", "\\boxed{7}", True),                    # a boxed reference is unboxed
    ("7", "\\boxed{7", False),                    # ... and one that does not close matches nothing
    ("7", "8", False),
    ("", "0", False),                             # an empty box is wrong
    ("\\text{Monday}", "Monday", True),
    ("\\sqrt{8}", "2\\sqrt{2}", True),
    ("50\\%", "50", True),
])
def test_grade(answer, truth, expected):
  """Hand-worked verdicts of `grade(model_answer, gt, fast=False)`."""
  assert grade(answer, truth) is expected


_GRADE_PARITY = [
    ("5", "5.0"), ("1,000", "1000"), ("5 cm", "5"), ("x = 5", "5"), ("2/4", "1/2"), ("0.5", "1/2"),
    ("(1,2)", "(1, 2)"), ("(1,2)", "[1,2]"), ("x^2+2x+1", "(x+1)^2"), ("A", "a"), ("12 apples", "12"),
    ("3 million", "3000000"), ("7 3/4", "31/4"), ("50%", "50"), ("1/3", "0.3333"), ("1/3", "0.333333"),
    ("{1,2}", "{2,1}"), ("x<2", "(-oo,2)"), ("y=2x+1", "2x+1"), ("7", "8"), ("", "0"), ("1e3", "1000"),
    ("(c)", "(C)"), ("yes", "Yes"), ("2 hours", "120 minutes"), ("1" * 150, "1" * 150),
]


@pytest.mark.parametrize("answer, truth", _GRADE_PARITY)
def test_grade_parity(answer, truth):
  """`grade` equals the composed transcriptions (mathd, sympy, math-verify) on LaTeX-free pairs."""
  assert grade(answer, truth) == bool(_ref_grade(answer, truth))


def test_repeated_answers_skip_math_verify():
  """The reference's guard: answers over 128 characters that are mostly repeats skip math-verify."""
  assert is_latex_equal("1" * 200, "1" * 200) is False
  assert grade("1" * 200, "1" * 200) is True  # the mathd check accepts them first


def test_latex_equal_budget(monkeypatch):
  """`is_latex_equal`'s 1 s budget covers normalisation: a slow one is "not equal", within about 1 s."""

  def slow_normalize(expr, spec):
    time.sleep(10)

  monkeypatch.setattr(entropy_math_grader.sympy_grader, "normalize", slow_normalize)
  start = time.monotonic()
  assert is_latex_equal("1", "1") is False
  assert time.monotonic() - start < 3.0


# --- the reward over a batch (verifier workers) ----------------------------------------------------------


@pytest.fixture(scope="module")
def reward():
  with build_reward("entropy_math", RewardConfig(workers=1, timeout_s=30.0)) as r:
    yield r


def test_batch_values_and_counts(reward):
  """1 / 0 by default; no box (or only \\fbox) is no answer; the extracted answer is the box content."""
  completions = ["so \\boxed{\\frac{1}{2}}", "answer: 5", "\\fbox{7}", "\\boxed{8}", "<think>x</think>\\boxed{9}"]
  result = reward(completions, ["0.5", "5", "7", "7", "9"])
  np.testing.assert_array_equal(result.correct, [True, False, False, False, True])
  np.testing.assert_array_equal(result.scores, np.array([1, 0, 0, 0, 1], np.float32))
  assert result.extracted == ("\\frac{1}{2}", None, None, "8", "9")
  assert result.metrics == {"correct": 2, "no_answer": 2, "timeouts": 0, "crashes": 0, "errors": 0}


def test_plus_minus_values_and_format_bonus():
  """Values come from the config; the format bonus is paid for any box (the reference's format_score)."""
  with EntropyMathReward(RewardConfig(correct=1.0, incorrect=-1.0, format_weight=0.5, workers=1)) as r:
    result = r(["\\boxed{4}", "\\boxed{5}", "four"], ["4", "4", "4"])
  np.testing.assert_allclose(result.scores, [1.5, -0.5, -1.0])


def test_odd_inputs_never_raise(reward):
  """Unicode, huge, unbalanced or hostile answers are scored (as wrong), never raised on."""
  completions = ["\\boxed{５}", "\\boxed{" + "9" * 5000 + "}", "x" * 200_000 + "\\boxed{1}", "\\boxed{{{}",
                 "\\boxed{__import__('os').system('true')}", "\\boxed{\ud800}", "\\boxed{9^{9^{9^{9}}}}"]
  result = reward(completions, ["5", "9", "1", "1", "0", "1", "1"])
  assert result.scores.shape == (7,) and result.correct[2]
  assert result.metrics["crashes"] == 0


def test_registered():
  """entropy_math is a registry factory of a RewardConfig."""
  reward = REWARDS.get("entropy_math")(RewardConfig(workers=1))
  assert isinstance(reward, EntropyMathReward)
  reward.close()
