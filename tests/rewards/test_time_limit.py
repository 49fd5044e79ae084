"""time_limit: a step over its budget raises TimeoutError; the timer and handler never leak."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from rlvr_jax.rewards._time_limit import time_limit


def test_over_budget_raises_quickly_and_cleans_up():
  """A 10 s sleep under a 0.2 s budget is cut near 0.2 s; afterwards no timer runs, the handler is back."""
  before = signal.getsignal(signal.SIGALRM)
  start = time.monotonic()
  with pytest.raises(TimeoutError, match="0.2 s budget"):
    with time_limit(0.2):
      time.sleep(10)
  assert 0.15 < time.monotonic() - start < 2.0
  assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
  assert signal.getsignal(signal.SIGALRM) is before


def test_within_budget_returns_and_cancels():
  """A step within budget returns its value and leaves no pending alarm: nothing fires later (a recording
  handler stands in for the default one, which would kill the process)."""
  fired = []
  previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
  try:
    with time_limit(0.3):
      value = 7
    time.sleep(0.5)
  finally:
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)
  assert value == 7 and not fired


def test_main_thread_only_and_bad_budget():
  """SIGALRM works only in the main thread: elsewhere a clear error; a non-positive budget is rejected."""
  errors = []

  def run():
    try:
      with time_limit(1.0):
        pass
    except RuntimeError as e:
      errors.append(str(e))

  thread = threading.Thread(target=run)
  thread.start()
  thread.join()
  assert errors and "main thread" in errors[0]
  with pytest.raises(ValueError, match="seconds=0"):
    with time_limit(0):
      pass
