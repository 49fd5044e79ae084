"""`naive_dapo`: the Beyond-the-80/20 reward for its Reasoning360 math data, 1 / 0.

Reference: Shenzhi-Wang/Beyond-the-80-20-Rule-RLVR @097092a, `verl/utils/reward_score/naive_dapo.py`,
`compute_score(solution_str, ground_truth, extra_info)` (from LLM360/Reasoning360). Which scorer that
repository's latest commit routes its `math__*` data to is UNCONFIRMED (its stored `__init__.py` is older
and routes to `math_dapo`); the paper itself trained on DAPO-Math-17k with the DAPO recipe.

Semantics: the text after the last `</think>`; the last `\\boxed` (else `\\fbox`) brace group, stripped;
no truncation. Without a (non-empty) box the reference grades the whole text after `</think>` as the
answer, and so does this port (`extracted` is None then, and there is no format credit). Correct if the
PRM800K-normalised strings are equal, or the sympy grader, or PRIME's `math_equal` says equal
(`naive_dapo_grader`). Values 1.0 / 0.0 (the reference's +1 / -1 line is commented out).

Deviations: listed in `naive_dapo_grader`, `sympy_grader` and `prime_grader`. Timeouts: sympy 10 s per
tuple element inside, and the pool's per-sample limit (`RewardConfig.timeout_s`; keep it above 10 s x
tuple elements so the inner budget decides, as in the reference).
"""

from __future__ import annotations

from rlvr_jax.rewards._pooled_reward import PooledReward, Prepared
from rlvr_jax.rewards._reference_extraction import naive_dapo_answer
from rlvr_jax.rewards._registry import REWARDS


def grade_in_worker(task: tuple[str, str]) -> bool:
  """(answer or unboxed text, reference) -> correct? Runs in a verifier worker, which alone imports
  the grader (sympy): the trainer process never loads it."""
  from rlvr_jax.rewards import _naive_dapo_grader as naive_dapo_grader

  return naive_dapo_grader.grade(*task)


def warm_naive_dapo() -> None:
  """Worker initializer: pay the grader's imports before the first timed sample."""
  from rlvr_jax.rewards import _naive_dapo_grader as naive_dapo_grader  # noqa: F401


@REWARDS.register("naive_dapo")
class NaiveDapoReward(PooledReward):
  """naive_dapo `compute_score` over a batch; `correct` is its `acc`."""

  grade_fn = grade_in_worker
  initializer = warm_naive_dapo

  def prepare(self, completion: str, answer: str) -> Prepared:
    matched, text = naive_dapo_answer(completion)
    return Prepared(task=(text, answer), extracted=text if matched else None, formatted=matched)
