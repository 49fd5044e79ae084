"""One run per directory, checked before anything is built: the first thing `train` does.

`RunDirectory(run_dir)` (a context manager around the whole run):

  1. makes the directory (or fails naming why: a file on its path, no permission, a read-only disk);
  2. checks that what the run writes there has the right kind where it exists (`metrics.jsonl` and the
     saved config are files; `checkpoints/`, `tensorboard/`, `hf/`, `hf/final`, `eval/` are
     directories), that the directory and those subdirectories are writable (a probe file is created and
     deleted), that `metrics.jsonl` has no damaged line, and that the disk has room for one checkpoint;
  3. takes an exclusive lock: `fcntl.flock` on `RUN_DIR/run.lock`, held for the run's life and released
     by the kernel when the process ends in any way (kill -9 included), so it is never stale. The file
     records the holder's pid, host, start time and command; a second launcher exits at once (exit code
     2) naming them, instead of both writing the same checkpoints and metrics rows. Only process 0 of a
     multi-process run takes it (every process of one run shares the directory); the outcome is agreed
     by all processes, so they fail or go on together;
  4. on the way out, turns a full disk (`rlvr_jax.train._disk_full`) into one message naming the last
     committed checkpoint, after removing the partial one.

The lock works where flock does: local disks, NFSv4 (flock is emulated with byte-range locks), Lustre
mounted with -o flock. On a filesystem without locks the run prints a warning and goes on unlocked.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import math
import os
import socket
import sys
import tempfile
from typing import Callable

from rlvr_jax.errors import ConfigError
from rlvr_jax.train._agreement import any_process
from rlvr_jax.train._checkpointing import committed_steps, remove_partial_checkpoints
from rlvr_jax.models._pretrained import expected_hf_shapes
from rlvr_jax.models._config import QwenConfig
from rlvr_jax.train._disk_full import DiskFullError, disk_full_error, ensure_free, writing
from rlvr_jax.train._metrics_log import METRICS_FILE, check_jsonl

LOCK_FILE = "run.lock"
# What a run writes in its directory, and the kind each must be where it exists.
FILES = (METRICS_FILE, "config.json", "config_changes.jsonl", LOCK_FILE)
DIRECTORIES = ("checkpoints", "tensorboard", "hf", "eval", "diagnostics")
_NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)


class RunDirError(ConfigError):
  """The run directory cannot hold this run; the message names the path and why."""


class RunDirBusy(RunDirError):
  """Another live process holds the run directory's lock; the message names its pid and host."""


