"""Which isolation this host allows, decided once by trial runs rather than guessed.

Whether seccomp, a private network namespace, unprivileged sandbox users or a memory cgroup work
depends on the kernel, the container runtime and the file permissions of the interpreter, none of
which can be read off reliably. So the probe simply tries: a trial run with each feature, keeping
what worked. Settings "auto" log a warning naming what is missing and why; "require" raises instead
(for production, where running without the isolation is not acceptable). The last trial is a judged
run (the judge and the candidate as two processes, with everything that was kept), which must pass.
Tests skip on the recorded reason, never silently.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import shutil
import signal
import sys

from rlvr_jax.rewards.code import _cgroups as cgroups
from rlvr_jax.rewards.code._sandbox import SAFE_PATH, Isolation, Sandbox, SandboxConfig, SandboxError
from rlvr_jax.rewards.code._syscall_filter import host_arch
from rlvr_jax.rewards.code._uids import release_uids, reserve_uids

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWIPC = 0x08000000
_TRIAL_TIMEOUT_S = 30.0
_STDIO_TRIAL = "import fractions, heapq\nprint('ok')"
_JUDGED_TRIAL = "import fractions, heapq\ndef f(x):\n  return x + 1"
_JUDGED_JOB = {"format": "assert", "setup": "", "judge": {"format": "assert", "setup": "", "entry_point": "f",
                                                          "steps": [["assert f(1) == 2", True]], "num_tests": 1}}

logger = logging.getLogger(__name__)


def python_candidates(config: SandboxConfig) -> list[str]:
  """Interpreters to try, in order: the configured one only, else the trainer's, then the system's.

  The trainer's interpreter may sit under a directory the sandbox user cannot enter (a pyenv or venv
  under /root), where a python3 on the minimal PATH usually can run.
  """
  if config.python:
    return [config.python]
  candidates = [sys.executable]
  system = shutil.which("python3", path=SAFE_PATH)
  if system and os.path.realpath(system) != os.path.realpath(sys.executable):
    candidates.append(system)
  return candidates


def trial_failure(config: SandboxConfig, isolation: Isolation, *, judged: bool = False) -> str:
  """"" when a trivial program runs under `isolation` (as a script, or under the judge), else what
  went wrong.

  The program imports standard modules the zygote has not loaded, which fails where the sandbox user
  cannot read the interpreter's library (a pyenv under /root).
  """
  uids = reserve_uids(config.uid_base, 2) if isolation.drop_privileges else (None, None)
  try:
    with Sandbox(config, isolation) as sandbox:
      if judged:
        result = sandbox.run(_JUDGED_TRIAL, _JUDGED_JOB, timeout_s=_TRIAL_TIMEOUT_S, uid=uids[0], judge_uid=uids[1])
      else:
        result = sandbox.run(_STDIO_TRIAL, {"format": "stdio"}, timeout_s=_TRIAL_TIMEOUT_S, uid=uids[0])
  except SandboxError as e:
    return str(e)
  finally:
    if isolation.drop_privileges:
      release_uids(uids)
  if judged:
    if [(e.event, e.status) for e in result.events if e.event == "test"] == [("test", "passed")]:
      return ""
    what = "; ".join(f"{e.event} {e.status} {e.message}".strip() for e in result.events) or "no judge events"
    return f"a judged trial run failed ({what}, stderr: {result.stderr[-300:].decode(errors='replace')!r})"
  if result.stdout == b"ok\n" and result.exit_code == 0:
    return ""
  ended = (f"signal {signal.Signals(result.term_signal).name}" if result.term_signal
           else f"exit code {result.exit_code}")
  return f"a trial run failed ({ended}, stderr: {result.stderr[-300:].decode(errors='replace')!r})"


def _syscall_filter(config: SandboxConfig, python: str) -> bool:
  if config.syscall_filter == "off":
    logger.warning("code sandbox without syscall filter: sandbox.syscall_filter='off' (programs can "
                   "connect to host Unix sockets, and fork without a memory cgroup)")
    return False
  try:
    host_arch()
  except ValueError as e:
    raise SandboxError(f"sandbox.syscall_filter='require' but {e}") from None
  failure = trial_failure(config, Isolation(python=python, syscall_filter=True))
  if failure:
    raise SandboxError(f"sandbox.syscall_filter='require' but the filter cannot be installed: {failure}")
  return True


def _network(config: SandboxConfig, base: Isolation) -> tuple[int, str]:
  if config.isolate_network == "off":
    return 0, "sandbox.isolate_network='off'"
  # Root may unshare namespaces outright; others need a user namespace around them.
  flags = CLONE_NEWNET | CLONE_NEWIPC if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC
  failure = trial_failure(config, dataclasses.replace(base, unshare_flags=flags))
  return (0, f"no private network namespace: {failure}") if failure else (flags, "")


def _privileges(config: SandboxConfig, candidates: list[str], base: Isolation) -> tuple[str, bool, str]:
  if config.drop_privileges == "off":
    return candidates[0], False, "sandbox.drop_privileges='off'"
  if os.geteuid() != 0:
    return candidates[0], False, (f"the trainer is not root (uid {os.geteuid()}), so programs run as its "
                                  "user; run the trainer as root or inside a container (docs/security.md)")
  failures = []
  for python in candidates:
    failure = trial_failure(config, dataclasses.replace(base, python=python, drop_privileges=True))
    if not failure:
      return python, True, ""
    failures.append(f"{python}: {failure}")
  return candidates[0], False, ("no interpreter runs as the sandbox user (" + "; ".join(failures) +
                                "); set sandbox.python to one that every user may read and run")


def _cgroup(config: SandboxConfig, base: Isolation) -> tuple[cgroups.CgroupParent | None, str]:
  if config.memory_cgroup == "off":
    return None, "sandbox.memory_cgroup='off'"
  parent, reason = cgroups.find_parent(config.cgroup_parent)
  if parent is None:
    return None, reason
  failure = trial_failure(config, dataclasses.replace(base, cgroup=parent), judged=True)
  return (None, f"a run in a memory cgroup under {parent.path} failed: {failure}") if failure else (parent, "")


@functools.lru_cache(maxsize=None)
def probe_isolation(config: SandboxConfig) -> Isolation:
  """The isolation runs get under `config` on this host (cached: the host does not change)."""
  candidates = python_candidates(config)
  base = Isolation(python=candidates[0], syscall_filter=_syscall_filter(config, candidates[0]),
                   allow_inet=config.isolate_network == "off")
  flags, network_reason = _network(config, base)
  python, dropped, privileges_reason = _privileges(config, candidates, dataclasses.replace(base, unshare_flags=flags))
  base = dataclasses.replace(base, python=python, unshare_flags=flags, drop_privileges=dropped,
                             network_reason=network_reason, privileges_reason=privileges_reason)
  parent, cgroup_reason = _cgroup(config, base)
  isolation = dataclasses.replace(base, cgroup=parent, cgroup_reason=cgroup_reason)
  for name, present, reason in (("isolate_network", flags != 0, network_reason),
                                ("drop_privileges", dropped, privileges_reason),
                                ("memory_cgroup", parent is not None, cgroup_reason)):
    if present:
      continue
    if getattr(config, name) == "require":
      raise SandboxError(f"sandbox.{name}='require' but {reason}")
    if getattr(config, name) == "auto":
      extra = " (runs get one process each, so their memory stays within memory_bytes)" * (name == "memory_cgroup")
      logger.warning("code sandbox without %s: %s%s", name.replace("_", " "), reason, extra)
  if parent is None:
    failure = trial_failure(config, isolation, judged=True)
    if failure:
      raise SandboxError(f"the code sandbox does not work on this host: {failure}")
  return isolation
