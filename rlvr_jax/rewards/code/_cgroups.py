"""A memory cgroup per sandbox slot, so all processes of a run share one memory cap (cgroup v2
memory.max, or the v1 memory controller where that is what the host mounts).

RLIMIT_AS caps each process; four forked children of 700 MB are four processes under a 1 GiB limit.
A memory cgroup caps them together. Moving a process into a cgroup costs an RCU grace period (~10 ms
on a busy host), too much per run, so the cgroup belongs to a sandbox (one per pool slot, running one
run at a time) and its zygote is moved in once, at start: every launcher, program and judge process
is then born inside, and the kernel OOM-kills there when a run's total would pass the limit (the
candidate first: the zygote and launchers are exempt, see _zygote.py). The zygote joins from inside
(so a wrapper around the interpreter cannot leave it outside unnoticed: where it cannot join, the
probe finds no usable cgroup).

Where the cgroups go: `SandboxConfig.cgroup_parent` if set (a delegated subtree, e.g. one a systemd
unit with Delegate=yes or a container runtime prepared), else found from this process's own cgroup:
on v2 the nearest ancestor that has the memory controller enabled for its children and that this
user may write (a cgroup with processes in it cannot enable controllers for children, so the
trainer's own cgroup usually cannot serve); on v1 the trainer's own memory cgroup. Each sandbox makes
`rlvr-sandbox-<pid>-<n>/slot` there, removed when it closes; directories of dead trainers are
removed when a new one starts.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import os
import time

MOUNTINFO, SELF_CGROUP = "/proc/self/mountinfo", "/proc/self/cgroup"
POOL_PREFIX = "rlvr-sandbox-"
_pool_counter = itertools.count()


@dataclasses.dataclass(frozen=True)
class CgroupParent:
  """Where runs' memory cgroups are made: the hierarchy version (1 or 2) and a directory."""

  version: int
  path: str


def _mounts() -> list[tuple[str, str, str, str]]:
  """(fstype, mount point, root within the hierarchy, super options) of cgroup mounts."""
  mounts = []
  try:
    with open(MOUNTINFO) as f:
      for line in f:
        fields = line.split()
        if "-" not in fields:
          continue
        sep = fields.index("-")
        if sep + 3 < len(fields) and fields[sep + 1] in ("cgroup", "cgroup2"):
          mounts.append((fields[sep + 1], fields[4], fields[3], fields[sep + 3]))
  except OSError:
    pass
  return mounts


def _own_paths() -> dict[str, str]:
  """This process's cgroup path per hierarchy: "" for v2, the controller list for v1."""
  paths = {}
  try:
    with open(SELF_CGROUP) as f:
      for line in f:
        parts = line.rstrip("\n").split(":", 2)
        if len(parts) == 3:
          paths[parts[1]] = parts[2]
  except OSError:
    pass
  return paths


def _under(mount_point: str, mount_root: str, path: str) -> str | None:
  """The directory of hierarchy path `path` under a mount of the hierarchy's `mount_root`."""
  root = mount_root.rstrip("/")
  if root and not (path == root or path.startswith(root + "/")):
    return None
  return os.path.join(mount_point, path[len(root):].lstrip("/"))


def _read(path: str) -> str:
  try:
    with open(path) as f:
      return f.read()
  except OSError:
    return ""


def _v2_parent() -> tuple[CgroupParent | None, str]:
  own = _own_paths().get("")
  mount = next((m for m in _mounts() if m[0] == "cgroup2"), None)
  if own is None or mount is None:
    return None, "no cgroup v2 hierarchy"
  directory = _under(mount[1], mount[2], own)
  if directory is None:
    return None, f"this process's cgroup {own!r} is outside the mounted v2 hierarchy"
  while True:
    if "memory" in _read(os.path.join(directory, "cgroup.subtree_control")).split() and os.access(directory, os.W_OK):
      return CgroupParent(2, directory), ""
    if os.path.normpath(directory) == os.path.normpath(mount[1]):
      return None, (f"no cgroup v2 directory from {own!r} up that enables the memory controller for its "
                    "children and is writable (set sandbox.cgroup_parent to a delegated one)")
    directory = os.path.dirname(directory)


