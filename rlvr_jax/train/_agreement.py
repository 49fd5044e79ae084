"""Decisions every process of a run must take together (multi-host SPMD: one process raising while the
others walk into the next collective would leave them hanging until a timeout)."""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils


def any_process(flag: bool) -> bool:
  """True on every process when `flag` is true on any; a collective, so every process must call it."""
  if jax.process_count() == 1:
    return flag
  return bool(np.asarray(multihost_utils.process_allgather(np.asarray(flag, np.int32))).any())
