"""PRIME's `math_equal` (naive_dapo's last check) and the safe parsing under it: hand-worked cases, code in
an answer is never run, and parity with a literal transcription of the reference (LLM360/Reasoning360
@c87f0df6, verl/utils/reward_score/prime_math/grader.py)."""

from __future__ import annotations

import contextlib
import math
import re
from math import isclose

import pytest
from sympy import N, simplify
from sympy.parsing.latex import parse_latex
from sympy.parsing.sympy_parser import parse_expr

from rlvr_jax.rewards import _safe_sympy as safe_sympy
from rlvr_jax.rewards._prime_grader import format_intervals, handle_pi, is_digit, math_equal, symbolic_equal

# --- literal transcription of the reference (trusted inputs only: it evals) ------------------------------


def _ref_is_digit(s):
  try:
    if "{,}" in str(s):
      num = float(str(s).replace("{,}", ""))
      return True, num
    num = float(str(s).replace(",", ""))
    return True, num
  except ValueError:
    return False, None


def _ref_normalize(answer, pi):
  if isinstance(answer, str) and bool(re.match(r"\$\d+(\.\d+)?", answer)):
    return answer[1:]
  if isinstance(answer, str) and (bool(re.match(r"^\d+(\.\d+)?%$", answer))
                                  or bool(re.match(r"^\d+(\.\d+)?\\%$", answer))):
    return answer.replace("\\%", "").replace("%", "")
  if isinstance(answer, str) and "_" in answer:
    answer = int(float(answer.split("_")[0]))
  if isinstance(answer, str) and "\\pi" in answer:
    idx = answer.find("\\pi")
    while idx != -1:
      if idx > 0 and answer[idx - 1].isdigit():
        answer = answer[:idx] + f"*{pi}" + answer[idx + 3:]
      else:
        answer = answer[:idx] + f"1*{pi}" + answer[idx + 3:]
      idx = answer.find("\\pi", idx + 1)
    with contextlib.suppress(Exception):
      answer = eval(answer)  # noqa: S307 -- trusted test inputs
  return answer


def _ref_format_intervals(prediction):
  patterns = {"Interval(": r"^Interval\((.*)\)$", "Interval.Ropen(": r"^Interval\.Ropen\((.*)\)$",
              "Interval.Lopen(": r"^Interval\.Lopen\((.*)\)$", "Interval.open(": r"^Interval\.open\((.*)\)$"}
  for key, pattern in patterns.items():
    match = re.match(pattern, prediction)
    if match:
      inner_content = match.group(1)
      if key == "Interval(":
        return f"[{inner_content}]"
      elif key == "Interval.Ropen(":
        return f"[{inner_content})"
      elif key == "Interval.Lopen(":
        return f"({inner_content}]"
      elif key == "Interval.open(":
        return f"({inner_content})"
  return prediction


def _ref_symbolic_equal(a, b, tolerance):
  def _parse(s):
    for f in [parse_expr, parse_latex]:
      try:
        return f(s)
      except Exception:
        continue
    return s
  a = _parse(a)
  b = _parse(b)
  try:
    if simplify(a - b) == 0:
      return True
  except Exception:
    pass
  try:
    if isclose(N(a), N(b), rel_tol=tolerance):
      return True
  except Exception:
    pass
  return False


