"""Keep freed host memory in the process heap, so XLA:CPU programs do not fault their temporaries in anew on
every call.

XLA:CPU allocates a program's temporaries as one block per call: 120 MiB for the tiny preset's update step
(16 rows x 128 tokens), more at larger shapes. glibc hands out a block that large as fresh pages from mmap
(its mmap threshold is capped at 32 MiB, and a non-main thread's arena cannot hold more than 64 MiB) and
unmaps it on free, so every call faults the pages in and the kernel zeroes them again: measured on the
2-core machine, 30,800 minor faults and 45 ms of kernel time in a 190 ms update step (2026-12-01). torch
never meets this (each of its tensors is a separate allocation under the threshold, reused from the heap),
and jemalloc / tcmalloc keep such blocks by default. With mmap off, no trimming and a single arena, glibc
carves the block from the main heap and the next call reuses it: no faults, ~20% off that step.

The arena limit only reaches threads that allocate after it is set, so `retain_freed_memory()` must run
before jax starts its runtime threads: the launcher and the bench scripts call it first thing
(`RLVR_JAX_HOST_HEAP=default` in the environment leaves glibc's defaults). The cost is memory: the process
keeps its peak heap instead of returning it to the kernel, and a program's block can be freed only after
the next call has allocated its own, so about one more temporaries block stays resident (measured: the
tiny update step 1.34 GiB resident after 600 steps against 1.0-1.1 with the defaults; the ~0.5B shape
14.7 GiB against ~11). On a TPU or GPU host (where XLA's temporaries live in device memory) the launcher
puts glibc's defaults back once the platform is known (`restore_defaults()`), so large host buffers such as
checkpoint I/O are returned as before. Any libc other than glibc: nothing is changed and the functions
say so by returning False.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

# mallopt parameters (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
# glibc's defaults, for restore_defaults(): 128 KiB trim threshold, 65,536 mmap'd blocks, and on 64-bit
# 8 arenas per core (its rule when no limit is set; mallopt cannot unset a limit).
_DEFAULTS = ((_M_TRIM_THRESHOLD, 128 * 1024), (_M_MMAP_MAX, 65536), (_M_ARENA_MAX, 8 * (os.cpu_count() or 1)))
_RETAIN = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, -1), (_M_ARENA_MAX, 1))  # -1: never trim (mallopt(3))


def _glibc() -> ctypes.CDLL | None:
  """The process's C library when it is glibc (it has `gnu_get_libc_version` and `mallopt`), else None."""
  try:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.gnu_get_libc_version  # noqa: B018 - only glibc defines it
    return libc if hasattr(libc, "mallopt") else None
  except (OSError, AttributeError):
    return None


def _apply(settings: tuple[tuple[int, int], ...]) -> bool:
  libc = _glibc()
  if libc is None:
    return False
  return all(libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1 for param, value in settings)


MODES = ("retain", "default")
ENVIRONMENT_VARIABLE = "RLVR_JAX_HOST_HEAP"


def apply_mode(mode: str) -> bool:
  """`retain` (retain_freed_memory) or `default` (glibc's settings, nothing changed). True when the
  retained settings are now in effect. A mode not in MODES raises ValueError naming the variable."""
  if mode not in MODES:
    raise ValueError(f"{ENVIRONMENT_VARIABLE}={mode!r}; known: {', '.join(repr(m) for m in MODES)}")
  return retain_freed_memory() if mode == "retain" else False


def retain_freed_memory() -> bool:
  """mmap off, no heap trimming, one arena: freed blocks stay in the heap for the next call. True when
  glibc accepted every setting; False on another libc (nothing changed)."""
  return _apply(_RETAIN)


def restore_defaults() -> bool:
  """glibc's default trim threshold, mmap limit and arena rule (for runs whose programs use device memory)."""
  return _apply(_DEFAULTS)
