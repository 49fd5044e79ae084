"""Sandboxed runs of untrusted programs, supervised from trainer threads.

A run gets a fresh temporary working directory (HOME and TMPDIR point there; it is deleted after),
a tiny explicit environment, rlimits on CPU time, address space, file size, processes and open files,
a session and process groups of its own, a seccomp filter (_syscall_filter.py: no sockets outside the
run, no namespaces, no fork where no cgroup caps memory), a memory cgroup for all its processes where
the host has one (_cgroups.py; one per Sandbox, so a Sandbox runs one run at a time for the cap to be
per run, as the pool's slots do), and, where the probe in `_isolation.py` found them usable, private
network and IPC namespaces and unprivileged users of its own. Assert and call tests run in a judge
process apart from the program (_judge.py / _candidate.py). The zygote (`_zygote.py`, one per `Sandbox`)
forks each run in a single-threaded process (the trainer is a multithreaded jax process, where code
between fork and exec can deadlock); its per-run launcher enforces the wall-clock limit and kills
everything the run started. This side writes the files, reads every pipe with a cap, parses what
came back with total parsers (_channels.py), and removes the run's directory without recursion
(_cleanup.py): nothing a program does makes `run` raise. `SandboxError` means the sandbox itself is
broken (it cannot start a run as configured).

What this does and does not guarantee is written down in docs/security.md.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import selectors
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from typing import Any

from rlvr_jax.rewards.code import _candidate as candidate, _channels as channels, _cleanup as cleanup, _judge as judge, _wire as wire, _zygote as zygote
from rlvr_jax.rewards.code._cgroups import CgroupParent, SlotCgroup
from rlvr_jax.rewards.code._syscall_filter import FilterPolicy, filter_hex

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
_SOURCES = {name: open(module.__file__, encoding="utf-8").read()  # noqa: SIM115
            for name, module in (("wire", wire), ("candidate", candidate), ("judge", judge))}
_ZYGOTE_SOURCE = open(zygote.__file__, encoding="utf-8").read()  # noqa: SIM115
_CHOICES = ("auto", "require", "off")
_DRAIN_S = 0.5
_STATUS_CAP = 1 << 16
_ZYGOTE_START_S = 60.0

logger = logging.getLogger(__name__)


class SandboxError(RuntimeError):
  """The sandbox itself failed (not the program): it cannot be set up as configured."""


@dataclasses.dataclass(frozen=True)
class SandboxConfig:
  """Per-run limits and isolation settings.

  Attributes:
    memory_bytes: the memory of one run (1 GiB): the cap of its memory cgroup, shared by all the
      program's processes, and RLIMIT_AS of each (so allocating more raises MemoryError). Without a
      cgroup the run may have one process (threads allowed; fork refused), so it holds too. The judge
      of assert / call tests, a separate process of trusted test code, has an RLIMIT_AS of the same size.
    max_file_bytes: RLIMIT_FSIZE: the largest file the program may write.
    max_processes: RLIMIT_NPROC; it counts every process (and thread) of the user, so it bounds fork
      bombs only when the program has a user of its own (privileges dropped) -- see docs/security.md.
    max_open_files: RLIMIT_NOFILE.
    max_output_bytes: cap on each of stdout, stderr and the judge's results kept per run; the rest
      is read and discarded (a stdio answer that was cut off is wrong).
    max_message_bytes: cap on one value exchanged between the judge and the program (a larger one
      is an error of that test).
    python: interpreter (>= 3.9) of the sandbox zygote and so of the programs, or a wrapper script
      that runs one inside a stricter layer (docs/security.md); None lets the probe pick the
      trainer's, else the first python3 on the minimal PATH that the sandbox user can run.
    isolate_network: "auto" (a private network namespace when the OS allows it), "require" (raise if
      it does not), "off" (programs may also open internet sockets).
    drop_privileges: "auto" (when running as root, the program and the judge of each concurrent run
      get unprivileged uids of their own), "require" (raise if that is impossible), "off".
    syscall_filter: "require" (raise where seccomp cannot be installed) or "off" (no filter: programs
      can reach host Unix sockets and fork freely; for debugging only).
    memory_cgroup: "auto" (a memory cgroup per run where the host has one, else one process per run),
      "require" (raise without one), "off" (one process per run).
    cgroup_parent: a cgroup directory to make runs' cgroups in (None: found from the trainer's own).
    uid_base: where sandbox uids start; each pool reserves 2 x `workers` free uids from here,
      host-wide (_uids.py), so uid_base and the uids above it must belong to no real user.
    grace_s: time beyond the run's limit for startup and cleanup before the trainer kills the session.
    temp_root: where working directories are made (None: the system temp dir).
  """

  memory_bytes: int = 1 << 30
  max_file_bytes: int = 16 << 20
  max_processes: int = 64
  max_open_files: int = 64
  max_output_bytes: int = 1 << 20
  max_message_bytes: int = 16 << 20
  python: str | None = None
  isolate_network: str = "auto"
  drop_privileges: str = "auto"
  syscall_filter: str = "require"
  memory_cgroup: str = "auto"
  cgroup_parent: str | None = None
  uid_base: int = 1_900_000_000
  grace_s: float = 10.0
  temp_root: str | None = None

  def __post_init__(self):
    for name in ("memory_bytes", "max_file_bytes", "max_processes", "max_open_files", "max_output_bytes",
                 "max_message_bytes", "uid_base"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"sandbox.{name}={value!r} must be an int >= 1")
    if self.max_open_files < 16:
      raise ValueError(f"sandbox.max_open_files={self.max_open_files} must be >= 16 (Python's own needs)")
    if self.max_message_bytes >= 1 << 32:
      raise ValueError(f"sandbox.max_message_bytes={self.max_message_bytes} must be < 2**32")
    for name in ("isolate_network", "drop_privileges", "memory_cgroup"):
      if getattr(self, name) not in _CHOICES:
        raise ValueError(f"sandbox.{name}={getattr(self, name)!r}; use one of {', '.join(_CHOICES)}")
    if self.syscall_filter not in ("require", "off"):
      raise ValueError(f"sandbox.syscall_filter={self.syscall_filter!r}; use require or off")
    if not (isinstance(self.grace_s, (int, float)) and math.isfinite(self.grace_s) and self.grace_s > 0):
      raise ValueError(f"sandbox.grace_s={self.grace_s!r} must be a finite number > 0")


@dataclasses.dataclass(frozen=True)
class Isolation:
  """What a run actually gets (decided once by the probe in `_isolation.py`).

  Attributes:
    python: the interpreter that runs programs.
    unshare_flags: clone flags the launcher unshares (private network and IPC namespaces), 0 for none.
    drop_privileges: programs and judges run as uids of their own instead of the trainer's.
    syscall_filter: the seccomp filter is installed on every run process.
    allow_inet: the filter lets programs open internet sockets (sandbox.isolate_network="off").
    cgroup: where runs' memory cgroups are made; None: one process per run instead.
    network_reason, privileges_reason, cgroup_reason: why an isolation is missing ("" where present).
  """

  python: str
  unshare_flags: int = 0
  drop_privileges: bool = False
  syscall_filter: bool = False
  allow_inet: bool = False
  cgroup: CgroupParent | None = None
  network_reason: str = ""
  privileges_reason: str = ""
  cgroup_reason: str = ""

  @property
  def network_isolated(self) -> bool:
    return self.unshare_flags != 0


@dataclasses.dataclass(frozen=True)
class RunResult:
  """How one run ended.

  Attributes:
    timed_out: the wall-clock limit was hit (everything was killed).
    exit_code, term_signal: how the program's process ended on its own (both None when it was
      still running at the end, or its launcher was lost).
    stdout, stderr: the first `max_output_bytes` of each.
    stdout_truncated: the program wrote more than that to stdout.
    events: the judge's events (assert / call runs), normalised (channels.JudgeEvent).
    note: a stdio script's own account of how it ended (channels.parse_note).
    oom_kills: processes the run's memory cgroup killed.
    contained: False when processes survived every kill round or the launcher was lost (logged).
  """

  timed_out: bool
  exit_code: int | None
  term_signal: int | None
  stdout: bytes
  stderr: bytes
  stdout_truncated: bool
  events: tuple[channels.JudgeEvent, ...] = ()
  note: str = ""
  oom_kills: int = 0
  contained: bool = True


def run_limits(config: SandboxConfig, timeout_s: float) -> dict[str, tuple[int, int]]:
  """rlimits of a run; the CPU limit is a backstop a little above the wall-clock limit."""
  cpu = math.ceil(timeout_s) + 1
  return {"RLIMIT_CPU": (cpu, cpu + 1), "RLIMIT_AS": (config.memory_bytes,) * 2,
          "RLIMIT_FSIZE": (config.max_file_bytes,) * 2, "RLIMIT_NPROC": (config.max_processes,) * 2,
          "RLIMIT_NOFILE": (config.max_open_files,) * 2, "RLIMIT_CORE": (0, 0)}


def run_env(workdir: str) -> dict[str, str]:
  """The whole environment of a run: built from nothing, so no variable of the trainer leaks in."""
  return {"PATH": SAFE_PATH, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}


def _anonymous_file(name: str, data: bytes) -> int:
  """An fd of a memory file holding `data`, read from the start: no path, so nothing else can open it,
  and no file-system work (a journaled create and unlink cost about a millisecond each)."""
  fd = os.memfd_create(name, os.MFD_CLOEXEC)
  view = memoryview(data)
  while view:
    view = view[os.write(fd, view):]
  os.lseek(fd, 0, os.SEEK_SET)
  return fd


def _collect(streams: dict[str, int], caps: dict[str, int], deadline: float
             ) -> tuple[dict[str, bytes], set[str], bool]:
  """Reads every fd to EOF, keeping caps[name] bytes of each; (data, names over the cap, reached EOF).

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
        room = caps[key.data] - len(buffer)
        buffer += chunk[:max(room, 0)]
        if len(chunk) > room:
          truncated.add(key.data)
  return {k: bytes(v) for k, v in data.items()}, truncated, True