def _v1_parent() -> tuple[CgroupParent | None, str]:
  paths = _own_paths()
  own = next((path for controllers, path in paths.items() if "memory" in controllers.split(",")), None)
  mount = next((m for m in _mounts() if m[0] == "cgroup" and "memory" in m[3].split(",")), None)
  if own is None or mount is None:
    return None, "no cgroup v1 memory hierarchy"
  directory = _under(mount[1], mount[2], own)
  if directory is None or not os.access(directory, os.W_OK):
    return None, f"the v1 memory cgroup {own!r} is not writable here"
  return CgroupParent(1, directory), ""


def find_parent(configured: str | None) -> tuple[CgroupParent | None, str]:
  """Where this host lets runs have memory cgroups, and otherwise why not."""
  if configured:
    if os.path.exists(os.path.join(configured, "cgroup.controllers")):
      return CgroupParent(2, configured), ""
    if os.path.exists(os.path.join(configured, "memory.limit_in_bytes")):
      return CgroupParent(1, configured), ""
    return None, f"sandbox.cgroup_parent={configured!r} is not a cgroup v2 or v1 memory cgroup directory"
  parent, v2_reason = _v2_parent()
  if parent is not None:
    return parent, ""
  parent, v1_reason = _v1_parent()
  return (parent, "") if parent is not None else (None, f"{v2_reason}; {v1_reason}")


def _write(path: str, value: str) -> None:
  with open(path, "w") as f:
    f.write(value)


def _remove_dir(path: str, attempts: int = 50) -> bool:
  """rmdir, retried briefly while the kernel finishes the exit of the run's last processes."""
  for attempt in range(attempts):
    try:
      os.rmdir(path)
      return True
    except FileNotFoundError:
      return True
    except OSError as e:
      if e.errno != errno.EBUSY:
        return False
      time.sleep(0.001 * (attempt + 1))
  return False


def _pid_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def remove_stale_pools(parent: CgroupParent) -> None:
  """Removes the (empty) pool directories of trainers that are no longer running."""
  try:
    names = os.listdir(parent.path)
  except OSError:
    return
  for name in names:
    pid = name[len(POOL_PREFIX):].split("-")[0]
    if not (name.startswith(POOL_PREFIX) and pid.isdigit()) or _pid_alive(int(pid)):
      continue
    pool = os.path.join(parent.path, name)
    try:
      children = [os.path.join(pool, c) for c in os.listdir(pool) if os.path.isdir(os.path.join(pool, c))]
    except OSError:
      continue
    for child in children:
      _remove_dir(child, attempts=1)
    _remove_dir(pool, attempts=1)


class SlotCgroup:
  """The memory cgroup of one sandbox (its zygote joins it by writing to `cgroup.procs` at start);
  `close()` removes it once the zygote has exited."""

  def __init__(self, parent: CgroupParent, memory_bytes: int):
    remove_stale_pools(parent)
    self.version = parent.version
    self.pool = os.path.join(parent.path, f"{POOL_PREFIX}{os.getpid()}-{next(_pool_counter)}")
    self.path = os.path.join(self.pool, "slot")
    os.mkdir(self.pool)
    try:
      if self.version == 2:  # controllers reach a child only when its parent enables them for children
        _write(os.path.join(self.pool, "cgroup.subtree_control"), "+memory")
      os.mkdir(self.path)
      if self.version == 2:
        _write(os.path.join(self.path, "memory.max"), str(memory_bytes))
        for name, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
          if os.path.exists(os.path.join(self.path, name)):
            _write(os.path.join(self.path, name), value)
      else:
        _write(os.path.join(self.path, "memory.limit_in_bytes"), str(memory_bytes))
        if os.path.exists(os.path.join(self.path, "memory.memsw.limit_in_bytes")):
          _write(os.path.join(self.path, "memory.memsw.limit_in_bytes"), str(memory_bytes))
    except OSError:
      self.close()
      raise

  @property
  def request(self) -> dict:
    """How the launcher finds the cgroup (to count its OOM kills)."""
    return {"version": self.version, "path": self.path}

  def close(self) -> bool:
    """Removes the cgroup and its pool directory; False if processes are still in it."""
    return _remove_dir(self.path) and _remove_dir(self.pool)
