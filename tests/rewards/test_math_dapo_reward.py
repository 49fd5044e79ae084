"""math_dapo (verl's DAPO scorer, "Answer:" match) and math_dapo_strict (STEER's strict last-box check):
hand-worked cases, the configured values, and parity with a literal transcription of verl's
`verl/utils/reward_score/math_dapo.py` @012542c4 on tricky inputs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rlvr_jax.rewards import (REWARDS, MathDapoReward, MathDapoStrictReward, RewardConfig, build_reward,
                              dapo_prediction, normalize_final_answer)

# --- literal transcription of the reference (volcengine/verl @012542c4, math_dapo.py) -------------------


def _ref_last_boxed_only_string(string):
  idx = string.rfind("\\boxed{")
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
  return string[idx:right_brace_idx + 1] if right_brace_idx is not None else None


def _ref_remove_boxed(s):
  left = "\\boxed{"
  assert s[:len(left)] == left
  assert s[-1] == "}"
  return s[len(left):-1]


_REF_SUBSTITUTIONS = [("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), (r"\ ", ""), (" ", ""),
                      ("mbox", "text"), (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}")]
_REF_REMOVED_EXPRESSIONS = [
    "square", "ways", "integers", "dollars", "mph", "inches", "hours", "km", "units", "\\ldots", "sue",
    "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters", "meals",
    "edges", "students", "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}",
    "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}", r"\mathrm{th}", r"^\circ", r"^{\circ}", r"\;",
    r",\!", "{,}", '"', "\\dots"]


def _ref_normalize_final_answer(final_answer):
  final_answer = final_answer.split("=")[-1]
  for before, after in _REF_SUBSTITUTIONS:
    final_answer = final_answer.replace(before, after)
  for expr in _REF_REMOVED_EXPRESSIONS:
    final_answer = final_answer.replace(expr, "")
  final_answer = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", final_answer)
  final_answer = re.sub(r"(\\text\{)(.*?)(\})", "\\2", final_answer)
  final_answer = re.sub(r"(\\textbf\{)(.*?)(\})", "\\2", final_answer)
  final_answer = re.sub(r"(\\overline\{)(.*?)(\})", "\\2", final_answer)
  final_answer = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", final_answer)
  final_answer = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", final_answer)
  final_answer = re.sub(r"(sqrt)([^{])", "sqrt{\\2}", final_answer)
  final_answer = final_answer.replace("$", "")
  if final_answer.replace(",", "").isdigit():
    final_answer = final_answer.replace(",", "")
  return final_answer.strip()


def _ref_compute_score(solution_str, ground_truth, strict_box_verify=False):
  solution_str = solution_str[-300:]
  if strict_box_verify:
    pred = solution_str[-100:]
    boxed_pred = _ref_last_boxed_only_string(pred)
    extracted_pred = _ref_remove_boxed(boxed_pred) if boxed_pred is not None else "[INVALID]"
    correct, pred = extracted_pred == ground_truth, extracted_pred
  else:
    match = re.findall(r"(?i)Answer\s*:\s*([^\n]+)", solution_str)
    extracted_answer = match[-1] if match else "[INVALID]"
    pred = _ref_normalize_final_answer(extracted_answer)
    correct = pred == _ref_normalize_final_answer(ground_truth)
  return {"score": 1.0 if correct else -1.0, "acc": correct, "pred": pred}


# --- hand-worked cases ---------------------------------------------------------------------------------


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
    ("a cat", "cat"),                       # "a " dropped (also inside words, a verl quirk)
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


@pytest.mark.parametrize("completion, answer, correct, extracted", [
    ("so \\boxed{5}", "5", True, "5"),
    ("so \\boxed{6}", "5", False, "6"),                                   # wrong
    ("so the answer is 5", "5", False, None),                             # no box
    ("\\boxed{5}" + " " * 95, "5", False, None),                          # starts 104 chars from the end
    ("\\boxed{5}" + " " * 91, "5", True, "5"),                            # exactly the last 100 characters
    ("so \\fbox{5}", "5", False, None),                                   # only \boxed{ counts
    ("so \\boxed {5}", "5", False, None),                                 # nor "\boxed {"
    ("\\boxed{1} then \\boxed{2}", "1", False, "2"),                      # the last box
    ("\\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{1}{\\sqrt{2}}", True, "\\frac{1}{\\sqrt{2}}"),  # nested braces
    ("\\boxed{\\frac12}", "\\frac{1}{2}", False, "\\frac12"),             # no normalisation
    ("\\boxed{ 5}", "5", False, " 5"),                                    # no stripping
    ("\\boxed{1,000}", "1000", False, "1,000"),
    ("\\boxed{x = 5}", "5", False, "x = 5"),
    ("\\boxed{5 \\text{ cm}}", "5", False, "5 \\text{ cm}"),              # units stay
    ("\\boxed{5", "5", False, None),                                      # unclosed
    ("Answer: 5", "5", False, None),                                      # the "Answer:" line does not count
    ("<think>\\boxed{4}</think> \\boxed{5}", "5", True, "5"),            # no </think> handling: last box
])
def test_strict_box_cases(completion, answer, correct, extracted):
  """math_dapo_strict: the last `\\boxed{` of the last 100 characters, compared verbatim."""
  with build_reward("math_dapo_strict", RewardConfig(correct=1.0, incorrect=-1.0)) as reward:
    result = reward([completion], [answer])
  assert result.correct.tolist() == [correct]
  assert result.scores.tolist() == [1.0 if correct else -1.0]
  assert result.extracted == (extracted,)
  assert result.metrics["no_answer"] == int(extracted is None)


def test_strict_values_and_format_bonus():
  """Values come from the config: STEER's +1/-1, or 1/0; the format bonus follows the box."""
  completions, answers = ["\\boxed{5}", "\\boxed{6}", "five"], ["5", "5", "5"]
  plus_minus = MathDapoStrictReward(RewardConfig(correct=1.0, incorrect=-1.0))(completions, answers)
  np.testing.assert_array_equal(plus_minus.scores, [1, -1, -1])
  one_zero = MathDapoStrictReward(RewardConfig(format_weight=0.5))(completions, answers)
  np.testing.assert_array_equal(one_zero.scores, [1.5, 0.5, 0])