def _kill_group(pgid: int) -> None:
  if pgid <= 1 or pgid == os.getpgrp():
    return
  try:
    os.killpg(pgid, signal.SIGKILL)
  except (ProcessLookupError, PermissionError):
    pass


def run_result(status: channels.LauncherStatus, data: dict[str, bytes], truncated: set[str], finished: bool,
               job: dict) -> RunResult:
  """The result of a started run from what its channels carried (total: any bytes give a result);
  kills what a lost launcher left behind."""
  contained = status.exited and status.survivors == 0
  if not status.exited:  # the launcher was killed before its cleanup (possible without dropped uids)
    for pgid in status.pids:
      _kill_group(pgid)
  if not contained:
    logger.warning("sandbox run not fully contained (launcher %s, %d survivors)",
                   "reported" if status.exited else "lost", status.survivors)
  judged = job["format"] != "stdio"
  ending = status.candidate
  events = channels.parse_judge(data["results"], job["judge"]["num_tests"]) if judged else ()
  return RunResult(timed_out=status.timed_out or not (status.exited or finished),
                   exit_code=ending.code if ending else None, term_signal=ending.signal if ending else None,
                   stdout=data["stdout"], stderr=data["stderr"], stdout_truncated="stdout" in truncated,
                   events=events, note="" if judged else channels.parse_note(data["results"]),
                   oom_kills=status.oom_kills, contained=contained)


