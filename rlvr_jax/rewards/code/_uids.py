"""Host-wide reservation of sandbox uids.

A run's cleanup kills every process of its uid, so two runs must never share one at the same time:
not across pools of one trainer (a training and an evaluation reward), nor across processes on one
host (two trainers, pytest-xdist workers). A uid is reserved by holding an exclusive `flock` on its
lock file in a root-private directory; the kernel drops the lock when its holder exits, however it
exits, so a crashed trainer never leaves uids reserved.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading

_SEARCH = 100_000  # uids tried above the base before giving up
_lock = threading.Lock()
_held: dict[int, int] = {}  # uid -> fd holding its lock


def lock_dir() -> str:
  """<temp dir>/rlvr-sandbox-uids, private to this user (a program must not take or fake locks)."""
  path = os.path.join(tempfile.gettempdir(), "rlvr-sandbox-uids")
  os.makedirs(path, mode=0o700, exist_ok=True)
  info = os.lstat(path)
  if info.st_uid != os.geteuid() or info.st_mode & 0o077 or os.path.islink(path):
    raise PermissionError(f"sandbox uid lock directory {path!r} must be a directory owned by uid "
                          f"{os.geteuid()} with mode 0700 (found uid {info.st_uid}, "
                          f"mode {oct(info.st_mode)})")
  return path


def _try_lock(directory: str, uid: int) -> int | None:
  fd = os.open(os.path.join(directory, f"{uid}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    os.close(fd)
    return None
  return fd


def reserve_uids(base: int, count: int) -> tuple[int, ...]:
  """`count` uids >= `base` that no other pool on this host holds; `release_uids` them when done."""
  if count < 1:
    raise ValueError(f"count={count} must be >= 1")
  directory = lock_dir()
  uids: list[int] = []
  with _lock:
    for uid in range(base, base + _SEARCH):
      fd = None if uid in _held else _try_lock(directory, uid)
      if fd is not None:
        _held[uid] = fd
        uids.append(uid)
        if len(uids) == count:
          return tuple(uids)
  release_uids(tuple(uids))
  raise RuntimeError(f"no {count} free sandbox uids in [{base}, {base + _SEARCH}); see {directory}")


def release_uids(uids: tuple[int, ...]) -> None:
  with _lock:
    for uid in uids:
      os.close(_held.pop(uid))  # closing the fd drops the lock
