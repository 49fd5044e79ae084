"""entropy_math's `grade` (Clip-Cov / KL-Cov): mathd string match, or sympy equality, or math-verify.

Reference: volcengine/verl @b95e257b, `recipe/entropy/reward_score/entropy_math/__init__.py`: `grade`
(called by `compute_score(..., fast=False)`), `grade_answer_mathd`, `grade_answer_sympy`,
`is_latex_equal`, `repeatness`. Runs in verifier workers (imports sympy and math-verify).

Time budgets as in the reference, each a "not equal" when exceeded: sympy 5 s per tuple element;
`is_latex_equal`'s 1 s covers its repetition guard and normalisation (in the reference the first
math-verify call cancels that alarm and sets its own), then math-verify's parse (1 s each) and verify
(1 s per comparison). The pool's per-sample limit is the outer bound; give it room for these budgets.

Deviations: the LaTeX-to-text step of the sympy grader and the safe `parse_expr` (`sympy_grader`);
math-verify is the installed version (the reference's pin is UNCONFIRMED).
"""

from __future__ import annotations

from itertools import islice, zip_longest

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

from rlvr_jax.rewards import _sympy_grader as sympy_grader
from rlvr_jax.rewards._mathd_normalize import normalize_answer_with_units
from rlvr_jax.rewards._reference_extraction import entropy_math_answer
from rlvr_jax.rewards._time_limit import time_limit

_LATEX_EQUAL_BUDGET_S = 1.0
_MATH_VERIFY_TIMEOUT_S = 1
_REPEAT_CHECK_CHARS = 128


def _ranks(sequence: list) -> list[int]:
  order = {value: rank for rank, value in enumerate(sorted(set(sequence)))}
  return [order[value] for value in sequence]


def repeatness(text: str) -> bool:
  """True when the text is mostly repeats: mean longest-common-prefix of adjacent suffixes > 0.2 of
  n(n+1)/2 (suffix array by prefix doubling, Kasai LCP), transcribed with the reference's quirks."""
  codes = [ord(c) for c in text]
  n = len(codes)
  if n <= 1:
    return False
  rank = line = _ranks(codes)
  step = 1
  while step < n - 1:
    line = _ranks(list(zip_longest(line, islice(line, step, None), fillvalue=-1)))
    rank, step = line, step << 1
  suffixes = [0] * n
  for position, r in enumerate(rank):
    suffixes[r] = position
  lcp, k = [0] * n, 0
  for i in range(n):
    if rank[i] == n - 1:
      k = 0
      continue
    j = suffixes[rank[i] + 1]
    while i + k < n and j + k < n and codes[i + k] == codes[j + k]:
      k += 1
    lcp[rank[i]] = k
    if k > 0:
      k -= 1
  return sum(lcp) * 2 / (n * (n + 1)) > 0.2


def _parse_for_latex_equal(text: str) -> list:
  return parse(text, extraction_config=(LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()),
               fallback_mode="no_fallback", extraction_mode=["first_match"],  # a list, as in the reference
               parsing_timeout=_MATH_VERIFY_TIMEOUT_S)


def is_latex_equal(given: str, ground_truth: str) -> bool:
  """Normalised string match, else math-verify (gold = ground truth) on `$...$`-wrapped answers."""
  try:
    with time_limit(_LATEX_EQUAL_BUDGET_S):
      if ((len(given) > _REPEAT_CHECK_CHARS and repeatness(given))
          or (len(ground_truth) > _REPEAT_CHECK_CHARS and repeatness(ground_truth))):
        return False
      truth = sympy_grader.normalize(ground_truth, sympy_grader.ENTROPY_MATH)
      answer = sympy_grader.normalize(given, sympy_grader.ENTROPY_MATH)
      if truth is None:
        return False
      if truth == answer:
        return True
    given = given if "$" in given else f"${given}$"
    ground_truth = ground_truth if "$" in ground_truth else f"${ground_truth}$"
    return bool(verify(_parse_for_latex_equal(ground_truth), _parse_for_latex_equal(given),
                       timeout_seconds=_MATH_VERIFY_TIMEOUT_S))
  except Exception:  # noqa: BLE001 -- TimeoutError included; the reference returns False on any error
    return False


def grade(model_answer: str, ground_truth: str) -> bool:
  """`grade(model_answer, gt, fast=False)`: a boxed reference is unboxed first (no closed box: wrong)."""
  if "\\boxed" in ground_truth:
    ground_truth = entropy_math_answer(ground_truth)
  if ground_truth is None:
    return False
  mathd_equal = normalize_answer_with_units(model_answer) == normalize_answer_with_units(ground_truth)
  return (mathd_equal or sympy_grader.grade_sympy(model_answer, ground_truth, sympy_grader.ENTROPY_MATH)
          or is_latex_equal(model_answer, ground_truth))
