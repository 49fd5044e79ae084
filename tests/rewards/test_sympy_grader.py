"""The sympy grader shared by entropy_math and naive_dapo: hand-worked cases, the LaTeX-to-text
replacement, the per-element time budget, and parity with literal transcriptions of both references'
`_normalize` / `grade_answer_sympy` on inputs without LaTeX (where no pylatexenc step is involved)."""

from __future__ import annotations

import re
import signal
import time

import pytest
import sympy
from sympy.parsing import sympy_parser

from rlvr_jax.rewards import _sympy_grader as sympy_grader
from rlvr_jax.rewards._sympy_grader import (ENTROPY_MATH, NAIVE_DAPO, are_equal_under_sympy, grade_sympy,
                                           latex_to_text, normalize, split_tuple)

# --- literal transcription (entropy_math @b95e257b; naive_dapo @097092a differs where `naive` is tested) ---

_REF_BAD_SUBSTRINGS = ["^{", "^("]
_REF_BAD_REGEXES = ["\\^[0-9]+\\^", "\\^[0-9][0-9]+"]
_REF_TUPLE_CHARS = "()[]"


def _ref_is_float(num):
  try:
    float(num)
    return True
  except ValueError:
    return False


def _ref_is_int(x):
  try:
    return abs(x - int(round(x))) <= 1e-7
  except:  # noqa: E722
    return False


def _ref_is_frac(expr):
  return bool(re.search(r"^-?[0-9]+.?/0*[1-9][0-9]*.?$", expr))


def _ref_strip_properly_formatted_commas(expr):
  p1 = re.compile("(\\d)(,)(\\d\\d\\d)($|\\D)")
  while True:
    next_expr = p1.sub("\\1\\3\\4", expr)
    if next_expr == expr:
      break
    expr = next_expr
  return next_expr


def _ref_str_is_int(x):
  try:
    x = _ref_strip_properly_formatted_commas(x)
    x = float(x)
    return abs(x - int(round(x))) <= 1e-7
  except:  # noqa: E722
    return False


def _ref_str_to_int(x):
  x = x.replace(",", "")
  x = float(x)
  return int(x)


def _ref_normalize(expr, naive):
  if expr is None:
    return None
  m = re.search("^\\\\text\\{(?P<text>.+?)\\}$", expr)
  if m is not None:
    expr = m.group("text")
  expr = expr.replace("\\%", "%")
  expr = expr.replace("\\$", "$")
  expr = expr.replace("$", "")
  expr = expr.replace("%", "")
  expr = expr.replace(" or ", " , ")
  expr = expr.replace(" and ", " , ")
  expr = expr.replace("million", "*10^6")
  expr = expr.replace("billion", "*10^9")
  expr = expr.replace("trillion", "*10^12")
  units = ["degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day", "week", "month",
           "year", "foot", "feet", "inch", "yard"] + (["liter"] if naive else [])
  for unit in units:
    expr = re.sub(f"{unit}(es)?(s)? *(\\^[0-9]+)?", "", expr)
  expr = re.sub("\\^ *\\\\circ", "", expr)
  if len(expr) > 0 and expr[0] == "{" and expr[-1] == "}":
    expr = expr[1:-1]
  expr = re.sub(",\\\\! *", "", expr)
  if _ref_is_float(expr) and _ref_is_int(float(expr)):
    expr = str(int(round(float(expr))))
  assert "\\" not in expr, "the transcription has no pylatexenc; keep LaTeX out of the parity inputs"
  expr = re.sub("- *", "-", expr)
  expr = re.compile("([0-9]) +([0-9])").sub("\\1+\\2", expr)
  if not naive:
    expr = expr.replace(" ", "")
    expr = expr.replace("{", "")
    expr = expr.replace("}", "")
  expr = expr.lower()
  if _ref_str_is_int(expr):
    expr = str(_ref_str_to_int(expr))
  return expr


def _ref_should_allow_eval(expr):
  letters = set([x for x in expr.replace("sqrt", "").replace("frac", "") if x.isalpha()])
  if len(letters) > 2:
    return False
  for bad_string in _REF_BAD_SUBSTRINGS:
    if bad_string in expr:
      return False
  for bad_regex in _REF_BAD_REGEXES:
    if re.search(bad_regex, expr) is not None:
      return False
  return True


def _ref_are_equal_under_sympy(ground_truth_normalized, given_normalized):
  are_equal = False
  try:
    expr = f"({ground_truth_normalized})-({given_normalized})"
    if _ref_should_allow_eval(expr):
      sympy_diff = sympy_parser.parse_expr(
          expr.replace("^", "**"),
          transformations=(sympy_parser.standard_transformations + (sympy_parser.implicit_multiplication_application,)))
      simplified = sympy.simplify(sympy_diff)
      if simplified == 0:
        are_equal = True
  except:  # noqa: E722
    pass
  return are_equal


