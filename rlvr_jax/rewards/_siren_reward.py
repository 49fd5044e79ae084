"""`siren_math_verify`: SIREN's training reward, math-verify on the whole response, 1 / 0.

Reference: Linn3a/siren @84f51ac, `verl/recipe/entropy/reward_score.py`, `reward_func`:
`acc = verify(parse(solution_str), parse(ground_truth))`, any exception -> 0, score = acc.

Semantics: both strings go to math-verify's `parse` with its defaults (LaTeX and plain-expression
extraction, first-match fallback, 5 s parse timeout) -- the response whole, so math-verify's own
extraction picks the answer (a final `\\boxed{}` first) -- and `verify` with its defaults (5 s per
comparison), with the reference's argument order: the parsed *response* is passed as `gold` and the
parsed reference as `target` (math-verify is not symmetric in them). Values 1.0 / 0.0 by the recipe.

How it differs from `math_verify` (this project's entry): that one extracts the last box (or a plain
"the answer is") itself, parses the reference as gold, and only verifies what it extracted.

Deviations: the installed math-verify version (SIREN's pin is UNCONFIRMED; defaults such as the parse
timeout changed across versions). `extracted` is math-verify's text of what it matched in the response
(its normal form: `0.5` reads `\\frac{1}{2}`; None when it found nothing), and `format_weight` pays for
a match.
"""

from __future__ import annotations

import logging

from rlvr_jax.rewards._pooled_reward import PooledReward, Prepared
from rlvr_jax.rewards._registry import REWARDS


def verify_in_worker(task: tuple[str, str]) -> tuple[bool, str | None]:
  """(response, reference) -> (correct?, math-verify's extracted answer text). Runs in a verifier
  worker, the only process that imports math-verify; its signal-based timeouts work there (main
  thread), as they did in the reference's reward loop."""
  from math_verify import parse, verify

  response, reference = task
  try:
    parsed_response = parse(response)
    correct = bool(verify(parsed_response, parse(reference)))
  except Exception:  # noqa: BLE001 -- reference: any exception scores 0
    return False, None
  found = str(parsed_response[-1]) if parsed_response else None
  return correct, found


def warm_math_verify() -> None:
  """Worker initializer: pay the math-verify / sympy import before the first timed sample."""
  import math_verify  # noqa: F401

  logging.getLogger("math_verify").setLevel(logging.ERROR)


@REWARDS.register("siren_math_verify")
class SirenMathVerifyReward(PooledReward):
  """SIREN `reward_func` over a batch; every completion is graded (there is no extraction step)."""

  grade_fn = verify_in_worker
  initializer = warm_math_verify

  def prepare(self, completion: str, answer: str) -> Prepared:
    return Prepared(task=(completion, answer), extracted=None, formatted=None)
