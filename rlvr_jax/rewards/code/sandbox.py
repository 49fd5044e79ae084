"""Sandboxed runs of untrusted programs, supervised from trainer threads.

A run gets a fresh temporary working directory (HOME and TMPDIR point there; it is deleted after),
a tiny explicit environment (nothing of the trainer's: no keys, tokens, or PYTHON* settings), rlimits
on CPU time, address space, file size, processes and open files, a session and process group of its
own, and, where the probe in `isolation.py` found them usable, a private network namespace and an
unprivileged user of its own. The zygote (`zygote.py`, one per `Sandbox`) forks each run and applies
all of that, in a single-threaded process (the trainer is a multithreaded jax process, where code
between fork and exec can deadlock); its per-run launcher enforces the wall-clock limit and kills
everything the program started. This side writes the files, reads stdout / stderr / results with a
cap (a program printing forever cannot fill the trainer's memory), and kills the run's process groups
as a backstop if its launcher is lost.

What this does and does not guarantee is written down in docs/security.md.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
import selectors
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import weakref
from typing import Any

from rlvr_jax.rewards.code import harness, zygote

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
_ZYGOTE_SOURCE = open(zygote.__file__, encoding="utf-8").read()  # noqa: SIM115
_HARNESS_SOURCE = open(harness.__file__, encoding="utf-8").read()  # noqa: SIM115
_CHOICES = ("auto", "require", "off")
_DRAIN_S = 0.5
_FD_ORDER = ("stdout", "stderr", "results", "status")  # after stdin; zygote.py puts them on fds 1-4


class SandboxError(RuntimeError):
  """The sandbox itself failed (not the program): it cannot be set up as configured."""


@dataclasses.dataclass(frozen=True)
class SandboxConfig:
  """Per-run limits and isolation settings.

  Attributes:
    memory_bytes: RLIMIT_AS of the program (1 GiB): allocating more raises MemoryError.
    max_file_bytes: RLIMIT_FSIZE: the largest file the program may write.
    max_processes: RLIMIT_NPROC; it counts every process of the user, so it bounds fork bombs only
      when the program has a user of its own (privileges dropped) -- see docs/security.md.
    max_open_files: RLIMIT_NOFILE.
    max_output_bytes: cap on each of stdout, stderr and the harness results kept per run; the rest
      is read and discarded (a stdio answer that was cut off is wrong).
    python: interpreter (>= 3.9) of the sandbox zygote and so of the programs, or a wrapper script
      that runs one inside a stricter layer (docs/security.md); None lets the probe pick the
      trainer's, else the first python3 on the minimal PATH that the sandbox user can run.
    isolate_network: "auto" (a private network namespace when the OS allows it), "require" (raise if
      it does not), "off".
    drop_privileges: "auto" (when running as root, each concurrent run gets its own unprivileged uid,
      uid_base + slot), "require" (raise if that is impossible), "off".
    uid_base: where sandbox uids start; each pool reserves `workers` free uids from here, host-wide
      (uids.py), so uid_base and the uids above it must belong to no real user.
    grace_s: time beyond the run's limit for startup and cleanup before the trainer kills the session.
    temp_root: where working directories are made (None: the system temp dir).
  """

  memory_bytes: int = 1 << 30
  max_file_bytes: int = 16 << 20
  max_processes: int = 64
  max_open_files: int = 64
  max_output_bytes: int = 1 << 20
  python: str | None = None
  isolate_network: str = "auto"
  drop_privileges: str = "auto"
  uid_base: int = 1_900_000_000
  grace_s: float = 10.0
  temp_root: str | None = None

  def __post_init__(self):
    for name in ("memory_bytes", "max_file_bytes", "max_processes", "max_open_files", "max_output_bytes",
                 "uid_base"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"sandbox.{name}={value!r} must be an int >= 1")
    if self.max_open_files < 16:
      raise ValueError(f"sandbox.max_open_files={self.max_open_files} must be >= 16 (Python's own needs)")
    for name in ("isolate_network", "drop_privileges"):
      if getattr(self, name) not in _CHOICES:
        raise ValueError(f"sandbox.{name}={getattr(self, name)!r}; use one of {', '.join(_CHOICES)}")
    if not (isinstance(self.grace_s, (int, float)) and math.isfinite(self.grace_s) and self.grace_s > 0):
      raise ValueError(f"sandbox.grace_s={self.grace_s!r} must be a finite number > 0")


@dataclasses.dataclass(frozen=True)
class Isolation:
  """What a run actually gets (decided once by the probe in `isolation.py`).

  Attributes:
    python: the interpreter that runs programs.
    unshare_flags: clone flags the launcher unshares (a private network namespace), 0 for none.
    drop_privileges: programs run as uid_base + slot instead of root.
    network_reason, privileges_reason: why an isolation is missing ("" where present).
  """

  python: str
  unshare_flags: int = 0
  drop_privileges: bool = False
  network_reason: str = ""
  privileges_reason: str = ""

  @property
  def network_isolated(self) -> bool:
    return self.unshare_flags != 0


@dataclasses.dataclass(frozen=True)
class RunResult:
  """How one run ended.

  Attributes:
    timed_out: the wall-clock limit was hit (the program was killed).
    exit_code: the program's exit code; None when a signal ended it or its launcher was lost.
    term_signal: the signal that ended the program, if any.
    stdout, stderr: the first `max_output_bytes` of each.
    stdout_truncated: the program wrote more than that to stdout.
    records: the harness's result records that carry this run's nonce, in order.
  """

  timed_out: bool
  exit_code: int | None
  term_signal: int | None
  stdout: bytes
  stderr: bytes
  stdout_truncated: bool
  records: tuple[dict, ...]


def run_limits(config: SandboxConfig, timeout_s: float) -> dict[str, tuple[int, int]]:
  """rlimits of a run; the CPU limit is a backstop a little above the wall-clock limit."""
  cpu = math.ceil(timeout_s) + 1
  return {"RLIMIT_CPU": (cpu, cpu + 1), "RLIMIT_AS": (config.memory_bytes,) * 2,
          "RLIMIT_FSIZE": (config.max_file_bytes,) * 2, "RLIMIT_NPROC": (config.max_processes,) * 2,
          "RLIMIT_NOFILE": (config.max_open_files,) * 2, "RLIMIT_CORE": (0, 0)}


def run_env(workdir: str) -> dict[str, str]:
  """The whole environment of a run: built from nothing, so no variable of the trainer leaks in."""
  return {"PATH": SAFE_PATH, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}


def _write(path: str, text: str, uid: int | None) -> None:
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  os.chmod(path, 0o600)
  if uid is not None:
    os.chown(path, uid, uid)


def _make_workdir(config: SandboxConfig, uid: int | None) -> str:
  workdir = tempfile.mkdtemp(prefix="rlvr_code_", dir=config.temp_root)
  if uid is not None:
    os.chown(workdir, uid, uid)
  return workdir


def _remove_tree(path: str) -> None:
  """Deletes the working directory even where the program made parts of it unwritable."""

  def make_writable(function, failed_path, _):
    os.chmod(os.path.dirname(failed_path), stat.S_IRWXU)
    if os.path.isdir(failed_path) and not os.path.islink(failed_path):
      os.chmod(failed_path, stat.S_IRWXU)
    function(failed_path)

  shutil.rmtree(path, onerror=make_writable)


def _collect(streams: dict[str, int], cap: int, deadline: float) -> tuple[dict[str, bytes], set[str], bool]:
  """Reads every fd to EOF, keeping `cap` bytes of each; (data, names over the cap, reached EOF).

  Only the launcher holds the status pipe, and it exits after killing everything it started, so once
  that pipe is at EOF what is left in the others is already buffered: a process that escaped the
  cleanup and still holds them gets `_DRAIN_S`, not the rest of the deadline.
  """
  data = {name: bytearray() for name in streams}
  truncated: set[str] = set()
  with selectors.DefaultSelector() as selector:
    for name, fd in streams.items():
      selector.register(fd, selectors.EVENT_READ, name)
    while selector.get_map():
      remaining = deadline - time.monotonic()
      if remaining <= 0:
        return {k: bytes(v) for k, v in data.items()}, truncated, False
      for key, _ in selector.select(remaining):
        chunk = os.read(key.fd, 1 << 16)
        if not chunk:
          selector.unregister(key.fd)
          if key.data == "status":
            deadline = min(deadline, time.monotonic() + _DRAIN_S)
          continue
        buffer = data[key.data]
        room = cap - len(buffer)
        buffer += chunk[:max(room, 0)]
        if len(chunk) > room:
          truncated.add(key.data)
  return {k: bytes(v) for k, v in data.items()}, truncated, True


def _json_lines(text: bytes) -> list[Any]:
  records = []
  for line in text.decode("utf-8", errors="replace").splitlines():
    try:
      records.append(json.loads(line))
    except json.JSONDecodeError:
      continue  # a line cut by the output cap, or the program's own writes to the result pipe
  return records


def _kill_group(pgid: int | None) -> None:
  if pgid is None:
    return
  try:
    os.killpg(pgid, signal.SIGKILL)
  except (ProcessLookupError, PermissionError):
    pass


def _stop_zygote(sock: socket.socket, process: subprocess.Popen) -> None:
  sock.close()  # EOF: the zygote returns from its loop
  try:
    process.wait(timeout=5)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()


class Sandbox:
  """Runs programs in sandboxed processes forked by one zygote (zygote.py); thread-safe.

  Args:
    config: per-run limits.
    isolation: what runs get (from `isolation.probe_isolation`); its python runs the zygote.

  Raises:
    SandboxError: from `run`, when the sandbox itself fails (its zygote died, a run could not be set up).
  """

  def __init__(self, config: SandboxConfig, isolation: Isolation):
    self.config, self.isolation = config, isolation
    self._lock = threading.Lock()
    self._sock, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with zygote_end:
      try:
        self._process = subprocess.Popen(
            [isolation.python, "-I", "-c", _ZYGOTE_SOURCE, str(zygote_end.fileno()), _HARNESS_SOURCE],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, pass_fds=(zygote_end.fileno(),), cwd="/",
            env={"PATH": SAFE_PATH, "LANG": "C.UTF-8"}, start_new_session=True)
      except OSError as e:
        self._sock.close()
        raise SandboxError(f"cannot start the sandbox interpreter sandbox.python={isolation.python!r}: {e}"
                           ) from None
    self._finalizer = weakref.finalize(self, _stop_zygote, self._sock, self._process)

  def _send(self, request: dict, fds: list[int]) -> None:
    with self._lock:
      if not self._finalizer.alive:
        raise SandboxError("the sandbox is closed")
      try:
        socket.send_fds(self._sock, [json.dumps(request).encode()], fds)
      except OSError as e:
        raise SandboxError(f"the sandbox zygote ({self.isolation.python}) is gone (exit code "
                           f"{self._process.poll()}): {e}") from None

  def run(self, program: str, job: dict, *, timeout_s: float, uid: int | None,
          stdin: str | None = None) -> RunResult:
    """Runs `program` under the harness with `job` (see harness.py) in a fresh sandbox.

    Args:
      uid: the unprivileged user of this run (None: the trainer's user); the caller guarantees that
        no other run uses it at the same time, since all its processes are killed at the end.
      stdin: the program's standard input (None: empty).
    """
    workdir = _make_workdir(self.config, uid)
    nonce = secrets.token_hex(16)
    pipes = {name: os.pipe() for name in ("stdout", "stderr", "status", "results")}
    try:
      _write(os.path.join(workdir, "program.py"), program, uid)
      _write(os.path.join(workdir, "job.json"), json.dumps({**job, "nonce": nonce}), uid)
      stdin_path = os.path.join(workdir, "stdin.txt")
      _write(stdin_path, stdin or "", None)  # root-owned: read through fd 0 only
      stdin_fd = os.open(stdin_path, os.O_RDONLY)
      request = {"workdir": workdir, "job": "job.json", "uid": uid, "unshare": self.isolation.unshare_flags,
                 "limits": run_limits(self.config, timeout_s), "env": run_env(workdir),
                 "timeout_s": timeout_s}
      try:
        self._send(request, [stdin_fd] + [pipes[name][1] for name in _FD_ORDER])
      finally:
        os.close(stdin_fd)
        for name in pipes:
          os.close(pipes[name][1])
      data, truncated, finished = _collect({name: pipes[name][0] for name in pipes},
                                           self.config.max_output_bytes,
                                           time.monotonic() + timeout_s + self.config.grace_s)
      status = _json_lines(data["status"])
      errors = [r["message"] for r in status if r.get("event") == "error"]
      if errors:
        raise SandboxError(f"{errors[0]} (stderr: {data['stderr'][-500:].decode(errors='replace')!r})")
      if not any(r.get("event") == "started" for r in status):
        raise SandboxError(f"the sandbox zygote ({self.isolation.python}) did not start the run (zygote exit "
                           f"code {self._process.poll()})")
      return _run_result(status, data, truncated, finished, nonce)
    finally:
      for read_end, _ in pipes.values():
        os.close(read_end)
      _remove_tree(workdir)

  def close(self) -> None:
    """Stops the zygote (idempotent); runs in flight finish on their own."""
    self._finalizer()

  def __enter__(self) -> Sandbox:
    return self

  def __exit__(self, *exc) -> None:
    self.close()


def _run_result(status: list[dict], data: dict[str, bytes], truncated: set[str], finished: bool,
                nonce: str) -> RunResult:
  """The result of a started run from what its pipes carried; kills what a lost launcher left behind."""
  exit_record = next((r for r in status if r.get("event") == "exit"), None)
  if exit_record is None:  # the launcher was killed before its cleanup (possible without dropped uids)
    started = next(r for r in status if r.get("event") == "started")
    for pgid in (started["program"], started["launcher"]):
      _kill_group(pgid)
    exit_record = {"timed_out": not finished}
  records = tuple(r for r in _json_lines(data["results"]) if isinstance(r, dict) and r.get("nonce") == nonce)
  return RunResult(timed_out=exit_record["timed_out"], exit_code=exit_record.get("code"),
                   term_signal=exit_record.get("signal"), stdout=data["stdout"], stderr=data["stderr"],
                   stdout_truncated="stdout" in truncated, records=records)
