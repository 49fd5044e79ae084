"""`entropy_math`: the Clip-Cov / KL-Cov reward (PRIME-RL's verl port), 1 / 0 by the recipe.

Reference: volcengine/verl @b95e257b, `recipe/entropy/reward_score/entropy_math/__init__.py`,
`compute_score(model_response, gt_answer, fast=False)`, routed for every data source by
`recipe/entropy/reward_score/__init__.py` @0a1b394a (`str(ground_truth)`).

Semantics: the content of the last `\\boxed{...}` of the whole response (no truncation; `\\fbox` never
counts, see `reference_extraction.entropy_math_answer`); none -> incorrect, and no format credit. A
boxed reference is unboxed. Correct if the mathd-normalised strings are equal, or sympy says equal, or
math-verify says equal (`entropy_math_grader`). The recipe's values are 1.0 / 0.0
(`RewardConfig(correct=1, incorrect=0)`, the default); its `format_score` (1 when a box was found) is
what `format_weight` pays for here.

Deviations: listed in `entropy_math_grader` and `sympy_grader` (parsing without code execution; the
installed math-verify; LaTeX becomes text through pylatexenc, as in the reference). Timeouts:
the reference's inner budgets, plus the pool's per-sample limit (`RewardConfig.timeout_s`; keep it above
5 s x tuple elements + 3 s so the inner budgets decide, as in the reference).
"""

from __future__ import annotations

import logging

from rlvr_jax.rewards._pooled_reward import PooledReward, Prepared
from rlvr_jax.rewards._reference_extraction import entropy_math_answer
from rlvr_jax.rewards._registry import REWARDS


def grade_in_worker(task: tuple[str, str]) -> bool:
  """(boxed answer, reference) -> correct? Runs in a verifier worker, which alone imports the grader
  (sympy, math-verify): the trainer process never loads them."""
  from rlvr_jax.rewards import _entropy_math_grader as entropy_math_grader

  return entropy_math_grader.grade(*task)


def warm_entropy_math() -> None:
  """Worker initializer: pay the grader's imports before the first timed sample."""
  from rlvr_jax.rewards import _entropy_math_grader as entropy_math_grader  # noqa: F401

  logging.getLogger("math_verify").setLevel(logging.ERROR)


@REWARDS.register("entropy_math")
class EntropyMathReward(PooledReward):
  """entropy_math `compute_score` over a batch; `correct` is its `acc`."""

  grade_fn = grade_in_worker
  initializer = warm_entropy_math

  def prepare(self, completion: str, answer: str) -> Prepared:
    boxed = entropy_math_answer(completion)
    if boxed is None:
      return Prepared(task=None, extracted=None, formatted=False)
    return Prepared(task=(boxed, answer), extracted=boxed, formatted=True)