def _ref_split_tuple(expr):
  expr = _ref_strip_properly_formatted_commas(expr)
  if len(expr) == 0:
    return []
  if (len(expr) > 2 and expr[0] in _REF_TUPLE_CHARS and expr[-1] in _REF_TUPLE_CHARS
      and all([ch not in expr[1:-1] for ch in _REF_TUPLE_CHARS])):
    elems = [elem.strip() for elem in expr[1:-1].split(",")]
  else:
    elems = [expr]
  return elems


def _ref_grade_answer_sympy(given_answer, ground_truth, naive):
  ground_truth_normalized = _ref_normalize(ground_truth, naive)
  given_normalized = _ref_normalize(given_answer, naive)
  if ground_truth_normalized is None:
    return False
  if ground_truth_normalized == given_normalized:
    return True
  if len(given_normalized) == 0:
    return False
  ground_truth_elems = _ref_split_tuple(ground_truth_normalized)
  given_elems = _ref_split_tuple(given_normalized)
  if len(ground_truth_elems) > 1 and (ground_truth_normalized[0] != given_normalized[0]
                                      or ground_truth_normalized[-1] != given_normalized[-1]):
    is_correct = False
  elif len(ground_truth_elems) != len(given_elems):
    is_correct = False
  else:
    for ground_truth_elem, given_elem in zip(ground_truth_elems, given_elems):
      if _ref_is_frac(ground_truth_elem) and _ref_is_frac(given_elem):
        is_correct = ground_truth_elem == given_elem
      elif _ref_str_is_int(ground_truth_elem) != _ref_str_is_int(given_elem):
        is_correct = False
      else:
        is_correct = _ref_are_equal_under_sympy(ground_truth_elem, given_elem)
      if not is_correct:
        break
  return is_correct


# --- hand-worked cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, entropy, naive", [
    ("1,000", "1000", "1000"),
    ("5.0", "5", "5"),
    ("50%", "50", "50"),
    ("\\$5", "5", "5"),
    ("3 million", "3*10^6", "3 *10^6"),
    ("7 3/4", "7+3/4", "7+3/4"),            # mixed number
    ("- 3", "-3", "-3"),
    ("12 cm", "12", "12"),                  # unit gone; "12 " is still an integer string
    ("1.5 cm", "1.5", "1.5 "),              # naive keeps the space (it never removes spaces)
    ("1.5 liters", "1.5liters", "1.5 "),    # only naive knows "liter"
    ("{x + 1}", "x+1", "x + 1"),
    ("x^{2} + 1", "x^2+1", "x^{2} + 1"),   # entropy_math also drops inner braces
    ("A or B", "a,b", "a , b"),
    ("\\text{Yes}", "yes", "yes"),
    ("1,2", "1,2", "1,2"),                  # a tuple comma is not a thousands separator
])
def test_normalize(raw, entropy, naive):
  """Both variants of `_normalize`, hand-worked."""
  assert normalize(raw, ENTROPY_MATH) == entropy
  assert normalize(raw, NAIVE_DAPO) == naive


@pytest.mark.parametrize("latex, text", [
    ("\\frac{1}{2}", "1/2"),
    ("\\dfrac{x+1}{2}", "x+1/2"),           # the references' quirk: pylatexenc drops the grouping
    ("3\\frac12", "3 1/2"),                 # the space before \frac keeps a mixed number apart
    ("\\sqrt{2}", "sqrt(2)"),
    ("2\\sqrt{3}", "2sqrt(3)"),
    ("x^{2}", "x^2"),
    ("\\pi", "pi"),
    ("\\infty", "inf"),
    ("5 \\cdot 3", "5 *3"),
    ("a \\cup b", "a Ub"),
    ("\\left[1, 2\\right)", "[1, 2)"),
])
def test_latex_to_text(latex, text):
  """pylatexenc's text with the references' symbol spellings, hand-worked from their `_parse_latex`."""
  assert latex_to_text(latex) == text


def test_latex_fractions_keep_the_references_strictness():
  """An unreduced LaTeX fraction is compared as the string `2/4`, so it does not equal 1/2 (the
  references' rule for fractions), while an equal value in another form does."""
  assert normalize("\\frac{2}{4}", ENTROPY_MATH) == "2/4"
  assert not grade_sympy("\\frac{2}{4}", "\\frac{1}{2}", ENTROPY_MATH)
  assert grade_sympy("\\frac{1}{2}", "0.5", ENTROPY_MATH)


