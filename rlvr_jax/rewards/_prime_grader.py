"""PRIME's `math_equal` (string, numeric, tuple and sympy equality), naive_dapo's last check.

Reference: `verl/utils/reward_score/prime_math/grader.py`, `math_equal` / `symbolic_equal` /
`format_intervals` / `normalize` (LLM360/Reasoning360 @c87f0df6, the project naive_dapo comes from;
volcengine/verl @23d6292 has the same steps). Transcribed step for step, with these deviations:
* `symbolic_equal` parses with sympy's `parse_expr` only. The reference tries `parse_latex` second,
  but sympy's LaTeX parser needs antlr4 4.11 and raises ImportError with the 4.13 runtime here (and
  with the 4.9.3 that verl pins for hydra), so it never succeeds in either environment. Parsing goes
  through `safe_sympy` (no code execution); where a side stays unparsed the numeric step is skipped,
  since `N()` would re-parse the same text with the same parser and fail the same way.
* verl's copies wrap parsing and simplification in `with timeout_limit(...)`, which is a decorator
  factory, not a context manager, so every symbolic step raises and is swallowed there: symbolic
  equality is dead in those copies (verl-project/verl#7437). Reasoning360's copy has no wrapper and
  it works; which copy the 80/20 repository vendored (verl @6cf90ceb) is UNCONFIRMED. This port keeps
  it working; the pool's per-sample limit bounds it.
* `handle_pi`'s `eval` of the substituted text accepts plain arithmetic only (`safe_sympy.eval_arithmetic`).
* The two matrix branches test `"\\begin{pmatrix}" in reference` written without a raw string, i.e.
  with a backspace character (`\\x08egin{pmatrix}`); no real reference contains it, so the branches
  (which `eval` the prediction) are not ported.
"""

from __future__ import annotations

import contextlib
import math
import re
from math import isclose
from typing import Any

import sympy

from rlvr_jax.rewards import _safe_sympy as safe_sympy

_INTERVAL_FORMS = ((re.compile(r"^Interval\((.*)\)$"), "[{}]"), (re.compile(r"^Interval\.Ropen\((.*)\)$"), "[{})"),
                   (re.compile(r"^Interval\.Lopen\((.*)\)$"), "({}]"), (re.compile(r"^Interval\.open\((.*)\)$"), "({})"))
_DOLLAR_NUMBER = re.compile(r"\$\d+(\.\d+)?")
_PERCENT_NUMBER = (re.compile(r"^\d+(\.\d+)?%$"), re.compile(r"^\d+(\.\d+)?\\%$"))


def is_digit(value: Any) -> tuple[bool, float | None]:
  """(True, float) for numbers written with or without thousands commas (`1,000`, `1{,}000`)."""
  text = str(value)
  try:
    return True, float(text.replace("{,}", "") if "{,}" in text else text.replace(",", ""))
  except ValueError:
    return False, None


def handle_pi(text: Any, pi: float) -> Any:
  """`2\\pi` -> 2*pi evaluated (`\\pi` after a digit multiplies, elsewhere it is `1*pi`)."""
  if not isinstance(text, str) or "\\pi" not in text:
    return text
  index = text.find("\\pi")
  while index != -1:
    factor = f"*{pi}" if index > 0 and text[index - 1].isdigit() else f"1*{pi}"
    text = text[:index] + factor + text[index + 3:]
    index = text.find("\\pi", index + 1)
  with contextlib.suppress(Exception):
    text = safe_sympy.eval_arithmetic(text)
  return text


def normalize(answer: Any, pi: float) -> Any:
  """`$5` -> `5`, `50%` -> `50`, `101_2` -> 101 (raises ValueError for other `x_y`), pi evaluated."""
  if isinstance(answer, str) and _DOLLAR_NUMBER.match(answer):
    return answer[1:]
  if isinstance(answer, str) and any(p.match(answer) for p in _PERCENT_NUMBER):
    return answer.replace("\\%", "").replace("%", "")
  if isinstance(answer, str) and "_" in answer:  # a base subscript: the number before it
    answer = int(float(answer.split("_")[0]))
  return handle_pi(answer, pi)


