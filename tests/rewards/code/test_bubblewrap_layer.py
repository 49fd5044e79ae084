"""The stricter-layer recipe of docs/security.md: the sandbox interpreter wrapped in bubblewrap keeps
the uid drop, the network namespace and the syscall filter, and adds a read-only system, a private
/tmp and PID namespace."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from rlvr_jax.rewards.code import Sandbox, SandboxConfig, probe_isolation
from rlvr_jax.rewards.code._sandbox import SAFE_PATH
from rlvr_jax.rewards.code._uids import release_uids, reserve_uids

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
WRAPPER = """#!/bin/sh
exec bwrap --ro-bind /usr /usr --symlink usr/lib /lib --symlink usr/lib64 /lib64 \\
  --symlink usr/bin /bin --proc /proc --dev /dev --tmpfs /tmp \\
  --bind {root} {root} \\
  --unshare-ipc --unshare-pid --unshare-net --unshare-uts --unshare-cgroup \\
  --die-with-parent --cap-add ALL {python} "$@"
"""
PROBE = """import json, os
try:
  open('/tmp/escape.txt', 'w')
  tmp = 'written'
except OSError as e:
  tmp = type(e).__name__
print(json.dumps({"uid": os.getuid(), "tmp": tmp, "root": sorted(os.listdir('/')),
                  "pids": len([p for p in os.listdir('/proc') if p.isdigit()]),
                  "repo": os.path.exists(%r)}))
"""


def _skip_reason() -> str:
  if os.geteuid() != 0:
    return "the recipe is for a root trainer (the uid drop needs root inside the wrapper)"
  if shutil.which("bwrap") is None:
    return "bubblewrap (bwrap) is not installed"
  if shutil.which("python3", path=SAFE_PATH) is None:
    return f"no system python3 on {SAFE_PATH} to wrap"
  if not (os.path.islink("/lib") and os.path.islink("/bin")):
    return "the recipe assumes a merged-/usr system (/lib and /bin are links into /usr)"
  return ""


@pytest.mark.skipif(bool(_skip_reason()), reason=_skip_reason() or "runs")
def test_bubblewrap_wrapper(tmp_path):
  root = tmp_path / "runs"
  root.mkdir(mode=0o711)
  wrapper = tmp_path / "sandbox-python"
  wrapper.write_text(WRAPPER.format(root=root, python=shutil.which("python3", path=SAFE_PATH)))
  wrapper.chmod(0o755)
  config = SandboxConfig(python=str(wrapper), temp_root=str(root), drop_privileges="require",
                         isolate_network="require")
  isolation = probe_isolation(config)
  # The filter works inside; no cgroup file system is mounted there, so the zygote cannot join one and
  # runs get the one-process budget (docs/security.md), after a judged trial run that passed.
  assert isolation.syscall_filter and isolation.cgroup is None and "failed" in isolation.cgroup_reason
  uids = reserve_uids(config.uid_base, 1)
  try:
    with Sandbox(config, isolation) as sandbox:
      result = sandbox.run(PROBE % REPO, {"format": "stdio"}, timeout_s=10.0, uid=uids[0])
  finally:
    release_uids(uids)
  seen = json.loads(result.stdout)
  assert seen["uid"] == uids[0] and seen["tmp"] == "PermissionError"
  assert seen["root"] == ["bin", "dev", "lib", "lib64", "proc", "tmp", "usr"]
  assert seen["pids"] < 10 and not seen["repo"]
  assert os.listdir(root) == []  # the run's directory is gone
