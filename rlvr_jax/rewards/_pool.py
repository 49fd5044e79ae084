"""A persistent pool of worker processes with a hard per-task wall-clock limit.

Symbolic verification can hang (sympy on `9^{9^{9^{9^9}}}`) or crash the interpreter, and signal-based
timeouts only work in a main thread. So each task runs in a separate process; a task that exceeds its
limit gets its worker killed and replaced, a worker that dies is replaced, and in both cases the task
is reported as failed while the other workers carry on. Training never stalls on one sample.

`concurrent.futures.ProcessPoolExecutor` cannot kill a single stuck worker (a timeout there leaves the
process running and the pool eventually exhausted), hence this small dispatcher over one pipe per
worker. Workers start with "forkserver" (or "spawn"), never "fork": forking a process in which jax has
started its threads can deadlock.
"""

from __future__ import annotations

import collections
import dataclasses
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import time
import weakref
from typing import Any, Callable, Sequence

OK, TIMEOUT, CRASH, ERROR = "ok", "timeout", "crash", "error"


@dataclasses.dataclass(frozen=True)
class Outcome:
  """status: ok (value is fn's result) | timeout | crash (worker died) | error (fn raised; value = repr)."""

  status: str
  value: Any = None


def _worker_main(conn: multiprocessing.connection.Connection, fn: Callable[[Any], Any],
                 initializer: Callable[[], None] | None) -> None:
  if initializer is not None:
    initializer()
  conn.send(("ready", None))
  while True:
    try:
      message = conn.recv()
    except EOFError:
      return
    if message is None:
      return
    index, task = message
    try:
      conn.send((OK, (index, fn(task))))
    except Exception as e:  # noqa: BLE001 -- any verifier failure scores the sample, never the run
      conn.send((ERROR, (index, f"{type(e).__name__}: {e}")))


class _Worker:
  """One worker process, its end of the pipe, and the task it is running (index into the batch)."""

  def __init__(self, context: multiprocessing.context.BaseContext, fn: Callable[[Any], Any],
               initializer: Callable[[], None] | None):
    self.conn, child_conn = context.Pipe(duplex=True)
    self.process = context.Process(target=_worker_main, args=(child_conn, fn, initializer), daemon=True)
    self.process.start()
    child_conn.close()
    self.ready = False
    self.started_at = time.monotonic()
    self.task: int | None = None
    self.deadline = float("inf")

  def kill(self) -> None:
    if self.process.is_alive():
      self.process.kill()
    self.process.join(timeout=5)
    self.conn.close()


def _shutdown(workers: list[_Worker]) -> None:
  for worker in workers:
    try:
      worker.conn.send(None)
    except (OSError, ValueError):
      pass
  deadline = time.monotonic() + 2.0
  for worker in workers:
    worker.process.join(timeout=max(deadline - time.monotonic(), 0.0))
    worker.kill()
  workers.clear()


class TimeoutPool:
  """Runs `fn(task)` for a batch of tasks across persistent workers, each task limited to `timeout_s`.

  Args:
    fn: a module-level (picklable) function of one picklable argument.
    workers: number of worker processes.
    timeout_s: wall-clock limit per task, counted from when a ready worker receives it.
    initializer: runs once in each worker before it takes tasks (slow imports belong here, so they
      do not count against a task's limit).
    start_method: "forkserver" or "spawn".
    startup_timeout_s: a worker not ready within this time is an environment error (raised).
  """

  def __init__(self, fn: Callable[[Any], Any], *, workers: int, timeout_s: float,
               initializer: Callable[[], None] | None = None, start_method: str = "forkserver",
               startup_timeout_s: float = 120.0):
    if workers < 1:
      raise ValueError(f"workers={workers} must be >= 1")
    if not timeout_s > 0:
      raise ValueError(f"timeout_s={timeout_s!r} must be > 0")
    if start_method not in ("forkserver", "spawn"):
      raise ValueError(f"start_method={start_method!r}: use 'forkserver' or 'spawn' (fork is unsafe "
                       "once jax is initialised)")
    self._context = multiprocessing.get_context(start_method)
    self._fn, self._initializer = fn, initializer
    self.timeout_s, self.startup_timeout_s = timeout_s, startup_timeout_s
    self._workers: list[_Worker] = [self._start() for _ in range(workers)]
    self._finalizer = weakref.finalize(self, _shutdown, self._workers)

  def _start(self) -> _Worker:
    return _Worker(self._context, self._fn, self._initializer)

  def _replace(self, worker: _Worker) -> None:
    worker.kill()
    self._workers[self._workers.index(worker)] = self._start()

  @property
  def closed(self) -> bool:
    return not self._finalizer.alive

  def map(self, tasks: Sequence[Any]) -> list[Outcome]:
    """Outcomes in task order."""
    if self.closed:
      raise RuntimeError("TimeoutPool is closed")
    outcomes: list[Outcome | None] = [None] * len(tasks)
    pending = collections.deque(range(len(tasks)))
    remaining = len(tasks)
    while remaining:
      now = time.monotonic()
      for worker in list(self._workers):
        if worker.ready and worker.task is None and pending:
          index = pending[0]
          try:
            worker.conn.send((index, tasks[index]))
          except (OSError, ValueError):  # died while idle: replace it, the task stays queued
            self._replace(worker)
            continue
          pending.popleft()
          worker.task, worker.deadline = index, now + self.timeout_s
      busy = [w for w in self._workers if w.task is not None or not w.ready]
      next_deadline = min(w.deadline if w.ready else w.started_at + self.startup_timeout_s for w in busy)
      readable = multiprocessing.connection.wait([w.conn for w in busy],
                                                 timeout=max(next_deadline - time.monotonic(), 0.0))
      for worker in [w for w in busy if w.conn in readable]:
        try:
          status, payload = worker.conn.recv()
        except (EOFError, OSError):
          if not worker.ready:
            raise RuntimeError(f"a verifier worker exited during startup (exit code "
                               f"{worker.process.exitcode}); see its stderr") from None
          outcomes[worker.task], remaining = Outcome(CRASH), remaining - 1
          self._replace(worker)
          continue
        if status == "ready":
          worker.ready = True
          continue
        index, value = payload
        outcomes[index], remaining = Outcome(status, value), remaining - 1
        worker.task, worker.deadline = None, float("inf")
      now = time.monotonic()
      for worker in list(self._workers):
        if worker.task is not None and now >= worker.deadline:
          outcomes[worker.task], remaining = Outcome(TIMEOUT), remaining - 1
          self._replace(worker)
        elif not worker.ready and now >= worker.started_at + self.startup_timeout_s:
          raise RuntimeError(f"a verifier worker was not ready within {self.startup_timeout_s} s")
    return outcomes  # type: ignore[return-value]

  def close(self) -> None:
    """Stops the workers (idempotent)."""
    self._finalizer()

  def __enter__(self) -> TimeoutPool:
    return self

  def __exit__(self, *exc) -> None:
    self.close()
