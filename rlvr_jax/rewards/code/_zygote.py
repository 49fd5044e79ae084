"""The sandbox zygote: a small, single-threaded server that forks one sandboxed run per request.

Starting interpreters per run costs ~50-150 ms each, which would dominate grading when a batch holds
thousands of runs. So one zygote per pool starts once, under the sandbox interpreter, and every run is
a fork of it: fresh processes with nothing of any other run, a few milliseconds all told. Forking is
safe here and not in the trainer, because the zygote never starts a thread; the trainer only talks
to it over a socket.

Per request (JSON + fds: stdin, stdout, stderr, results, status, the program and, for judged runs,
the judge's job) the zygote forks a launcher:
  launcher   new session; non-dumpable; cwd = the run's directory; private network and IPC
             namespaces (unshare) and child-subreaper status; forks the processes below, reports
             their pids, then releases them (they wait on a pipe, so no program code runs before the
             report is out); enforces the wall-clock limit and kills everything the run started.
             The zygote joins its sandbox's memory cgroup at start (_cgroups.py), so every run
             process is born in it (a per-run cgroup would cost a migration, ~10 ms, per run); the zygote and
             launchers are exempt from the OOM killer and the candidate is its first choice.
  candidate  own process group, rlimits, the candidate uid (when root; else no capabilities), the run's environment,
             the syscall filter; fds 0-2 = stdio, 5 = the program (read, then closed), then: stdio
             runs run the program as a script (fd 3 = a note on how it ended); judged runs (assert /
             call) load it and serve the judge (fd 3 = its requests, fd 4 = replies).  _candidate.py
  judge      judged runs only: own group, rlimits, the judge uid (another user than the candidate),
             non-dumpable, the syscall filter without fork; fd 0 = its job, 1-2 = stderr, 3 = the
             result pipe (only the judge holds it), 4 = requests, 5 = replies.  _judge.py
On exit or timeout the launcher kills both groups and every orphan re-parented to it (and, from the
third round on, every process of the sandbox uids), reaps them within a bounded number of rounds,
and reports on the status fd:
  {"event": "started", "launcher", "candidate", "judge"} | {"event": "error", "message"} |
  {"event": "exit", "candidate": {"code" | "signal"} | null, "judge": ..., "timed_out",
   "oom_kills" (in the sandbox's cgroup during the run), "survivors"}
Setup failures before any program code runs are "error" events (the trainer raises SandboxError);
nothing a program does can produce one.

This file runs under the sandbox interpreter (Python >= 3.9, stdlib only), never imports rlvr_jax,
and receives the wire / candidate / judge sources as arguments.
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

PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 4, 38, 22, 2
PR_CAPBSET_DROP, LINUX_CAPABILITY_VERSION_3 = 24, 0x20080522
PR_SET_CHILD_SUBREAPER = 36
# The launcher's fds, as the zygote arranges them.
STDIN, STDOUT, STDERR, RESULTS, STATUS, PROGRAM, JUDGE_JOB = 0, 1, 2, 3, 4, 5, 6
GO_FD = 9  # where run processes wait for the launcher's go
_MAX_FDS = 8
_KILL_ROUNDS = 200
_LIBC = ctypes.CDLL(None, use_errno=True)


class _SockFprog(ctypes.Structure):
  _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _report(record):
  data = (json.dumps(record) + "\n").encode()
  while data:
    data = data[os.write(STATUS, data):]


def _libc_call(name, *args):
  if getattr(_LIBC, name)(*args) != 0:
    errno = ctypes.get_errno()
    raise OSError(errno, f"{name}: {os.strerror(errno)}")


def install_filter(program_hex):
  """Installs a seccomp BPF program (built by _syscall_filter.py in the trainer) on this process."""
  program = ctypes.create_string_buffer(bytes.fromhex(program_hex))
  fprog = _SockFprog(len(program.raw) // 8, ctypes.addressof(program))
  _libc_call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
  _libc_call("prctl", PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0)


def _place(fds):
  """fds[target] = source for each target; every other fd closed."""
  high = {target: fcntl.fcntl(source, fcntl.F_DUPFD, 16) for target, source in fds.items()}
  for target, fd in high.items():
    os.dup2(fd, target)
  start = 0
  for fd in sorted(fds) + [max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 64)]:
    if fd > start:  # os.closerange(a, a) may close everything (close_range(a, a - 1) with unsigned ints)
      os.closerange(start, fd)
    start = fd + 1


def _wait_go():
  while os.read(GO_FD, 1):
    pass
  os.close(GO_FD)


def _finish(code):
  for stream in (sys.stdout, sys.stderr):
    try:
      stream.flush()
    except BaseException:  # noqa: BLE001
      pass
  os._exit(code)


def _drop_capabilities():
  """No capabilities, now or after an exec (bounding set emptied): for a root zygote whose runs keep
  its uid (drop_privileges off), so they cannot use root's power over other processes (reading the
  judge's pipes through /proc needs CAP_SYS_PTRACE)."""
  for cap in range(64):
    _LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the kernel's last capability
  header = (ctypes.c_uint32 * 2)(LINUX_CAPABILITY_VERSION_3, 0)
  _libc_call("capset", header, (ctypes.c_uint32 * 6)())


