"""Bringing device arrays to the host, whatever the process count.

Batch arrays are sharded over the data axes; with several processes no single one can read a global
array with `np.asarray`. Every process gathers the full array instead, so every process runs the same
host code on the same values (decoding, rewards, advantages, diagnostics) and the processes never
diverge; only process 0 writes files. The rollout, the evaluation runner and the diagnostics all read
device arrays through `to_host`.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils


def to_host(x: jax.Array | np.ndarray) -> np.ndarray:
  """The whole (global) array as numpy on every process; a collective when `x` spans several processes
  and is not replicated, so every process must call it in the same order."""
  if isinstance(x, np.ndarray):
    return x
  if x.is_fully_addressable:
    return np.asarray(jax.device_get(x))
  if x.is_fully_replicated:  # scalars of a jitted step: every process holds a copy already
    return np.asarray(x.addressable_data(0))
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def writes_files() -> bool:
  """Only process 0 writes diagnostic files, so a multi-host run writes each file once."""
  return jax.process_index() == 0
