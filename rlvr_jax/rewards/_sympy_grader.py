"""The "sympy" answer grader shared by entropy_math and naive_dapo (Hendrycks MATH / PRM800K lineage).

References (both transcribed here; they differ only where `GraderSpec` says):
* entropy_math: volcengine/verl @b95e257b, `recipe/entropy/reward_score/entropy_math/__init__.py`,
  `_normalize`, `split_tuple`, `are_equal_under_sympy` (5 s), `grade_answer_sympy`.
* naive_dapo: Shenzhi-Wang/Beyond-the-80-20-Rule-RLVR @097092a, `verl/utils/reward_score/naive_dapo.py`,
  `_normalize`, `are_equal_under_sympy` (10 s), `grade_answer` after its mathd check.

Both normalise each side (units, percent and dollar signs, `\\text{}`, LaTeX to plain text), accept equal
strings, else split tuples/intervals and require every element to be equal: unreduced fractions and
integers must match as strings, everything else must have a sympy difference that simplifies to 0.

LaTeX becomes text as in the references: pylatexenc's `LatexNodes2Text` (with a space before every
`\\frac`, so `3\\frac12` reads as the mixed number `3 1/2`), then its symbols spelled the way sympy reads
them. That keeps the references' quirks, e.g. `\\frac{x+1}{2}` becomes `x+1/2` (pylatexenc drops the
grouping), which is what the official graders compare.

Deviation (the only one): `parse_expr` goes through `safe_sympy.parse_expr` (no code execution; see there).
"""

from __future__ import annotations

import dataclasses
import re

import sympy
from pylatexenc import latex2text
from sympy.parsing import sympy_parser

from rlvr_jax.rewards import _safe_sympy as safe_sympy
from rlvr_jax.rewards._time_limit import time_limit

_UNITS = ("degree", "cm", "centimeter", "meter", "mile", "second", "minute", "hour", "day", "week", "month",
          "year", "foot", "feet", "inch", "yard")


@dataclasses.dataclass(frozen=True)
class GraderSpec:
  """Where the two references' copies differ.

  Attributes:
    units: unit words removed by `_normalize` (naive_dapo adds "liter").
    compact: also drop spaces and braces at the end of `_normalize` (entropy_math).
    sympy_budget_s: per-element limit of the sympy comparison (reference decorators: 5 s / 10 s).
  """

  units: tuple[str, ...]
  compact: bool
  sympy_budget_s: float


ENTROPY_MATH = GraderSpec(units=_UNITS, compact=True, sympy_budget_s=5.0)
NAIVE_DAPO = GraderSpec(units=_UNITS + ("liter",), compact=False, sympy_budget_s=10.0)

_BAD_SUBSTRINGS = ("^{", "^(")
_BAD_REGEXES = (re.compile(r"\^[0-9]+\^"), re.compile(r"\^[0-9][0-9]+"))
_TUPLE_CHARS = "()[]"
_ENCLOSING_TEXT = re.compile(r"^\\text\{(?P<text>.+?)\}$")
_FRACTION = re.compile(r"^-?[0-9]+.?/0*[1-9][0-9]*.?$")
_MIXED_NUMBER = re.compile(r"([0-9]) +([0-9])")
_THOUSANDS_COMMA = re.compile(r"(\d)(,)(\d\d\d)($|\D)")
# pylatexenc's output symbols and how the references spell them for sympy.
_SYMBOLS_SPELLED = (("\u221a", "sqrt"), ("\u03c0", "pi"), ("\u221e", "inf"), ("\u222a", "U"), ("\u00b7", "*"),
                    ("\u00d7", "*"))
_LATEX_TO_TEXT = latex2text.LatexNodes2Text()
_SYMPY_TRANSFORMATIONS = (sympy_parser.standard_transformations
                          + (sympy_parser.implicit_multiplication_application,))


def latex_to_text(expr: str) -> str:
  """The references' `_parse_latex`: LaTeX -> text that sympy can read (module docstring)."""
  for variant in ("\\tfrac", "\\dfrac"):
    expr = expr.replace(variant, "\\frac")
  text = _LATEX_TO_TEXT.latex_to_text(expr.replace("\\frac", " \\frac"))
  for symbol, spelled in _SYMBOLS_SPELLED:
    text = text.replace(symbol, spelled)
  return text.strip()


def _is_float(text: str) -> bool:
  try:
    float(text)
    return True
  except ValueError:
    return False


def _is_int(x: float) -> bool:
  try:
    return abs(x - int(round(x))) <= 1e-7
  except Exception:  # noqa: BLE001 -- nan / inf
    return False


def _strip_thousands_commas(expr: str) -> str:
  """`1,000,000` -> `1000000`, leaving tuple commas (`1,2`) alone."""
  while True:
    stripped = _THOUSANDS_COMMA.sub(r"\1\3\4", expr)
    if stripped == expr:
      return stripped
    expr = stripped


