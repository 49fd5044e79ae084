"""The sandbox zygote: a small, single-threaded server that forks one sandboxed run per request.

Starting two interpreters per run (a launcher and the program) costs ~50-150 ms, which dominates
grading when a batch holds thousands of runs (one per stdio case). So one zygote per pool starts once,
under the sandbox interpreter, and every run is a fork of it: a fresh process with nothing of any
other run, a few milliseconds all told. Forking is safe here and not in the trainer, because the
zygote never starts a thread; the trainer only talks to it over a socket.

Per request (JSON + five fds: stdin, stdout, stderr, status, results) the zygote forks a launcher:
  launcher  new session; stdio on fds 0-2, results on fd 3, status on fd 4; everything else closed
            (the zygote's socket included); cwd = the run's directory; a private network namespace
            (unshare) and child-subreaper status; then it forks the program and enforces the
            wall-clock limit. It stays the program's parent, so "kill my parent" hits the launcher.
  program   own process group, rlimits, no supplementary groups, the sandbox uid (when root), the
            run's environment, status fd closed; then the test harness runs the program in-process.
On exit or timeout the launcher kills the program's group, every process of the sandbox uid, and
every orphan re-parented to it (descendants that left with setsid), reaps them, and reports on the
status fd:  {"event": "started", "launcher", "program"} | {"event": "error", "message"} |
            {"event": "exit", "code" | "signal", "timed_out"}.

This file runs under the sandbox interpreter (Python >= 3.9, stdlib only), never imports rlvr_jax,
and receives the harness source as an argument.
"""

import ctypes
import fcntl
import json
import os
import resource
import select
import signal
import socket
import sys
import time
import types

PR_SET_CHILD_SUBREAPER = 36
STDIO, RESULT_FD, STATUS_FD = (0, 1, 2), 3, 4
_MAX_FDS = 8
_KILL_ROUNDS = 500


def _report(record):
  data = (json.dumps(record) + "\n").encode()
  while data:
    data = data[os.write(STATUS_FD, data):]


def _libc_call(name, *args):
  libc = ctypes.CDLL(None, use_errno=True)
  if getattr(libc, name)(*args) != 0:
    errno = ctypes.get_errno()
    raise OSError(errno, f"{name}{args}: {os.strerror(errno)}")


