"""Removing a run's working directory, whatever the program left in it, without recursion or raising.

`shutil.rmtree` recurses once per directory level and walks by path, so a program that makes a
directory 2,500 levels deep takes it past Python's recursion limit and past PATH_MAX. Here the tree
is flattened instead: the top directory is held open, plain entries are unlinked relative to it, and
the entries of a non-empty subdirectory are renamed up into the top before the subdirectory is
removed. Every step works on directory fds (no path grows), uses two fds at most, and the whole
removal stops after `max_steps` operations or `max_seconds`; what could not be removed is reported
to the caller (which logs it), never raised.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import secrets
import stat
import time

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclasses.dataclass(frozen=True)
class Removal:
  """complete: the directory is gone; steps: operations used; problem: why not, if it is not."""

  complete: bool
  steps: int
  problem: str = ""


def _writable(name: str, dir_fd: int) -> None:
  """Gives a directory back its owner's rights (a program may have made it unreadable)."""
  try:
    info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISDIR(info.st_mode):
      os.chmod(name, stat.S_IRWXU, dir_fd=dir_fd)
  except OSError:
    pass


def _open_dir(name: str, dir_fd: int) -> int:
  try:
    return os.open(name, _DIRECTORY, dir_fd=dir_fd)
  except PermissionError:
    _writable(name, dir_fd)
    return os.open(name, _DIRECTORY, dir_fd=dir_fd)


def _hoist(top: int, name: str, fresh_names) -> int:
  """Moves the entries of directory `name` up into `top`; the number moved."""
  sub = _open_dir(name, top)
  moved = 0
  try:
    os.fchmod(sub, stat.S_IRWXU)
    for child in os.listdir(sub):
      os.rename(child, next(fresh_names), src_dir_fd=sub, dst_dir_fd=top)
      moved += 1
  finally:
    os.close(sub)
  return moved


def _remove_entry(top: int, entry: os.DirEntry, fresh_names) -> int:
  """Removes one entry of `top` (a directory after moving its entries up); the operations it took."""
  try:
    is_dir = entry.is_dir(follow_symlinks=False)
  except OSError:
    is_dir = False
  if not is_dir:
    try:
      os.unlink(entry.name, dir_fd=top)
    except FileNotFoundError:
      pass
    return 1
  steps = 1 + _hoist(top, entry.name, fresh_names)
  os.rmdir(entry.name, dir_fd=top)
  return steps


def remove_tree(path: str, *, max_steps: int = 2_000_000, max_seconds: float = 30.0) -> Removal:
  """Removes directory `path` and everything in it (never following a link); never raises."""
  deadline = time.monotonic() + max_seconds
  steps = 0
  prefix = f".rlvr-cleanup-{secrets.token_hex(8)}-"  # names the program cannot have taken in advance
  fresh_names = (f"{prefix}{i}" for i in itertools.count())
  try:
    os.chmod(path, stat.S_IRWXU)
    top = os.open(path, _DIRECTORY)
  except FileNotFoundError:
    return Removal(True, 0)
  except OSError as e:
    return Removal(False, 0, f"cannot open {path}: {e}")
  try:
    while True:
      with os.scandir(top) as listing:
        entries = list(listing)
      if not entries:
        break
      for entry in entries:
        steps += _remove_entry(top, entry, fresh_names)
        if steps >= max_steps or time.monotonic() > deadline:
          return Removal(False, steps, f"{path}: stopped after {steps} operations")
  except OSError as e:
    return Removal(False, steps, f"{path}: {e}")
  finally:
    os.close(top)
  try:
    os.rmdir(path)
  except OSError as e:
    return Removal(False, steps, f"{path}: {e}")
  return Removal(True, steps)
