"""Runs many samples at once on the host's cores, each in its own sandbox.

The work happens in subprocesses, so plain threads suffice to supervise them: a thread blocks in
`select` (GIL released) while its sample runs, and the trainer is never blocked by more than the
batch it asked for. Each thread holds a slot for the whole sample; the slot picks the sample's two
sandbox uids (the program's and the judge's) when privileges are dropped (uids reserved host-wide,
see _uids.py), so the kill-everything-of-this-user cleanup of one run can never hit another run in
flight. A hanging
sample occupies one slot for its own timeout; the other samples go through the other slots meanwhile.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import queue
import threading
from typing import Sequence

from rlvr_jax.rewards.code._grading import SampleResult, grade_sample
from rlvr_jax.rewards.code._isolation import probe_isolation
from rlvr_jax.rewards.code._sandbox import Isolation, RunResult, Sandbox, SandboxConfig
from rlvr_jax.rewards.code._specs import TestSpec
from rlvr_jax.rewards.code._uids import release_uids, reserve_uids


@dataclasses.dataclass(frozen=True)
class SampleTask:
  """One completion's program (None: no code was found) and the tests it must pass."""

  code: str | None
  spec: TestSpec
  stop_at_failure: bool = True


class ExecutorPool:
  """Grades samples in parallel sandboxes; `close()` it (or use it as a context manager).

  Args:
    sandbox: limits and isolation settings (probed once per setting and host; the pool starts one
      sandbox zygote, or one per slot where each slot has a memory cgroup of its own).
    timeout_s: wall-clock limit per run (a whole assert / call program, or one stdio case).
    workers: samples in flight at once (default: the host's cores).
  """

  def __init__(self, sandbox: SandboxConfig = SandboxConfig(), *, timeout_s: float,
               workers: int | None = None):
    workers = (os.cpu_count() or 1) if workers is None else workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
      raise ValueError(f"workers={workers!r} must be an int >= 1")
    if not timeout_s > 0:
      raise ValueError(f"timeout_s={timeout_s!r} must be > 0")
    self.sandbox, self.timeout_s, self.workers = sandbox, float(timeout_s), workers
    self.isolation: Isolation = probe_isolation(sandbox)
    # One sandbox (zygote) for all slots, or, with memory cgroups, one per slot made on its first use
    # (a cgroup caps one run at a time); slot 0's is made now, so a broken sandbox raises here.
    self._sandboxes: list[Sandbox | None] = [None] * (workers if self.isolation.cgroup is not None else 1)
    self._sandboxes_lock = threading.Lock()
    self._sandbox(0)
    self._uids = reserve_uids(sandbox.uid_base, 2 * workers) if self.isolation.drop_privileges else None
    self._slots: queue.SimpleQueue[int] = queue.SimpleQueue()
    for slot in range(workers):
      self._slots.put(slot)
    self._executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="code-sandbox")

  def uid(self, slot: int) -> int | None:
    """The program's sandbox uid in `slot` (reserved for this pool alone), None when privileges are kept."""
    return self._uids[2 * slot] if self._uids is not None else None

  def judge_uid(self, slot: int) -> int | None:
    """The judge's sandbox uid in `slot` (another user than the program's), None when privileges are kept."""
    return self._uids[2 * slot + 1] if self._uids is not None else None

  def _sandbox(self, slot: int) -> Sandbox:
    index = slot % len(self._sandboxes)
    with self._sandboxes_lock:
      if self._sandboxes[index] is None:
        self._sandboxes[index] = Sandbox(self.sandbox, self.isolation)
      return self._sandboxes[index]

  def _run(self, slot: int, program: str, job: dict, stdin: str | None) -> RunResult:
    sandbox = self._sandbox(slot)
    return sandbox.run(program, job, timeout_s=self.timeout_s, uid=self.uid(slot), judge_uid=self.judge_uid(slot),
                       stdin=stdin)

  def _grade(self, task: SampleTask) -> SampleResult:
    if task.code is None:  # nothing to run: no slot, no process
      return grade_sample(None, task.spec, self._run, stop_at_failure=task.stop_at_failure)
    slot = self._slots.get()
    try:
      return grade_sample(task.code, task.spec,
                          lambda program, job, stdin: self._run(slot, program, job, stdin),
                          stop_at_failure=task.stop_at_failure)
    finally:
      self._slots.put(slot)

  def submit(self, task: SampleTask) -> concurrent.futures.Future[SampleResult]:
    """Starts grading `task` in the background (for callers that overlap grading with other work)."""
    return self._executor.submit(self._grade, task)

  def map(self, tasks: Sequence[SampleTask]) -> list[SampleResult]:
    """Verdicts in task order; raises `SandboxError` if the sandbox itself fails."""
    futures = [self.submit(task) for task in tasks]
    return [future.result() for future in futures]

  def close(self) -> None:
    """Waits for running samples, then stops the threads and the sandbox's zygote (idempotent)."""
    self._executor.shutdown(wait=True, cancel_futures=True)
    with self._sandboxes_lock:
      for sandbox in self._sandboxes:
        if sandbox is not None:
          sandbox.close()
    if self._uids is not None:
      release_uids(self._uids)
      self._uids = None

  def __enter__(self) -> ExecutorPool:
    return self

  def __exit__(self, *exc) -> None:
    self.close()