def _become(limits, uid, env, cwd=None):
  """The run process's identity: own group, rlimits, no supplementary groups, its uid (or, keeping the
  trainer's, no capabilities), its env."""
  os.setpgid(0, 0)
  if cwd is not None:
    os.chdir(cwd)
  for name, (soft, hard) in limits.items():
    resource.setrlimit(getattr(resource, name), (soft, hard))
  if uid is not None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
  elif os.geteuid() == 0:
    _drop_capabilities()
  os.environ.clear()
  os.environ.update(env)


def _oom_score(value):
  """This process's OOM-killer preference (-1000: never, 1000: first); best effort without root."""
  try:
    with open("/proc/self/oom_score_adj", "w") as f:
      f.write(str(value))
  except OSError:
    pass


def _candidate(request, fds, modules):
  """The forked candidate process. Never returns."""
  try:
    _oom_score(1000)
    _become(request["limits"], request["uid"], request["env"])
    if request["filter"]:
      install_filter(request["filter"])
    _place(fds)
  except BaseException as e:  # noqa: BLE001 -- reported to the trainer, which raises
    _report({"event": "error", "message": f"sandbox candidate setup failed: {type(e).__name__}: {e}"})
    os._exit(127)
  _wait_go()
  if request["mode"] == "stdio":
    modules["candidate"].run_script()
  modules["candidate"].serve(request["max_message_bytes"])


def _judge(request, fds, modules):
  """The forked judge process. Never returns."""
  try:
    _oom_score(0)
    _become(request["judge_limits"], request["judge_uid"], request["judge_env"], cwd="/")
    _libc_call("prctl", PR_SET_DUMPABLE, 0, 0, 0, 0)
    if request["judge_filter"]:
      install_filter(request["judge_filter"])
    _place(fds)
  except BaseException as e:  # noqa: BLE001
    _report({"event": "error", "message": f"sandbox judge setup failed: {type(e).__name__}: {e}"})
    os._exit(127)
  _wait_go()
  modules["judge"].main()
  _finish(0)


def _wait_exit(pid, timeout_s):
  """True when `pid` exited within the limit; it is not reaped (its pid still names its group)."""
  pidfd = os.pidfd_open(pid)
  try:
    readable, _, _ = select.select([pidfd], [], [], max(timeout_s, 0))
  finally:
    os.close(pidfd)
  return bool(readable)


def _ended_status(pid):
  """The wait status of `pid` if it already ended on its own (not reaped), else None."""
  try:
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
  except ChildProcessError:
    return None
  if info is None:
    return None
  if info.si_code == os.CLD_EXITED:
    return {"code": info.si_status}
  return {"signal": info.si_status}


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


def _oom_kills(cgroup):
  """OOM kills so far in the sandbox's cgroup (memory.events on v2, memory.oom_control on v1)."""
  if cgroup is None:
    return 0
  name = "memory.events" if cgroup["version"] == 2 else "memory.oom_control"
  try:
    with open(os.path.join(cgroup["path"], name)) as f:
      for line in f:
        key, _, value = line.partition(" ")
        if key == "oom_kill":
          return int(value)
  except (OSError, ValueError):
    pass
  return 0


def _direct_children():
  """Pids of this process's children, orphans re-parented to it included (it is a subreaper)."""
  pid = os.getpid()
  try:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
      return [int(p) for p in f.read().split()]
  except (OSError, ValueError):  # kernel without CONFIG_PROC_CHILDREN: the other kills remain
    return []


def _reap(groups, statuses):
  """Reaps every child that has ended (keeping the wait status of group leaders); False once no
  child is left at all."""
  while True:
    try:
      reaped, wait_status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
      return False
    if reaped == 0:
      return True
    if reaped in groups:
      statuses[reaped] = wait_status


def _cleanup(groups, uids):
  """Kills and reaps every descendant within _KILL_ROUNDS rounds; (wait status per group leader,
  number of processes still alive if the rounds ran out).

  Every process of the run descends from this launcher, a subreaper, so killing the two groups and
  then the direct children (orphans included) round after round gets them all; killing by uid (a
  helper process per uid) is a second line, from the third round on."""
  statuses = {}
  for round_index in range(_KILL_ROUNDS):
    for pgid in groups:
      if pgid not in statuses:  # unreaped, so the pid cannot have been reused for another group
        try:
          os.killpg(pgid, signal.SIGKILL)
        except OSError:
          pass
    for uid in uids if round_index >= 2 else ():
      if uid is not None:
        _kill_user(uid)
    for child in _direct_children():
      try:
        os.kill(child, signal.SIGKILL)  # our child: unreaped, so the pid is still that process
      except OSError:
        pass
    for _ in range(20):  # killed processes take a moment to die: poll briefly before the next round
      if not _reap(groups, statuses):
        return statuses, 0
      time.sleep(0.00025 * min(round_index + 1, 20))
  return statuses, len(_direct_children())


