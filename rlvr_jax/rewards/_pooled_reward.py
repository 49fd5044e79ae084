"""Base for rewards whose comparison may hang (sympy, math-verify) and so runs in a `TimeoutPool`.

A subclass says what the trainer process finds in each completion (`prepare`: cheap string work) and
which module-level function grades it in the workers; this class owns the pool, the batching and the
counts. A completion with nothing to grade never reaches a worker. A sample that times out, crashes its
worker or raises scores `incorrect` and is counted, never stopping the run.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from rlvr_jax.rewards import _pool as pool_lib
from rlvr_jax.rewards._base import RewardConfig, RewardResult, check_batch, score


@dataclasses.dataclass(frozen=True)
class Prepared:
  """What the trainer found in one completion.

  Attributes:
    task: picklable argument of the worker function; None = nothing to grade (incorrect).
    extracted: the answer reported in `RewardResult.extracted` (None: none); a worker may supply it.
    formatted: the answer is in the scorer's own format (earns `format_weight`; `no_answer` counts
      the others); None = decided by the worker (whether it reports an extracted answer).
  """

  task: Any
  extracted: str | None
  formatted: bool | None


class PooledReward(abc.ABC):
  """Scores a batch through a persistent pool of verifier workers (started on first use; `close()` it).

  Subclasses set `grade_fn` (module-level; returns a bool, or (bool, extracted answer or None)) and
  `initializer` (imports the grader before the first timed task), and implement `prepare`.

  Args:
    config: reward values, per-sample timeout, worker count.
    grade_fn: replaces the class's grader (tests inject hangs and crashes).
    start_method: "forkserver" or "spawn" (never fork: jax threads).
  """

  grade_fn: Callable[[Any], Any]
  initializer: Callable[[], None] | None = None

  def __init__(self, config: RewardConfig | None = None, *, grade_fn: Callable[[Any], Any] | None = None,
               start_method: str = "forkserver"):
    self.config = config if config is not None else RewardConfig()
    self._grade_fn = grade_fn if grade_fn is not None else type(self).grade_fn
    self._initializer = None if grade_fn is not None else type(self).initializer
    self._start_method = start_method
    self._pool: pool_lib.TimeoutPool | None = None

  @abc.abstractmethod
  def prepare(self, completion: str, answer: str) -> Prepared:
    """The host-side part of grading one completion: what the pool's grade_fn receives."""

  def _get_pool(self) -> pool_lib.TimeoutPool:
    if self._pool is None:
      self._pool = pool_lib.TimeoutPool(self._grade_fn, workers=self.config.workers,
                                        timeout_s=self.config.timeout_s, initializer=self._initializer,
                                        start_method=self._start_method)
    return self._pool

  def __call__(self, completions: Sequence[str], answers: Sequence[str]) -> RewardResult:
    check_batch(completions, answers)
    prepared = [self.prepare(str(c), str(a)) for c, a in zip(completions, answers)]
    graded = [i for i, p in enumerate(prepared) if p.task is not None]
    outcomes = self._get_pool().map([prepared[i].task for i in graded]) if graded else []
    correct = np.zeros(len(prepared), bool)
    extracted = [p.extracted for p in prepared]
    statuses = []
    for i, outcome in zip(graded, outcomes):
      statuses.append(outcome.status)
      if outcome.status != pool_lib.OK:
        continue
      verdict, found = outcome.value if isinstance(outcome.value, tuple) else (outcome.value, None)
      correct[i] = bool(verdict)
      extracted[i] = found if found is not None else extracted[i]
    formatted = np.asarray([p.formatted if p.formatted is not None else extracted[i] is not None
                            for i, p in enumerate(prepared)], bool)
    metrics = {
        "correct": int(correct.sum()),
        "no_answer": int((~formatted).sum()),
        "timeouts": statuses.count(pool_lib.TIMEOUT),
        "crashes": statuses.count(pool_lib.CRASH),
        "errors": statuses.count(pool_lib.ERROR),
    }
    return RewardResult(scores=score(correct, formatted, self.config), correct=correct,
                        extracted=tuple(extracted), metrics=metrics)

  def close(self) -> None:
    if self._pool is not None:
      self._pool.close()
      self._pool = None

  def __enter__(self):
    return self

  def __exit__(self, *exc) -> None:
    self.close()