class RunDirectory:
  """Args:
    run_dir: the run directory (train.run_dir).
    process_index, process_count: this process and the run's processes.
    checkpoint_bytes: about what one checkpoint takes (the disk must have room for it at the start).
    warn: where a run without a lock says so.
  """

  def __init__(self, run_dir: str, *, process_index: int = 0, process_count: int = 1, checkpoint_bytes: int = 0,
               warn: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True)):
    self.run_dir = run_dir
    self.path = os.path.abspath(run_dir)
    self.process_index, self.process_count = process_index, process_count
    self.checkpoint_bytes = checkpoint_bytes
    self._warn = warn
    self._lock_fd: int | None = None

  def __enter__(self) -> RunDirectory:
    error = None
    try:
      self._prepare()
    except Exception as e:  # noqa: BLE001 - agreed on below, then raised as it is on every process that has it
      error = e
    if any_process(error is not None):
      self._release()
      raise error if error is not None else RunDirError(
          f"train.run_dir={self.run_dir!r}: another process of this run could not open it (see process 0's "
          f"message)")
    return self

  def __exit__(self, kind, error, traceback) -> bool:
    try:
      full = disk_full_error(error) if isinstance(error, Exception) else None
      if full is not None:
        checkpoints = os.path.join(self.path, "checkpoints")
        if self.process_index == 0:
          full.removed = remove_partial_checkpoints(checkpoints)
        steps = committed_steps(checkpoints)
        full.last_step, full.checkpoints = (steps[-1] if steps else None), checkpoints
        if full is not error:
          raise full from error
    finally:
      self._release()
    return False

  # ---- set-up ----

  def _prepare(self) -> None:
    field = f"train.run_dir={self.run_dir!r}"
    try:
      os.makedirs(self.path, exist_ok=True)
    except FileExistsError:
      raise RunDirError(f"{field} exists and is not a directory") from None
    except OSError as e:
      raise RunDirError(f"{field} cannot be created ({_why(e)})") from None
    for name in FILES:
      path = os.path.join(self.path, name)
      if os.path.isdir(path):
        raise RunDirError(f"{field}: {path} is a directory; the run writes a file there (move it away)")
    hf = os.path.join(self.path, "hf")
    exports = [os.path.join("hf", name) for name in sorted(os.listdir(hf)) if name == "final" or name.startswith(
        "step_")] if os.path.isdir(hf) else []
    for name in DIRECTORIES + (os.path.join("hf", "final"), *exports):
      path = os.path.join(self.path, name)
      if os.path.lexists(path) and not os.path.isdir(path):
        raise RunDirError(f"{field}: {path} exists and is not a directory; the run writes a directory there "
                          f"(move it away)")
    for directory in (self.path, *(os.path.join(self.path, name) for name in DIRECTORIES)):
      if os.path.isdir(directory):
        self._probe(directory, field)
    metrics = os.path.join(self.path, METRICS_FILE)
    if self.process_index == 0:
      if os.path.isfile(metrics):
        try:
          with open(metrics, "a"):
            pass
        except OSError as e:
          raise RunDirError(f"{field}: {metrics} cannot be appended to ({_why(e)})") from None
        check_jsonl(metrics)
      self._lock(field)
    ensure_free("a checkpoint", os.path.join(self.path, "checkpoints"), self.checkpoint_bytes)

  def _probe(self, directory: str, field: str) -> None:
    """Creates and deletes a file in `directory`: the only test of writability that root, read-only mounts
    and ACLs all answer truthfully."""
    try:
      with writing("a probe file", directory):
        fd, probe = tempfile.mkstemp(dir=directory, prefix=f".write-probe-{socket.gethostname()}-{os.getpid()}-")
        os.close(fd)
        os.remove(probe)
    except OSError as e:
      raise RunDirError(f"{field}: {directory} is not writable ({_why(e)})") from None

  def _lock(self, field: str) -> None:
    path = os.path.join(self.path, LOCK_FILE)
    try:
      fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as e:
      raise RunDirError(f"{field}: cannot open the lock file {path} ({_why(e)})") from None
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = _holder(os.pread(fd, 4096, 0))
      os.close(fd)
      raise RunDirBusy(f"{field} is in use by another run: {holder} holds the lock {path}. Wait for that run "
                       f"to end (or stop it), or set train.run_dir to another directory") from None
    except OSError as e:
      if e.errno not in _NO_LOCKS:
        os.close(fd)
        raise RunDirError(f"{field}: cannot lock {path} ({_why(e)})") from None
      self._warn(f"warning: {path}: the filesystem does not support flock ({_why(e)}); this run goes on without "
                 f"the lock that keeps a second run out of {self.path}")
    record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                         "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                         "command": " ".join(sys.argv)[:500]})
    try:
      with writing("the run lock", path):
        os.ftruncate(fd, 0)
        os.pwrite(fd, (record + "\n").encode(), 0)
    except OSError as e:
      os.close(fd)
      raise RunDirError(f"{field}: cannot write the lock file {path} ({_why(e)})") from None
    except DiskFullError:
      os.close(fd)
      raise
    self._lock_fd = fd

  def _release(self) -> None:
    """Closing the descriptor releases the lock; the file stays (deleting it would race a new run's open)."""
    if self._lock_fd is not None:
      os.close(self._lock_fd)
      self._lock_fd = None


def checkpoint_estimate(architecture: QwenConfig) -> int:
  """Bytes one checkpoint of this policy takes, at least: float32 parameters and AdamW's two moments."""
  return 3 * 4 * sum(math.prod(shape) for shape in expected_hf_shapes(architecture).values())


def _holder(content: bytes) -> str:
  try:
    record = json.loads(content.decode("utf-8").strip().splitlines()[0])
    return (f"pid {record['pid']} on host {record['host']} (started {record['started']}: "
            f"{_short(record.get('command', ''))})")
  except (ValueError, KeyError, IndexError, TypeError):
    return "a process (its lock file records no pid and host yet)"


def _short(command: str, limit: int = 160) -> str:
  return command if len(command) <= limit else command[:limit] + " ..."


def _why(error: OSError) -> str:
  return f"{type(error).__name__}: {error.strerror or error}"
