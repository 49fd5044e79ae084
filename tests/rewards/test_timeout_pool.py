"""TimeoutPool: hung, crashing and raising tasks are reported per task and the pool keeps working.

The task functions live at module level so the forkserver workers can import them by name.
"""

from __future__ import annotations

import os
import time

import pytest

from rlvr_jax.rewards._pool import CRASH, ERROR, OK, TIMEOUT, TimeoutPool


def behave(task):
  """A task is (kind, value): echo, sleep (hang), exit (interpreter crash) or raise."""
  kind, value = task
  if kind == "sleep":
    time.sleep(value)
  elif kind == "exit":
    os._exit(value)
  elif kind == "raise":
    raise ValueError(value)
  return value * 2


@pytest.fixture(scope="module")
def pool():
  with TimeoutPool(behave, workers=2, timeout_s=1.5) as p:
    yield p


def test_results_in_task_order(pool):
  """Plain tasks come back ok, in the order they were given, across both workers."""
  outcomes = pool.map([("echo", i) for i in range(7)])
  assert [o.status for o in outcomes] == [OK] * 7
  assert [o.value for o in outcomes] == [2 * i for i in range(7)]


def test_hang_crash_and_error_are_isolated(pool):
  """A sleeping task times out, an os._exit crashes, a raise is an error; neighbours still succeed."""
  start = time.monotonic()
  outcomes = pool.map([("echo", 1), ("sleep", 60), ("exit", 3), ("raise", "bad"), ("echo", 5)])
  elapsed = time.monotonic() - start
  assert [o.status for o in outcomes] == [OK, TIMEOUT, CRASH, ERROR, OK]
  assert outcomes[0].value == 2 and outcomes[4].value == 10
  assert "bad" in outcomes[3].value
  assert elapsed < 30  # the 60 s sleep was cut at the 1.5 s limit (slack for worker restarts)


def test_pool_recovers_after_failures(pool):
  """After timeouts and crashes replaced workers, a later batch runs normally on a full pool."""
  pool.map([("sleep", 60), ("sleep", 60)])  # both workers killed and replaced
  outcomes = pool.map([("echo", i) for i in range(4)])
  assert [o.value for o in outcomes] == [0, 2, 4, 6]
  assert all(w.process.is_alive() for w in pool._workers)


def test_empty_batch(pool):
  """No tasks -> no outcomes, without blocking."""
  assert pool.map([]) == []


def test_close_is_idempotent_and_final():
  """close() stops the workers, can be called twice, and map() afterwards raises."""
  p = TimeoutPool(behave, workers=1, timeout_s=5.0)
  processes = [w.process for w in p._workers]
  p.close()
  p.close()
  assert p.closed and not any(proc.is_alive() for proc in processes)
  with pytest.raises(RuntimeError, match="closed"):
    p.map([("echo", 1)])


@pytest.mark.parametrize("kwargs, message", [
    (dict(workers=0, timeout_s=1.0), "workers=0"),
    (dict(workers=1, timeout_s=0.0), "timeout_s=0.0"),
    (dict(workers=1, timeout_s=1.0, start_method="fork"), "start_method='fork'"),
])
def test_bad_arguments(kwargs, message):
  """Invalid pool settings raise ValueError naming the argument and value, before starting processes."""
  with pytest.raises(ValueError, match=message):
    TimeoutPool(behave, **kwargs)