def _ref_math_equal(prediction, reference, include_percentage=True, tolerance=1e-4, pi=math.pi):
  prediction = _ref_normalize(prediction, pi)
  reference = _ref_normalize(reference, pi)
  if isinstance(prediction, str) and len(prediction) > 1000:
    prediction = prediction[:1000]
  if isinstance(prediction, str) and isinstance(reference, str):
    if prediction.strip().lower() == reference.strip().lower():
      return True
    if prediction.replace(" ", "") == reference.replace(" ", ""):
      return True
  try:
    if _ref_is_digit(prediction)[0] and _ref_is_digit(reference)[0]:
      prediction = _ref_is_digit(prediction)[1]
      reference = _ref_is_digit(reference)[1]
      gt_result = [reference / 100, reference, reference * 100] if include_percentage else [reference]
      for item in gt_result:
        try:
          if isclose(item, prediction, rel_tol=tolerance):
            return True
        except Exception:
          continue
      return False
  except Exception:
    pass
  if not prediction and prediction not in [0, False]:
    return False
  reference = str(reference).strip()
  prediction = str(prediction).strip()
  prediction = _ref_format_intervals(prediction)
  pred_str, ref_str = prediction, reference
  if (prediction.startswith("[") and prediction.endswith("]") and not reference.startswith("(")) or (
      prediction.startswith("(") and prediction.endswith(")") and not reference.startswith("[")):
    pred_str = pred_str.strip("[]()")
    ref_str = ref_str.strip("[]()")
  for s in ["{", "}", "(", ")"]:
    ref_str = ref_str.replace(s, "")
    pred_str = pred_str.replace(s, "")
  if pred_str == ref_str:
    return True
  if (prediction and reference and prediction[0] in "([" and prediction[-1] in ")]"
      and prediction[0] == reference[0] and prediction[-1] == reference[-1]):
    pred_parts = prediction[1:-1].split(",")
    ref_parts = reference[1:-1].split(",")
    if len(pred_parts) == len(ref_parts) and all(
        [_ref_math_equal(pred_pt, ref_pt, include_percentage, tolerance)
         for pred_pt, ref_pt in zip(pred_parts, ref_parts)]):
      return True
  if "," in prediction and "," in reference:
    pred_parts = [item.strip() for item in prediction.split(",")]
    ref_parts = [item.strip() for item in reference.split(",")]
    if len(pred_parts) == len(ref_parts):
      return bool(all([_ref_math_equal(pred_parts[i], ref_parts[i], include_percentage, tolerance)
                       for i in range(len(pred_parts))]))
  if prediction.startswith("Point") and reference[0] == "(" and reference[-1] == ")":
    pred_parts = prediction[prediction.find("(") + 1:-1].split(",")
    ref_parts = reference[1:-1].split(",")
    if len(pred_parts) == len(ref_parts) and all(
        [_ref_math_equal(pred_pt, ref_pt, include_percentage, tolerance)
         for pred_pt, ref_pt in zip(pred_parts, ref_parts)]):
      return True
  # the reference's non-raw "\begin{pmatrix}" is "\x08egin{pmatrix}" (a backspace): branches not ported
  assert "\x08egin{pmatrix}" not in reference
  return _ref_symbolic_equal(prediction, reference, tolerance)


# --- hand-worked cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prediction, reference, expected", [
    ("5", "5.0", True),                       # numeric
    ("5.00001", "5", True),                   # within rel. tolerance 1e-4
    ("5.01", "5", False),
    ("0.5", "50", True),                      # percentage: reference / 100
    ("1,000", "1000", True),
    ("1{,}000", "1000", True),
    ("$5", "5", True),                        # "$<number>"
    ("50%", "50", True),
    ("ABC", "abc", True),                     # case-insensitive strings
    ("(1, 2)", "(1,2)", True),
    ("[1, 2]", "[1.0, 2.0]", True),           # element-wise
    ("1, 2", "2, 1", False),
    ("Interval(0, 1)", "[0, 1]", True),       # sympy interval print
    ("Point(1, 2)", "(1, 2)", False),         # the comma branch returns first (reference quirk)
    ("x**2 + 2*x + 1", "(x + 1)**2", True),   # symbolic
    ("sqrt(8)", "2*sqrt(2)", True),
    ("\\frac{1}{2}", "0.5", False),           # no LaTeX parser: LaTeX never matches symbolically
    ("", "0", False),
])
def test_math_equal(prediction, reference, expected):
  """Hand-worked `math_equal` verdicts."""
  assert math_equal(prediction, reference) is expected


def test_base_subscript_and_its_error():
  """`101_2` compares the digits before the subscript; any other `x_y` raises, as in the reference."""
  assert math_equal("101_2", "101") is True
  with pytest.raises(ValueError):
    math_equal("x_1", "1")


def test_handle_pi():
  """`\\pi` becomes a number (`2\\pi` -> 2*pi; `\\pi` alone -> 1*pi) and the arithmetic is evaluated."""
  assert handle_pi("2\\pi", math.pi) == pytest.approx(2 * math.pi)
  assert handle_pi("\\pi/2", 3.14) == pytest.approx(1.57)
  assert handle_pi("\\frac{\\pi}{2}", math.pi) == f"\\frac{{1*{math.pi}}}{{2}}"  # not arithmetic: kept
  assert math_equal("2\\pi", "6.2832") is True


def test_format_intervals_and_is_digit():
  """sympy interval prints become brackets; `is_digit` reads thousands commas."""
  assert format_intervals("Interval.Ropen(1, 2)") == "[1, 2)"
  assert format_intervals("Interval.open(a, b)") == "(a, b)"
  assert is_digit("1,234.5") == (True, 1234.5) and is_digit("x") == (False, None)


