"""A full disk, said plainly: what was being written, where, and where the run can resume from.

Every write of a run (checkpoint, metrics row, tensorboard events, HF export, saved config, lock) runs
inside `writing(what, path)`, which turns an error caused by a full disk or an exhausted quota (ENOSPC,
EDQUOT, or the same condition as tensorstore and safetensors report it, in their message) into one
`DiskFullError`. `rlvr_jax.train._run_dir.RunDirectory` then adds the last committed checkpoint and
removes the partial one, and the launcher prints the message alone with exit code 4; a rerun once there
is space resumes from that checkpoint exactly (the kill -9 path: docs/reliability.md).

Writes that can be sized beforehand (a checkpoint, an HF export) are also checked against the free
space first (`ensure_free`), which avoids the cascade of background-thread failures a checkpoint
writer produces when the disk fills under it. A checkpoint is the run's biggest write and it grows the
disk by its full size (older checkpoints are deleted only after the new one commits).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
from typing import Iterator

from rlvr_jax.train._agreement import any_process

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# How libraries that do not raise OSError report the same condition (tensorstore: "... No space left on
# device [os_error_code='28']"; safetensors: "No space left on device (os error 28)").
_DISK_FULL_TEXT = re.compile(r"No space left on device|Disk quota exceeded|os_error_code='(28|122)'|os error (28|122)")


class DiskFullError(RuntimeError):
  """A write failed because its disk is full (or the quota is used up).

  Attributes:
    what: what was being written ("checkpoint 3", "the metrics row of step 5", ...); None: the file `path`.
    path: where.
    reason: the system's words ("No space left on device"), or the free-space shortfall.
    predicted: the write was not attempted: it was sized beforehand and would not fit.
    last_step: the newest committed checkpoint step (None: none), filled in by the run directory.
    removed: partial checkpoint directories removed.
    checkpoints: the checkpoint directory, for the message.
  """

  def __init__(self, what: str | None, path: str, reason: str, *, predicted: bool = False):
    super().__init__(what, path, reason)
    self.what, self.path, self.reason, self.predicted = what, path, reason, predicted
    self.last_step: int | None = None
    self.removed: list[str] = []
    self.checkpoints: str | None = None

  def __str__(self) -> str:
    target = self.path if self.what is None else f"{self.what} ({self.path})"
    if not self.path:  # nothing in the error said where (e.g. the embedded policy's cache, a library's file)
      text = f"disk full: a write failed ({self.reason})"
    elif self.predicted:
      text = f"disk full: {target} does not fit ({self.reason})"
    else:
      text = f"disk full: writing {target} failed ({self.reason})"
    if self.checkpoints is None:
      return text
    removed = (f"; the partial checkpoint {', '.join(self.removed)} was removed" if self.removed else "")
    if self.last_step is None:
      resume = "no checkpoint was committed yet, so a rerun starts the run from step 0"
    else:
      resume = (f"the last committed checkpoint is step {self.last_step} "
                f"({os.path.join(self.checkpoints, str(self.last_step))}), where a rerun resumes")
    return (f"{text}; {resume}{removed}. Free space on that disk (or raise the quota) and rerun the same "
            f"command")


def disk_full_cause(error: BaseException) -> BaseException | None:
  """The exception in `error`'s chain (causes, contexts, exception groups) that says the disk is full; a
  DiskFullError there first (it knows what was being written), else the first raw one."""
  seen: set[int] = set()
  pending, raw = [error], None
  while pending:
    e = pending.pop()
    if e is None or id(e) in seen:
      continue
    seen.add(id(e))
    if isinstance(e, DiskFullError):
      return e
    if raw is None and (isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS or _DISK_FULL_TEXT.search(str(e))):
      raw = e
    pending.extend([e.__cause__, e.__context__, *getattr(e, "exceptions", ())])
  return raw


def reason_of(error: BaseException) -> str:
  """The system's words for a disk-full error."""
  if isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS:
    return os.strerror(error.errno)
  match = _DISK_FULL_TEXT.search(str(error))
  if match and match.group(0).startswith(("os_error_code", "os error")):
    return os.strerror(int(match.group(1) or match.group(2)))
  return match.group(0) if match else str(error)


def as_disk_full(error: BaseException, what: str | None, path: str) -> DiskFullError | None:
  """`error` as a DiskFullError about writing `what` to `path`, or None if the disk is not full."""
  cause = disk_full_cause(error)
  if cause is None:
    return None
  if isinstance(cause, DiskFullError):
    return cause
  return DiskFullError(what, path, reason_of(cause))


def disk_full_error(error: BaseException) -> DiskFullError | None:
  """`error` as a DiskFullError when the disk is full, where no `writing` context said what was being
  written: the file an OSError in its chain names, if one does."""
  return as_disk_full(error, None, failed_path(error) or "")


def failed_path(error: BaseException | None) -> str | None:
  """The file an OSError in `error`'s chain names, if one does."""
  while error is not None:
    if isinstance(error, OSError) and error.filename:
      return os.fspath(error.filename)
    error = error.__cause__ or error.__context__
  return None


@contextlib.contextmanager
def writing(what: str, path: str) -> Iterator[None]:
  """Runs a write; an error caused by a full disk becomes a DiskFullError naming `what` and `path`."""
  try:
    yield
  except Exception as e:  # noqa: BLE001 - only disk-full errors are translated; the rest propagate as they are
    full = as_disk_full(e, what, path)
    if full is None or full is e:
      raise
    raise full from e


def free_bytes(path: str) -> int | None:
  """Free bytes for an unprivileged writer on the filesystem of `path` (or its nearest existing parent);
  None where the filesystem reports no size (some network and FUSE filesystems), so nothing is assumed."""
  while not os.path.exists(path) and os.path.dirname(path) != path:
    path = os.path.dirname(path)
  stats = os.statvfs(path)
  if stats.f_blocks == 0:
    return None
  return stats.f_bavail * stats.f_frsize


def ensure_free(what: str, path: str, needed: int) -> None:
  """Raises DiskFullError before writing `needed` bytes of `what` to `path` where they cannot fit."""
  free = free_bytes(path)
  if free is not None and needed > free:
    raise DiskFullError(what, path, f"it needs about {_mib(needed)}, {_mib(free)} are free", predicted=True)


def _mib(n: int) -> str:
  return f"{n / (1 << 20):.1f} MiB"


@contextlib.contextmanager
def staged_directory(path: str, *, what: str, writer: bool, needed: int = 0) -> Iterator[str]:
  """A directory written in full or not at all: the body writes into `<path>.partial`, which replaces
  `path` only once the body returns; on any error it is removed, so a full disk never leaves a
  half-written export that looks like a real one. Only the `writer` process touches the disk (every
  process runs the body, whose gathers are collective, and every process takes part in the free-space
  check, so that they refuse the write together)."""
  staging = f"{path}.partial"
  free = free_bytes(path)
  if any_process(free is not None and needed > free):
    raise DiskFullError(what, path, f"it needs about {_mib(needed)}, {_mib(free or 0)} are free", predicted=True)
  if writer:
    with writing(what, path):
      shutil.rmtree(staging, ignore_errors=True)
      os.makedirs(staging)
  try:
    with writing(what, path):
      yield staging
      if writer:
        previous = f"{path}.previous"
        if os.path.isdir(path):
          shutil.rmtree(previous, ignore_errors=True)
          os.replace(path, previous)
        os.replace(staging, path)
        shutil.rmtree(previous, ignore_errors=True)
  except BaseException:
    if writer:
      shutil.rmtree(staging, ignore_errors=True)
    raise
