"""A wall-clock budget for one step of a grader, raised as `TimeoutError` inside the step.

The ported graders (entropy_math, naive_dapo) give individual steps their own budgets (sympy
simplification 5 s or 10 s, the math-verify recall 1 s) and treat a step that runs over as "not equal",
then go on to the next check. Reproducing that verdict needs the same interruption inside the step, so
this is the references' SIGALRM timer. It only works in a process's main thread, which is where
`pool.TimeoutPool` runs a task; the pool's hard per-sample kill stays the outer limit for code that a
signal cannot interrupt (C-level loops).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
  """Raises `TimeoutError` in the block once `seconds` of wall time have passed.

  Restores the previous SIGALRM handler and cancels the timer on exit, so budgets do not leak into the
  next task of a persistent worker.
  """
  if not seconds > 0:
    raise ValueError(f"time_limit seconds={seconds!r} must be > 0")
  if threading.current_thread() is not threading.main_thread():
    raise RuntimeError("time_limit uses SIGALRM and only works in the main thread; run graders in a "
                       "TimeoutPool worker (or the main thread)")

  def expire(signum, frame):
    raise TimeoutError(f"step exceeded its {seconds} s budget")

  previous = signal.signal(signal.SIGALRM, expire)
  signal.setitimer(signal.ITIMER_REAL, seconds)
  try:
    yield
  finally:
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)