def test_answers_are_never_executed(tmp_path):
  """Code in an answer is refused, not run: the payloads would create files if evaluated."""
  marker = tmp_path / "ran"
  payloads = [f"__import__('os').system('touch {marker}')", f"open('{marker}', 'w')",
              "().__class__.__base__.__subclasses__()", f"eval(\"open('{marker}','w')\")",
              f"exec(\"open('{marker}','w')\")", f"sin(\"open('{marker}','w')\")",
              f"f('open(\\'{marker}\\', \\'w\\')')", "(1).real", "x . name"]
  for payload in payloads:
    try:
      assert math_equal(payload, "1") is False
    except ValueError:  # "_" in an answer raises in `normalize`, as in the reference
      assert "_" in payload
    assert symbolic_equal(payload, payload + "1", 1e-4) is False
    assert handle_pi(payload + "\\pi", math.pi) == payload + f"1*{math.pi}"
    with pytest.raises(Exception):
      safe_sympy.parse_expr(payload)
  assert not marker.exists()


def test_eval_arithmetic_matches_python():
  """The `eval` replacement gives Python's own values for arithmetic and refuses everything else."""
  for text in ["2*3.14", "1/2", "7//2", "-3**2", "(1+2)*3 % 4", "(1*3.0, 2)", "[1, 2*2]", "1e3"]:
    assert safe_sympy.eval_arithmetic(text) == eval(text)  # noqa: S307 -- trusted test inputs
  for text in ["x", "abs(1)", "(1).real", "__import__('os')", "1 if 1 else 2", "lambda: 1"]:
    with pytest.raises((ValueError, SyntaxError)):
      safe_sympy.eval_arithmetic(text)
  with pytest.raises(ZeroDivisionError):
    safe_sympy.eval_arithmetic("1/0")


@pytest.mark.parametrize("text, reason", [
    ("'a'", "string literal"), ("x.name", "attribute access"), ("(1) . real", "attribute access"),
    ("a__b", "double underscore"), ("(1, 2", "does not tokenize"),
])
def test_safe_parse_expr_refusals(text, reason):
  """Refusals name their reason; decimals are not attribute access."""
  with pytest.raises(ValueError, match=reason):
    safe_sympy.parse_expr(text)
  assert float(safe_sympy.parse_expr("3.5 + .5")) == 4.0


def test_safe_parse_expr_keeps_sympy_and_builtins():
  """The restricted namespace still parses what answers contain: sympy names and harmless builtins."""
  assert safe_sympy.parse_expr("sqrt(8) - 2*sqrt(2)").simplify() == 0
  assert safe_sympy.parse_expr("max(2, 3) + abs(-1) + pi").equals(safe_sympy.parse_expr("4 + pi"))


_PARITY_PAIRS = [
    ("5", "5.0"), ("5.00001", "5"), ("5.01", "5"), ("0.5", "50"), ("50", "0.5"), ("1,000", "1000"),
    ("1{,}000", "1000"), ("$5", "5"), ("$5.50", "5.5"), ("50%", "50"), ("50\\%", "0.5"), ("ABC", "abc"),
    (" a b ", "ab"), ("(1, 2)", "(1,2)"), ("[1, 2]", "[1.0, 2.0]"), ("(1, 2]", "(1, 2)"), ("1, 2", "2, 1"),
    ("1, 2", "1, 2.0"), ("Interval(0, 1)", "[0, 1]"), ("Interval.open(0, 1)", "(0, 1)"),
    ("Point(1, 2)", "(1, 2)"), ("x**2 + 2*x + 1", "(x + 1)**2"), ("sqrt(8)", "2*sqrt(2)"),
    ("\\frac{1}{2}", "0.5"), ("", "0"), ("101_2", "101"), ("2\\pi", "6.2832"), ("\\pi", "3.14159"),
    ("x^2", "x**2"), ("{1, 2}", "(1, 2)"), ("[1,2]", "(1,2)"), ("(1,2)", "[1,2]"), ("1/3", "0.3333"),
    ("1/3", "0.33"), ("2/4", "1/2"), ("E", "e"), ("oo", "inf"), ("True", "1"), ("a" * 1500, "a" * 1000),
    ("1e3", "1000"), ("nan", "nan"), ("(1, (2, 3))", "(1, (2, 3))"), ("10", "1000"),
]


@pytest.mark.parametrize("prediction, reference", _PARITY_PAIRS)
def test_parity_with_reference_transcription(prediction, reference):
  """The same verdict as the transcribed reference (LaTeX parse unavailable in both, as documented)."""
  assert math_equal(prediction, reference) == _ref_math_equal(prediction, reference)