def test_registered():
  """Both entries are registry factories of a RewardConfig; strict is the STEER mode."""
  reward = REWARDS.get("math_dapo")(RewardConfig())
  assert isinstance(reward, MathDapoReward) and not reward.strict_box
  strict = REWARDS.get("math_dapo_strict")(RewardConfig(incorrect=-1.0))
  assert isinstance(strict, MathDapoStrictReward) and strict.strict_box and strict.config.incorrect == -1.0


def test_unicode_and_huge_inputs_never_raise():
  """Odd text is scored, never raised on: unicode, a 1 MB completion, unbalanced braces, lone surrogates."""
  completions = ["Answer: ５ 𝟓 \u200b", "x" * 1_000_000 + "\nAnswer: 5", "\\boxed{{{{" * 50, "\ud800 Answer: \ud800",
                 "}" * 400 + "\\boxed{}}}"]
  for name in ("math_dapo", "math_dapo_strict"):
    result = build_reward(name)(completions, ["5", "5", "5", "\ud800", ""])
    assert result.scores.shape == (5,)
  assert build_reward("math_dapo")(completions[1:2], ["5"]).correct.tolist() == [True]


_PARITY_CASES = [
    ("Answer: 5", "5"), ("answer:5\n", "5"), ("ANSWER :  $\\frac{1}{2}$.", "\\frac12"),
    ("Answer:\n7", "7"), ("Answer: 3\nAnswer: 4", "4"), ("Answer: 10 dollars", "10"),
    ("Answer: x = 2", "2"), ("Answer: 1,000,000", "1000000"), ("Answer: \\boxed{12}", "12"),
    ("Answer: \\text{(C)}", "(C)"), ("Answer: 90^\\circ", "90^{\\circ}"), ("Answer: a banana ", "banana"),
    ("Answer: \\sqrt2", "\\sqrt{2}"), ("Answer: 5 \\text{ cm}", "5"), ("Answer: $3$ and $4$", "3"),
    ("Answer: \\$5.00", "5.00"), ("Answer: 2\\;", "2"), ("no answer line", "[INVALID]x"),
    ("Answer: 9" + "\n" * 300, "9"), ("\\boxed{9}" + " " * 92, "9"), ("\\boxed{9}" + " " * 90, "9"),
    ("\\boxed{ 9 }", " 9 "), ("\\boxed{\\boxed{9}}", "\\boxed{9}"), ("\\fbox{9}", "9"),
    ("\\boxed{a}\\boxed{b", "a"), ("text \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"), ("Answer: ½", "½"),
    ("Answer: 5" + "y" * 296, "5"), ("Answer: 5" + "y" * 292, "5yyyy"), ("Answer: \\overline{AB}", "AB"),
]


@pytest.mark.parametrize("completion, answer", _PARITY_CASES)
@pytest.mark.parametrize("strict", [False, True])
def test_parity_with_reference_transcription(completion, answer, strict):
  """The same verdict (and, where there is an answer, the same prediction) as verl's code."""
  expected = _ref_compute_score(completion, answer, strict_box_verify=strict)
  reward = MathDapoStrictReward() if strict else MathDapoReward()
  result = reward([completion], [answer])
  assert bool(result.correct[0]) == expected["acc"], (completion, answer, expected)
  assert (result.extracted[0] if result.extracted[0] is not None else "[INVALID]") == expected["pred"]