@pytest.mark.parametrize("given, truth, expected", [
    ("1/2", "0.5", True),
    ("2/4", "1/2", False),                  # unreduced fractions must match as strings
    ("3.0", "3", True),                     # 3.0 normalises to 3
    ("3.5", "7/2", True),
    ("x^2+2x+1", "(x+1)^2", True),
    ("(1,2)", "(1, 2)", True),
    ("(1,2)", "[1,2]", False),              # the brackets of a tuple must match
    ("(1,2,3)", "(1,2)", False),
    ("1,000,000", "10^6", False),           # an integer must be matched by an integer
    ("10^6", "1000000", False),             # ... and "10^6" is not one as a string
    ("2\\sqrt{2}", "\\sqrt{8}", True),      # LaTeX, via the replacement
    ("", "5", False),
    ("7", "8", False),
])
def test_grade_sympy(given, truth, expected):
  """entropy_math's `grade_answer_sympy`, hand-worked."""
  assert grade_sympy(given, truth, ENTROPY_MATH) is expected


def test_grade_sympy_missing_reference():
  """No reference (a boxed reference that does not close) is never matched."""
  assert grade_sympy("5", None, ENTROPY_MATH) is False


def test_split_tuple():
  """Tuples and intervals split at commas; thousands separators and nested brackets do not split."""
  assert split_tuple("(1,000,2)") == ["1000", "2"]
  assert split_tuple("[a, b)") == ["a", "b"]
  assert split_tuple("((1,2),3)") == ["((1,2),3)"]
  assert split_tuple("") == []


def test_sympy_budget_is_enforced(monkeypatch):
  """A comparison that runs over its budget is "not equal", quickly, and leaves no timer behind."""

  def slow_simplify(expr):
    time.sleep(5)
    return 0

  monkeypatch.setattr(sympy_grader.sympy, "simplify", slow_simplify)
  start = time.monotonic()
  assert are_equal_under_sympy("x", "x", budget_s=0.2) is False
  assert time.monotonic() - start < 2.0
  assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
  assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.default_int_handler, None)


def test_power_towers_are_not_evaluated():
  """The references' guard: `^{`, `^(` and multi-digit exponents never reach sympy."""
  assert are_equal_under_sympy("2^{10}", "1024", 5.0) is False
  assert are_equal_under_sympy("2^10", "1024", 5.0) is False
  assert are_equal_under_sympy("2^9", "512", 5.0) is True


_PARITY_PAIRS = [
    ("1/2", "0.5"), ("2/4", "1/2"), ("0.50", "1/2"), ("3.0", "3"), ("3", "3.0"), ("3.5", "7/2"),
    ("x^2+2x+1", "(x+1)^2"), ("2x", "x2"), ("(1,2)", "(1, 2)"), ("(1,2)", "[1,2]"), ("[1,2)", "[1, 2)"),
    ("(1,2,3)", "(1,2)"), ("1,000,000", "1000000"), ("1,000,000", "10^6"), ("10^6", "1000000"),
    ("3 million", "3000000"), ("3 million", "3*10^6"), ("50%", "50"), ("50%", "0.5"), ("12 cm", "12"),
    ("12 centimeters", "12"), ("2 liters", "2"), ("90 degrees", "90"), ("A", "a"), ("yes", "Yes"),
    ("7 3/4", "31/4"), ("7 3/4", "7.75"), ("-3", "- 3"), ("{5}", "5"), ("x+y", "y+x"), ("xyz", "xyz"),
    ("xy+z", "z+xy"), ("1e3", "1000"), ("1000.0000001", "1000"), ("nan", "nan"), ("inf", "inf"),
    ("", "5"), ("5", ""), ("a and b", "a,b"), ("2^3", "8"), ("sqrt(8)", "2sqrt(2)"),
    ("(1/2,3)", "(0.5,3)"), ("-1/2", "-0.5"), ("1/0", "2/0"), ("1,2", "1,2"), ("1, 2", "(1,2)"),
    ("x^{2}+1", "x^2+1"), ("{1}/{2}", "1/2"),
]


@pytest.mark.parametrize("given, truth", _PARITY_PAIRS)
@pytest.mark.parametrize("spec, naive", [(ENTROPY_MATH, False), (NAIVE_DAPO, True)])
def test_parity_with_reference_transcription(given, truth, spec, naive):
  """`normalize` and `grade_sympy` equal the transcribed references on LaTeX-free inputs."""
  assert normalize(given, spec) == _ref_normalize(given, naive)
  assert normalize(truth, spec) == _ref_normalize(truth, naive)
  assert grade_sympy(given, truth, spec) == _ref_grade_answer_sympy(given, truth, naive)