def _str_is_int(text: str) -> bool:
  try:
    x = float(_strip_thousands_commas(text))
    return abs(x - int(round(x))) <= 1e-7
  except Exception:  # noqa: BLE001
    return False


def _is_frac(expr: str) -> bool:
  return bool(_FRACTION.search(expr))


def normalize(expr: str | None, spec: GraderSpec) -> str | None:
  """The references' `_normalize`: text answers lower-cased, numbers canonical, LaTeX as text."""
  if expr is None:
    return None
  enclosed = _ENCLOSING_TEXT.search(expr)
  if enclosed is not None:
    expr = enclosed.group("text")
  expr = expr.replace("\\%", "%").replace("\\$", "$").replace("$", "").replace("%", "")
  expr = expr.replace(" or ", " , ").replace(" and ", " , ")
  expr = expr.replace("million", "*10^6").replace("billion", "*10^9").replace("trillion", "*10^12")
  for unit in spec.units:
    expr = re.sub(f"{unit}(es)?(s)? *(\\^[0-9]+)?", "", expr)
  expr = re.sub(r"\^ *\\circ", "", expr)
  if len(expr) > 0 and expr[0] == "{" and expr[-1] == "}":
    expr = expr[1:-1]
  expr = re.sub(r",\\! *", "", expr)
  if _is_float(expr) and _is_int(float(expr)):
    expr = str(int(round(float(expr))))
  if "\\" in expr:
    try:
      expr = latex_to_text(expr)
    except Exception:  # noqa: BLE001 -- unparseable LaTeX stays as written (reference: bare except)
      pass
  expr = re.sub("- *", "-", expr)
  expr = _MIXED_NUMBER.sub(r"\1+\2", expr)
  if spec.compact:
    expr = expr.replace(" ", "").replace("{", "").replace("}", "")
  expr = expr.lower()
  if _str_is_int(expr):
    expr = str(int(float(expr.replace(",", ""))))
  return expr


def _should_allow_eval(expr: str) -> bool:
  """No more than two unknown letters and no power towers (sympy may hang on them)."""
  letters = {c for c in expr.replace("sqrt", "").replace("frac", "") if c.isalpha()}
  if len(letters) > 2:
    return False
  if any(bad in expr for bad in _BAD_SUBSTRINGS):
    return False
  return not any(pattern.search(expr) for pattern in _BAD_REGEXES)


def are_equal_under_sympy(ground_truth: str, given: str, budget_s: float) -> bool:
  """sympy.simplify(gt - given) == 0 within `budget_s` (over budget or any failure: not equal)."""
  try:
    with time_limit(budget_s):
      expr = f"({ground_truth})-({given})"
      if not _should_allow_eval(expr):
        return False
      difference = safe_sympy.parse_expr(expr.replace("^", "**"), transformations=_SYMPY_TRANSFORMATIONS)
      return sympy.simplify(difference) == 0
  except Exception:  # noqa: BLE001 -- TimeoutError included: the reference catches it the same way
    return False


def split_tuple(expr: str) -> list[str]:
  """Elements of `(a,b)` / `[a,b)` (no nested brackets), else the whole expression."""
  expr = _strip_thousands_commas(expr)
  if len(expr) == 0:
    return []
  if (len(expr) > 2 and expr[0] in _TUPLE_CHARS and expr[-1] in _TUPLE_CHARS
      and all(c not in expr[1:-1] for c in _TUPLE_CHARS)):
    return [element.strip() for element in expr[1:-1].split(",")]
  return [expr]


def grade_sympy(given: str, ground_truth: str | None, spec: GraderSpec) -> bool:
  """entropy_math `grade_answer_sympy` / naive_dapo `grade_answer` after its mathd check."""
  truth = normalize(ground_truth, spec)
  answer = normalize(given, spec)
  if truth is None:
    return False
  if truth == answer:
    return True
  if len(answer) == 0:
    return False
  truth_elements, answer_elements = split_tuple(truth), split_tuple(answer)
  if len(truth_elements) > 1 and (truth[0] != answer[0] or truth[-1] != answer[-1]):
    return False  # brackets of a tuple / interval must match
  if len(truth_elements) != len(answer_elements):
    return False
  for truth_element, answer_element in zip(truth_elements, answer_elements):
    if _is_frac(truth_element) and _is_frac(answer_element):
      equal = truth_element == answer_element  # unreduced fractions are wrong
    elif _str_is_int(truth_element) != _str_is_int(answer_element):
      equal = False  # an integer must be matched by an integer
    else:
      equal = are_equal_under_sympy(truth_element, answer_element, spec.sympy_budget_s)
    if not equal:
      return False
  return True