class _Zygote:
  """One zygote process and the socket to it; it has joined `cgroup_path` ("" for none) when built."""

  def __init__(self, python: str, cgroup_path: str):
    self.sock, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with zygote_end:
      try:
        self.process = subprocess.Popen(
            [python, "-I", "-c", _ZYGOTE_SOURCE, str(zygote_end.fileno()), json.dumps(_SOURCES), cgroup_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, pass_fds=(zygote_end.fileno(),), cwd="/",
            env={"PATH": SAFE_PATH, "LANG": "C.UTF-8"}, start_new_session=True)
      except OSError as e:
        self.sock.close()
        raise SandboxError(f"cannot start the sandbox interpreter sandbox.python={python!r}: {e}") from None
    self.sock.settimeout(_ZYGOTE_START_S)
    try:
      hello = self.sock.recv(4096)
    except OSError as e:
      hello = f"no answer ({e})".encode()
    self.sock.settimeout(None)
    if hello != b"ready":
      self.stop()
      raise SandboxError(f"the sandbox zygote ({python}) did not start (exit code {self.process.poll()}): "
                         f"{hello.decode(errors='replace') or 'it exited'}")

  def stop(self) -> None:
    self.sock.close()  # EOF: the zygote returns from its loop
    try:
      self.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
      self.process.kill()
      self.process.wait()


def _stop(state: dict) -> None:
  if state["zygote"] is not None:  # None: it failed to start
    state["zygote"].stop()
  if state["cgroup"] is not None and not state["cgroup"].close():
    logger.warning("sandbox cgroup %s could not be removed (processes left in it)", state["cgroup"].path)


class Sandbox:
  """Runs programs in sandboxed processes forked by one zygote (_zygote.py); thread-safe.

  Args:
    config: per-run limits.
    isolation: what runs get (from `isolation.probe_isolation`); its python runs the zygote.

  Raises:
    SandboxError: from `run`, when the sandbox itself fails (its zygote cannot be (re)started, a run
      could not be set up).
  """

  def __init__(self, config: SandboxConfig, isolation: Isolation):
    self.config, self.isolation = config, isolation
    self._lock = threading.Lock()
    policy = FilterPolicy(allow_inet=isolation.allow_inet, allow_fork=isolation.cgroup is not None)
    self._filters = ((filter_hex(policy), filter_hex(FilterPolicy())) if isolation.syscall_filter
                     else ("", ""))
    cgroup = None
    if isolation.cgroup is not None:
      try:
        cgroup = SlotCgroup(isolation.cgroup, config.memory_bytes)
      except OSError as e:
        raise SandboxError(f"cannot make a memory cgroup under {isolation.cgroup.path}: {e}") from None
    self._state: dict[str, Any] = {"zygote": None, "cgroup": cgroup}
    self._finalizer = weakref.finalize(self, _stop, self._state)
    self._state["zygote"] = self._start_zygote()

  def _start_zygote(self) -> _Zygote:
    return _Zygote(self.isolation.python, self._state["cgroup"].path if self._state["cgroup"] else "")

  def _send(self, request: dict, fds: list[int]) -> None:
    """Sends a run request; a zygote that died (a program of the trainer's own user can kill it) is
    restarted once."""
    message = json.dumps(request).encode()
    with self._lock:
      if not self._finalizer.alive:
        raise SandboxError("the sandbox is closed")
      for attempt in range(2):
        zygote_process = self._state["zygote"]
        try:
          socket.send_fds(zygote_process.sock, [message], fds)
          return
        except OSError as e:
          if attempt:
            raise SandboxError(f"the sandbox zygote ({self.isolation.python}) is gone (exit code "
                               f"{zygote_process.process.poll()}): {e}") from None
          logger.warning("sandbox zygote gone (exit code %s); restarting it", zygote_process.process.poll())
          zygote_process.stop()
          self._state["zygote"] = self._start_zygote()

  def run(self, program: str, job: dict, *, timeout_s: float, uid: int | None, judge_uid: int | None = None,
          stdin: str | None = None) -> RunResult:
    """Runs `program` in a fresh sandbox: as a script (job {"format": "stdio"}), or loaded and tested
    by the judge (job {"format": "assert" | "call", "setup", "judge": the judge's job}; _specs.py).

    Args:
      uid, judge_uid: the unprivileged users of the program and of the judge (None: the trainer's);
        the caller guarantees that no other run uses them at the same time, since all their processes
        are killed at the end.
      stdin: the program's standard input (None: empty).
    """
    judged = job["format"] != "stdio"
    workdir = tempfile.mkdtemp(prefix="rlvr_code_", dir=self.config.temp_root)
    pipes = {name: os.pipe() for name in ("stdout", "stderr", "results", "status")}
    cgroup, sent_fds = self._state["cgroup"], []
    try:
      if uid is not None:
        os.chown(workdir, uid, uid)
      sent_fds.append(_anonymous_file("rlvr-stdin", (stdin or "").encode("utf-8", errors="surrogateescape")))
      limits = run_limits(self.config, timeout_s)
      request = {"workdir": workdir, "mode": "judged" if judged else "stdio", "uid": uid, "judge_uid": judge_uid,
                 "unshare": self.isolation.unshare_flags, "limits": limits, "judge_limits": limits,
                 "env": run_env(workdir), "judge_env": {"PATH": SAFE_PATH, "HOME": "/", "LANG": "C.UTF-8"},
                 "timeout_s": timeout_s, "cgroup": cgroup.request if cgroup else None, "filter": self._filters[0],
                 "judge_filter": self._filters[1], "max_message_bytes": self.config.max_message_bytes}
      sent_fds += [pipes[name][1] for name in ("stdout", "stderr", "results", "status")]
      sent_fds.append(_anonymous_file("rlvr-program", json.dumps({"source": program, "setup": job.get("setup", "")}
                                                                 ).encode()))
      if judged:
        judge_job = {**job["judge"], "max_message_bytes": self.config.max_message_bytes}
        sent_fds.append(_anonymous_file("rlvr-judge-job", json.dumps(judge_job).encode()))
      try:
        self._send(request, sent_fds)
      finally:
        for fd in sent_fds:
          os.close(fd)
        sent_fds = []
      cap = self.config.max_output_bytes
      data, truncated, finished = _collect({name: pipes[name][0] for name in pipes},
                                           {"stdout": cap, "stderr": cap, "results": cap, "status": _STATUS_CAP},
                                           time.monotonic() + timeout_s + self.config.grace_s)
      status = channels.parse_status(data["status"])
      if status.errors:
        raise SandboxError(f"{status.errors[0]} (stderr: {data['stderr'][-500:].decode(errors='replace')!r})")
      if not status.started:
        raise SandboxError(f"the sandbox zygote ({self.isolation.python}) did not start the run (zygote exit "
                           f"code {self._state['zygote'].process.poll()})")
      return run_result(status, data, truncated, finished, job)
    finally:
      for fd in sent_fds:
        os.close(fd)
      for read_end, _ in pipes.values():
        os.close(read_end)
      removal = cleanup.remove_tree(workdir)
      if not removal.complete:
        logger.warning("sandbox run directory not fully removed: %s", removal.problem)

  def close(self) -> None:
    """Stops the zygote and removes its cgroup (idempotent); runs in flight finish on their own."""
    self._finalizer()

  def __enter__(self) -> Sandbox:
    return self

  def __exit__(self, *exc) -> None:
    self.close()
