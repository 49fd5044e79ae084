"""Sandbox uid reservation is host-wide: another process never gets a uid this one holds."""

from __future__ import annotations

import subprocess
import sys

from rlvr_jax.rewards.code._uids import release_uids, reserve_uids

BASE = 1_950_000_000  # away from the default uid_base, so pools of other tests do not interfere
OTHER_PROCESS = ("import sys; from rlvr_jax.rewards.code._uids import reserve_uids; "
                 f"print(*reserve_uids({BASE}, 2))")


def _reserve_elsewhere() -> list[int]:
  out = subprocess.run([sys.executable, "-c", OTHER_PROCESS], capture_output=True, text=True, check=True)
  return [int(uid) for uid in out.stdout.split()]


def test_reservations_are_exclusive_across_threads_and_processes():
  held = reserve_uids(BASE, 2)
  try:
    assert held == (BASE, BASE + 1)
    assert reserve_uids(BASE, 1) == (BASE + 2,)  # in-process: skips what this process holds
    release_uids((BASE + 2,))
    assert _reserve_elsewhere() == [BASE + 2, BASE + 3]  # another process: skips the locked ones
  finally:
    release_uids(held)
  assert _reserve_elsewhere() == [BASE, BASE + 1]  # released (and the other process's locks died with it)