def _arrange_fds(fds):
  """stdin, stdout, stderr, results, status onto fds 0-4; every other fd closed."""
  high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 16) for fd in fds]  # out of the way of the targets first
  for target, fd in zip(STDIO + (RESULT_FD, STATUS_FD), high):
    os.dup2(fd, target)
  os.closerange(STATUS_FD + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _finish_like_an_interpreter(code):
  """What a normal interpreter exit does for the program: join threads, atexit, flush; then leave."""
  try:
    if "threading" in sys.modules:
      sys.modules["threading"]._shutdown()
    import atexit

    atexit._run_exitfuncs()
  except BaseException:  # noqa: BLE001 -- a program's atexit hook raising must not change the exit
    pass
  for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
    try:
      stream.flush()
    except BaseException:  # noqa: BLE001 -- closed or replaced by the program
      pass
  os._exit(code)


def _program(request, harness):
  """The forked program process: limits and user first, then the harness. Never returns."""
  try:
    os.setpgid(0, 0)
    for name, (soft, hard) in request["limits"].items():
      resource.setrlimit(getattr(resource, name), (soft, hard))
    uid = request["uid"]
    if uid is not None:
      os.setgroups([])
      os.setgid(uid)
      os.setuid(uid)
    os.environ.clear()
    os.environ.update(request["env"])
  except BaseException as e:  # noqa: BLE001 -- reported to the trainer, which raises
    _report({"event": "error", "message": f"sandbox program setup failed: {type(e).__name__}: {e}"})
    os._exit(127)
  os.close(STATUS_FD)
  try:
    harness.main(request["job"])
  except BaseException:  # noqa: BLE001 -- a harness failure is a crash of this run, not of the zygote
    import traceback

    traceback.print_exc()
    _finish_like_an_interpreter(1)
  _finish_like_an_interpreter(0)


def _wait_exit(pid, timeout_s):
  """True when the program exited within the limit; it is not reaped (its pid still names its group)."""
  pidfd = os.pidfd_open(pid)
  try:
    readable, _, _ = select.select([pidfd], [], [], timeout_s)
  finally:
    os.close(pidfd)
  return bool(readable)


def _kill_user(uid):
  """SIGKILL every process of `uid` (kill(-1) from a helper that is that user) and reap the helper."""
  helper = os.fork()
  if helper == 0:
    try:
      os.setuid(uid)
      os.kill(-1, signal.SIGKILL)
    except BaseException:  # noqa: BLE001 -- ESRCH: nothing left to kill
      pass
    os._exit(0)
  os.waitpid(helper, 0)


def _direct_children():
  """Pids of this process's children, orphans re-parented to it included (it is a subreaper)."""
  pid = os.getpid()
  try:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
      return [int(p) for p in f.read().split()]
  except FileNotFoundError:  # kernel without CONFIG_PROC_CHILDREN: the group and user kills remain
    return []


def _cleanup(pid, uid):
  """Kills and reaps every descendant; returns the wait status of the program itself."""
  status = None
  for round_index in range(_KILL_ROUNDS):
    if status is None:  # the program is unreaped, so its pid cannot have been reused for another group
      try:
        os.killpg(pid, signal.SIGKILL)
      except ProcessLookupError:
        pass
    if uid is not None:
      _kill_user(uid)
    for child in _direct_children():
      try:
        os.kill(child, signal.SIGKILL)  # our child: unreaped, so the pid is still that process
      except ProcessLookupError:
        pass
    while True:
      try:
        reaped, wait_status = os.waitpid(-1, os.WNOHANG)
      except ChildProcessError:
        return status
      if reaped == 0:
        break
      if reaped == pid:
        status = wait_status
    time.sleep(0.001 * min(round_index + 1, 20))
  raise RuntimeError(f"sandboxed processes survived {_KILL_ROUNDS} kill rounds")


def _launcher(request, fds, harness):
  """The forked launcher of one run. Never returns."""
  try:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the zygote ignores it; waitpid needs the default
    os.setsid()
    _arrange_fds(fds)
    os.chdir(request["workdir"])
    if request["unshare"]:
      _libc_call("unshare", request["unshare"])
    _libc_call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
      _program(request, harness)
    os.close(RESULT_FD)  # only the program writes results: EOF once it and its children are gone
    _report({"event": "started", "launcher": os.getpid(), "program": pid})
    timed_out = not _wait_exit(pid, request["timeout_s"])
    status = _cleanup(pid, request["uid"])
    if os.WIFSIGNALED(status):
      _report({"event": "exit", "signal": os.WTERMSIG(status), "timed_out": timed_out})
    else:
      _report({"event": "exit", "code": os.waitstatus_to_exitcode(status), "timed_out": timed_out})
    os._exit(0)
  except BaseException as e:  # noqa: BLE001 -- reported to the trainer, which raises
    try:
      _report({"event": "error", "message": f"sandbox launcher failed: {type(e).__name__}: {e}"})
    finally:
      os._exit(1)


def _load_harness(source):
  harness = types.ModuleType("rlvr_code_harness")
  exec(compile(source, "harness.py", "exec"), harness.__dict__)  # noqa: S102 -- our own harness
  return harness


def serve(sock_fd, harness_source):
  """Forks a launcher per request until the trainer closes the socket."""
  harness = _load_harness(harness_source)
  sock = socket.socket(fileno=sock_fd)
  signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # launchers are reaped by the kernel
  while True:
    message, fds, _, _ = socket.recv_fds(sock, 1 << 16, _MAX_FDS)
    if not message:
      return
    if os.fork() == 0:
      _launcher(json.loads(message), fds, harness)
    for fd in fds:
      os.close(fd)


if __name__ == "__main__":
  serve(int(sys.argv[1]), sys.argv[2])
