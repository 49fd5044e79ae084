"""naive_dapo's verdict (Beyond the 80/20, Reasoning360 lineage): mathd string match, else sympy
equality, else PRIME's `math_equal`.

Reference: Shenzhi-Wang/Beyond-the-80-20-Rule-RLVR @097092a, `verl/utils/reward_score/naive_dapo.py`,
`compute_score` after `match_answer`, and `grade_answer`. Runs in verifier workers (imports sympy).

Faithful quirks: when either side contains `\\pi` the reference calls `math_equal(..., tiemout=True)`, a
misspelled keyword that raises TypeError, caught as "incorrect", so for those answers only the mathd and
sympy checks count; `math_equal` errors (e.g. an answer with `_` that is not a base subscript) count as
incorrect. Time budget: sympy 10 s per tuple element (reference decorator); `math_equal` has none here
(see `prime_grader`), the pool's per-sample limit bounds the whole sample.

Deviations: those of `sympy_grader` (LaTeX to text, safe parsing) and `prime_grader`.
"""

from __future__ import annotations

from rlvr_jax.rewards import _sympy_grader as sympy_grader
from rlvr_jax.rewards._mathd_normalize import normalize_answer
from rlvr_jax.rewards._prime_grader import math_equal


def grade_answer(given: str, ground_truth: str) -> bool:
  """naive_dapo `grade_answer`: PRM800K-normalised strings equal, or the sympy grader says equal."""
  if normalize_answer(ground_truth) == normalize_answer(given):
    return True
  return sympy_grader.grade_sympy(given, ground_truth, sympy_grader.NAIVE_DAPO)


def grade(answer: str, ground_truth: str) -> bool:
  """The verdict for `answer` (the boxed content, or the whole text after `</think>` when unboxed)."""
  if grade_answer(answer, ground_truth):
    return True
  if "\\pi" in answer or "\\pi" in ground_truth:
    return False  # the reference's math_equal call raises here (misspelled keyword), caught as wrong
  try:
    return bool(math_equal(answer, ground_truth))
  except Exception:  # noqa: BLE001 -- the reference's bare except
    return False
