"""Math answers verified symbolically with math-verify, in worker processes with a per-sample timeout.

The answer is extracted here (last `\\boxed{}`, then plain-text fallbacks); math-verify compares it with
the reference, both parsed as `\\boxed{...}` LaTeX, so "0.5", "\\frac{1}{2}" and "1/2" agree. math-verify's
own signal-based timeouts are disabled inside the workers (they only work in a main thread and would
race with the pool's kill); the pool's hard per-sample limit replaces them.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

import numpy as np

from rlvr_jax.rewards import _pool as pool_lib
from rlvr_jax.rewards._base import RewardConfig, RewardResult, check_batch, score
from rlvr_jax.rewards._extraction import extract_answer, last_boxed
from rlvr_jax.rewards._registry import REWARDS


def _as_latex(answer: str) -> str:
  """Wraps a bare answer in \\boxed{} so math-verify's LaTeX extraction reads all of it."""
  answer = answer.strip()
  return answer if ("\\boxed" in answer or answer.startswith("$")) else f"\\boxed{{{answer}}}"


def warm_math_verify() -> None:
  """Worker initializer: pay the sympy / latex2sympy import before the first timed sample."""
  import math_verify  # noqa: F401

  logging.getLogger("math_verify").setLevel(logging.ERROR)  # the "timeout disabled" warnings


def verify_answer(task: tuple[str, str]) -> bool:
  """(extracted answer, reference answer) -> equivalent? Runs inside a worker."""
  from math_verify import parse, verify

  predicted, reference = task
  gold = parse(_as_latex(reference), parsing_timeout=None)
  target = parse(_as_latex(predicted), parsing_timeout=None)
  if not gold or not target:
    return False
  return bool(verify(gold, target, timeout_seconds=None))


@REWARDS.register("math_verify")
class MathVerifyReward:
  """Scores math completions; owns a persistent `TimeoutPool` (started on first use, `close()` it).

  Args:
    config: reward values, timeout, worker count.
    verify_fn: the per-sample verifier run in the workers (a module-level function of
      (predicted, reference)); replaceable so tests can inject hangs and crashes.
  """

  def __init__(self, config: RewardConfig | None = None, *,
               verify_fn: Callable[[tuple[str, str]], Any] = verify_answer,
               initializer: Callable[[], None] | None = warm_math_verify, start_method: str = "forkserver"):
    self.config = config if config is not None else RewardConfig()
    self._verify_fn, self._initializer, self._start_method = verify_fn, initializer, start_method
    self._pool: pool_lib.TimeoutPool | None = None

  def _get_pool(self) -> pool_lib.TimeoutPool:
    if self._pool is None:
      self._pool = pool_lib.TimeoutPool(self._verify_fn, workers=self.config.workers,
                                        timeout_s=self.config.timeout_s, initializer=self._initializer,
                                        start_method=self._start_method)
    return self._pool

  def __call__(self, completions: Sequence[str], answers: Sequence[str]) -> RewardResult:
    check_batch(completions, answers)
    extracted = tuple(extract_answer(c, fallbacks=self.config.fallbacks) for c in completions)
    to_verify = [i for i, e in enumerate(extracted) if e is not None]
    outcomes = self._get_pool().map([(extracted[i], str(answers[i])) for i in to_verify]) if to_verify else []
    correct = np.zeros(len(completions), bool)
    statuses = []
    for i, outcome in zip(to_verify, outcomes):
      correct[i] = outcome.status == pool_lib.OK and bool(outcome.value)
      statuses.append(outcome.status)
    has_answer = np.asarray([e is not None for e in extracted], bool)
    boxed = np.asarray([last_boxed(c) is not None for c in completions], bool)
    metrics = {
        "correct": int(correct.sum()),
        "no_answer": int((~has_answer).sum()),
        "timeouts": statuses.count(pool_lib.TIMEOUT),
        "crashes": statuses.count(pool_lib.CRASH),
        "errors": statuses.count(pool_lib.ERROR),
    }
    return RewardResult(scores=score(correct, boxed, self.config), correct=correct,
                        extracted=extracted, metrics=metrics)

  def close(self) -> None:
    if self._pool is not None:
      self._pool.close()
      self._pool = None

  def __enter__(self) -> MathVerifyReward:
    return self

  def __exit__(self, *exc) -> None:
    self.close()