def _launcher(request, fds, modules):
  """The forked launcher of one run. Never returns."""
  try:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the zygote ignores it; waitpid needs the default
    os.setsid()
    _libc_call("prctl", PR_SET_DUMPABLE, 0, 0, 0, 0)
    _place(dict(enumerate(fds)))
    os.chdir(request["workdir"])
    if request["unshare"]:
      _libc_call("unshare", request["unshare"])
    _libc_call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    judged = request["mode"] != "stdio"
    go_read, go_write = os.pipe()
    if judged:
      calls_read, calls_write = os.pipe()
      replies_read, replies_write = os.pipe()
      candidate_fds = {0: STDIN, 1: STDOUT, 2: STDERR, 3: calls_read, 4: replies_write, 5: PROGRAM,
                       GO_FD: go_read}
      judge_fds = {0: JUDGE_JOB, 1: STDERR, 2: STDERR, 3: RESULTS, 4: calls_write, 5: replies_read,
                   GO_FD: go_read}
    else:
      candidate_fds = {0: STDIN, 1: STDOUT, 2: STDERR, 3: RESULTS, 5: PROGRAM, GO_FD: go_read}
    candidate = os.fork()
    if candidate == 0:
      _candidate(request, candidate_fds, modules)
    judge = None
    if judged:
      judge = os.fork()
      if judge == 0:
        _judge(request, judge_fds, modules)
    for pid in (candidate, judge):
      if pid is not None:
        try:
          os.setpgid(pid, pid)
        except OSError:  # the child did it first
          pass
    for fd in [RESULTS, PROGRAM, go_read] + ([JUDGE_JOB, calls_read, calls_write, replies_read, replies_write]
                                    if judged else []):
      os.close(fd)  # only the run's processes hold them: EOF once those are gone
    oom_before = _oom_kills(request["cgroup"])
    _report({"event": "started", "launcher": os.getpid(), "candidate": candidate, "judge": judge})
    os.close(go_write)
  except BaseException as e:  # noqa: BLE001 -- reported to the trainer, which raises
    try:
      _report({"event": "error", "message": f"sandbox launcher failed: {type(e).__name__}: {e}"})
    finally:
      os._exit(1)
  try:
    timed_out = not _wait_exit(judge if judged else candidate, request["timeout_s"])
    candidate_status = _ended_status(candidate)
    statuses, survivors = _cleanup([pid for pid in (candidate, judge) if pid is not None],
                                   (request["uid"], request["judge_uid"]))
    judge_status = _describe_status(statuses.get(judge)) if judged else None
    if candidate_status is None and not judged:
      candidate_status = _describe_status(statuses.get(candidate))
    _report({"event": "exit", "candidate": candidate_status, "judge": judge_status, "timed_out": timed_out,
             "oom_kills": _oom_kills(request["cgroup"]) - oom_before, "survivors": survivors})
  finally:
    os._exit(0)


def _describe_status(status):
  if status is None:
    return None
  if os.WIFSIGNALED(status):
    return {"signal": os.WTERMSIG(status)}
  return {"code": os.waitstatus_to_exitcode(status)}


def _load(name, source, extra):
  module = types.ModuleType(f"rlvr_sandbox_{name}")
  module.__dict__.update(extra)
  exec(compile(source, f"{name}.py", "exec"), module.__dict__)  # noqa: S102 -- our own sources
  return module


def load_modules(sources):
  wire = _load("wire", sources["wire"], {})
  return {"wire": wire, "candidate": _load("candidate", sources["candidate"], {"wire": wire}),
          "judge": _load("judge", sources["judge"], {"wire": wire})}


def serve(sock_fd, sources, cgroup_path):
  """Joins the sandbox's memory cgroup (if any), says "ready", then forks a launcher per request until
  the trainer closes the socket."""
  sock = socket.socket(fileno=sock_fd)
  try:
    _libc_call("prctl", PR_SET_DUMPABLE, 0, 0, 0, 0)  # programs of the trainer's user cannot trace it
    _oom_score(-1000)
    if cgroup_path:  # joined from in here, so a wrapper (bubblewrap) cannot leave the zygote outside
      with open(os.path.join(cgroup_path, "cgroup.procs"), "w") as f:
        f.write("0")
    modules = load_modules(sources)
  except BaseException as e:  # noqa: BLE001 -- reported to the trainer, which raises
    sock.send(f"error: {type(e).__name__}: {e}".encode()[:4000])
    return
  sock.send(b"ready")
  signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # launchers are reaped by the kernel
  while True:
    message, fds, _, _ = socket.recv_fds(sock, 1 << 16, _MAX_FDS)
    if not message:
      return
    if os.fork() == 0:
      _launcher(json.loads(message), fds, modules)
    for fd in fds:
      os.close(fd)


if __name__ == "__main__":
  serve(int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3])