def format_intervals(prediction: str) -> str:
  """sympy's `Interval(a, b)` / `.Ropen` / `.Lopen` / `.open` printed as `[a, b]` / `[a, b)` / ..."""
  for pattern, template in _INTERVAL_FORMS:
    match = pattern.match(prediction)
    if match:
      return template.format(match.group(1))
  return prediction


def symbolic_equal(a: str, b: str, tolerance: float) -> bool:
  """sympy: difference simplifies to 0, or numeric values within `tolerance` (module doc)."""

  def parse(text: str) -> Any:
    try:
      return safe_sympy.parse_expr(text)
    except Exception:  # noqa: BLE001 -- (and any Python error inside it): stays text
      return text

  a_parsed, b_parsed = parse(a), parse(b)
  if isinstance(a_parsed, str) or isinstance(b_parsed, str):
    return False
  try:
    if sympy.simplify(a_parsed - b_parsed) == 0:
      return True
  except Exception:  # noqa: BLE001
    pass
  try:
    if isclose(sympy.N(a_parsed), sympy.N(b_parsed), rel_tol=tolerance):
      return True
  except Exception:  # noqa: BLE001
    pass
  return False


def _all_parts_equal(predictions: list[str], references: list[str], include_percentage: bool,
                     tolerance: float) -> bool:
  return len(predictions) == len(references) and all(
      [math_equal(p, r, include_percentage, tolerance) for p, r in zip(predictions, references)])


def math_equal(prediction: Any, reference: Any, include_percentage: bool = True, tolerance: float = 1e-4,
               pi: float = math.pi) -> bool:
  """Equal as strings, as numbers (also x100 / /100 for percentages), element-wise for tuples and
  intervals, or symbolically. Raises where the reference raises (e.g. `x_1`: see `normalize`)."""
  prediction, reference = normalize(prediction, pi), normalize(reference, pi)
  if isinstance(prediction, str) and len(prediction) > 1000:
    prediction = prediction[:1000]
  if isinstance(prediction, str) and isinstance(reference, str):
    if prediction.strip().lower() == reference.strip().lower():
      return True
    if prediction.replace(" ", "") == reference.replace(" ", ""):
      return True
  try:
    if is_digit(prediction)[0] and is_digit(reference)[0]:
      predicted, expected = is_digit(prediction)[1], is_digit(reference)[1]
      candidates = [expected / 100, expected, expected * 100] if include_percentage else [expected]
      for candidate in candidates:
        try:
          if isclose(candidate, predicted, rel_tol=tolerance):
            return True
        except Exception:  # noqa: BLE001
          continue
      return False
  except Exception:  # noqa: BLE001
    pass
  if not prediction and prediction not in [0, False]:
    return False

  reference, prediction = str(reference).strip(), str(prediction).strip()
  prediction = format_intervals(prediction)
  prediction_bare, reference_bare = prediction, reference
  if ((prediction.startswith("[") and prediction.endswith("]") and not reference.startswith("("))
      or (prediction.startswith("(") and prediction.endswith(")") and not reference.startswith("["))):
    prediction_bare, reference_bare = prediction_bare.strip("[]()"), reference_bare.strip("[]()")
  for bracket in "{}()":
    prediction_bare, reference_bare = prediction_bare.replace(bracket, ""), reference_bare.replace(bracket, "")
  if prediction_bare == reference_bare:
    return True

  if (prediction and reference and prediction[0] in "([" and prediction[-1] in ")]"
      and prediction[0] == reference[0] and prediction[-1] == reference[-1]):
    if _all_parts_equal(prediction[1:-1].split(","), reference[1:-1].split(","), include_percentage,
                        tolerance):
      return True
  if "," in prediction and "," in reference:
    predictions = [part.strip() for part in prediction.split(",")]
    references = [part.strip() for part in reference.split(",")]
    if len(predictions) == len(references):
      return _all_parts_equal(predictions, references, include_percentage, tolerance)
  if prediction.startswith("Point") and reference[0] == "(" and reference[-1] == ")":
    if _all_parts_equal(prediction[prediction.find("(") + 1:-1].split(","), reference[1:-1].split(","),
                        include_percentage, tolerance):
      return True
  return symbolic_equal(prediction, reference, tolerance)
