"""Which isolation this host allows, decided once by trial runs rather than guessed.

Whether a private network namespace or an unprivileged sandbox user works depends on the kernel,
the container runtime and the file permissions of the interpreter, none of which can be read off
reliably. So the probe simply tries: a trial run with each feature, keeping what worked. Settings
"auto" log a warning naming what is missing and why; "require" raises instead (for production, where
running without the isolation is not acceptable). Tests skip on the recorded reason, never silently.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import sys

from rlvr_jax.rewards.code.sandbox import SAFE_PATH, Isolation, Sandbox, SandboxConfig, SandboxError
from rlvr_jax.rewards.code.uids import release_uids, reserve_uids

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
_TRIAL_TIMEOUT_S = 30.0

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


def trial_failure(config: SandboxConfig, isolation: Isolation) -> str:
  """"" when a trivial program runs under `isolation`, else what went wrong.

  The program imports standard modules the zygote has not loaded, which fails where the sandbox user
  cannot read the interpreter's library (a pyenv under /root).
  """
  uids = reserve_uids(config.uid_base, 1) if isolation.drop_privileges else (None,)
  try:
    with Sandbox(config, isolation) as sandbox:
      result = sandbox.run("import fractions, heapq\nprint('ok')", {"format": "stdio"},
                           timeout_s=_TRIAL_TIMEOUT_S, uid=uids[0])
  except SandboxError as e:
    return str(e)
  finally:
    if isolation.drop_privileges:
      release_uids(uids)
  if result.stdout == b"ok\n" and any(r.get("event") == "finished" for r in result.records):
    return ""
  ended = (f"signal {signal.Signals(result.term_signal).name}" if result.term_signal
           else f"exit code {result.exit_code}")
  return f"a trial run failed ({ended}, stderr: {result.stderr[-300:].decode(errors='replace')!r})"


def _network(config: SandboxConfig, python: str) -> tuple[int, str]:
  if config.isolate_network == "off":
    return 0, "sandbox.isolate_network='off'"
  # Root may unshare a network namespace outright; others need a user namespace around it.
  flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
  failure = trial_failure(config, Isolation(python=python, unshare_flags=flags))
  return (0, f"no private network namespace: {failure}") if failure else (flags, "")


def _privileges(config: SandboxConfig, candidates: list[str], flags: int) -> tuple[str, bool, str]:
  if config.drop_privileges == "off":
    return candidates[0], False, "sandbox.drop_privileges='off'"
  if os.geteuid() != 0:
    return candidates[0], False, (f"the trainer is not root (uid {os.geteuid()}), so programs run as its "
                                  "user; run the trainer as root or inside a container (docs/security.md)")
  failures = []
  for python in candidates:
    isolation = Isolation(python=python, unshare_flags=flags, drop_privileges=True)
    failure = trial_failure(config, isolation)
    if not failure:
      return python, True, ""
    failures.append(f"{python}: {failure}")
  return candidates[0], False, ("no interpreter runs as the sandbox user (" + "; ".join(failures) +
                                "); set sandbox.python to one that every user may read and run")


@functools.lru_cache(maxsize=None)
def probe_isolation(config: SandboxConfig) -> Isolation:
  """The isolation runs get under `config` on this host (cached: the host does not change)."""
  candidates = python_candidates(config)
  flags, network_reason = _network(config, candidates[0])
  python, dropped, privileges_reason = _privileges(config, candidates, flags)
  for name, present, reason in (("isolate_network", flags != 0, network_reason),
                                ("drop_privileges", dropped, privileges_reason)):
    if present:
      continue
    if getattr(config, name) == "require":
      raise SandboxError(f"sandbox.{name}='require' but {reason}")
    if getattr(config, name) == "auto":
      logger.warning("code sandbox without %s: %s", name.replace("_", " "), reason)
  return Isolation(python=python, unshare_flags=flags, drop_privileges=dropped,
                   network_reason=network_reason, privileges_reason=privileges_reason)
