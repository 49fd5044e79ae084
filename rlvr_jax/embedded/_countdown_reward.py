"""The countdown task's reward (`reward.name=builtin_countdown`): exact, from `countdown.check_expression`.

It lives with the task (the task owns its verifier) and registers in the one reward registry, which the
config validation reads; `rlvr_jax.embedded._tasks` imports it, so it is registered wherever a built-in
task can be chosen.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rlvr_jax.embedded._countdown import check_expression
from rlvr_jax.rewards._base import RewardResult, StatelessReward, check_batch, score
from rlvr_jax.rewards._registry import REWARDS


@REWARDS.register("builtin_countdown")
class CountdownReward(StatelessReward):
  """Correct iff the whole completion is an expression that uses exactly the given numbers and equals
  the target. `extracted` is the expression (None when the completion is not an expression), so
  `no_answer` counts malformed completions."""

  def __call__(self, completions: Sequence[str], answers: Sequence[str]) -> RewardResult:
    check_batch(completions, answers)
    verdicts = [check_expression(c, str(a)) for c, a in zip(completions, answers)]
    correct = np.asarray([ok for ok, _ in verdicts], bool)
    extracted = tuple(e for _, e in verdicts)
    has_answer = np.asarray([e is not None for e in extracted], bool)
    return RewardResult(scores=score(correct, has_answer, self.config), correct=correct, extracted=extracted,
                        metrics={"correct": int(correct.sum()), "no_answer": int((~has_answer).sum()),
                                 "timeouts": 0, "crashes": 0, "errors": 0})
