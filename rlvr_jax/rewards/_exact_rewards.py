"""Rewards that need no symbolic verifier: the built-in arithmetic task (exact integer match) and a
format-only reward (a non-empty `\\boxed{}` answer is present)."""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from rlvr_jax.rewards._base import RewardResult, StatelessReward, check_batch, score
from rlvr_jax.rewards._extraction import last_boxed
from rlvr_jax.rewards._registry import REWARDS


_INTEGER = re.compile(r"^[+-]?\d+$")


def integer_match(extracted: str | None, answer: str) -> bool:
  """Exact integer equality of an extracted answer ('122', ' +122 ', '1,234', '-7') and the reference."""
  if extracted is None:
    return False
  text = extracted.strip().replace(" ", "").replace(",", "")
  return bool(_INTEGER.match(text)) and int(text) == int(answer.strip())


def _counts(correct: np.ndarray, has_answer: np.ndarray) -> dict[str, int]:
  return {"correct": int(correct.sum()), "no_answer": int((~has_answer).sum()), "timeouts": 0,
          "crashes": 0, "errors": 0}


@REWARDS.register("builtin_arithmetic")
class ArithmeticReward(StatelessReward):
  """Exact: the last `\\boxed{}` must hold the reference integer (no plain-text fallbacks; the task's
  prompt asks for a box, and the exact check is what makes it a clean testbed)."""

  def __call__(self, completions: Sequence[str], answers: Sequence[str]) -> RewardResult:
    check_batch(completions, answers)
    extracted = tuple(last_boxed(c) for c in completions)
    correct = np.asarray([integer_match(e, str(a)) for e, a in zip(extracted, answers)], bool)
    has_answer = np.asarray([e is not None for e in extracted], bool)
    return RewardResult(scores=score(correct, has_answer, self.config), correct=correct,
                        extracted=extracted, metrics=_counts(correct, has_answer))


@REWARDS.register("format")
class FormatReward(StatelessReward):
  """`correct` when the completion holds a non-empty, closed `\\boxed{}`; the answer is not checked."""

  def __call__(self, completions: Sequence[str], answers: Sequence[str]) -> RewardResult:
    check_batch(completions, answers)
    extracted = tuple(last_boxed(c) for c in completions)
    has_answer = np.asarray([e is not None for e in extracted], bool)
    return RewardResult(scores=score(has_answer, has_answer, self.config), correct=has_answer,
                        extracted=extracted, metrics=_counts(has_answer, has_answer))
