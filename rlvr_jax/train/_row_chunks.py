"""Row-chunked passes over a rollout batch: the scoring pass and the critic's value pass run `fn` on
`rows_per_chunk` rows at a time with `lax.map`, so their activation memory is one chunk's.

Chunk c holds rows c, c + chunks, c + 2 chunks, ... (a strided split): with rows sharded over the
data-parallel devices in contiguous blocks, every chunk then takes rows from every device.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def map_row_chunks(fn: Callable[..., Any], arrays: tuple[jax.Array, ...], rows_per_chunk: int) -> Any:
  """fn(*chunk of arrays) for each chunk, outputs reassembled in row order ([R, ...] leaves; None stays)."""
  rows = arrays[0].shape[0]
  chunks = max(rows // rows_per_chunk, 1)
  if rows % chunks:
    raise ValueError(f"rollout rows {rows} are not divisible into chunks of {rows_per_chunk}")

  def split(x):  # [R, ...] -> [chunks, R / chunks, ...]
    return jnp.swapaxes(x.reshape((rows // chunks, chunks) + x.shape[1:]), 0, 1)

  def unsplit(x):  # [chunks, R / chunks, ...] -> [R, ...]
    return jnp.swapaxes(x, 0, 1).reshape((rows,) + x.shape[2:])

  out = jax.lax.map(lambda inputs: fn(*inputs), tuple(split(x) for x in arrays))
  return jax.tree.map(unsplit, out)
