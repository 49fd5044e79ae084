"""Row-chunked passes over a rollout batch: the scoring pass and the critic's value pass run `fn` on
`rows_per_chunk` rows at a time with `lax.map`, so their activation memory is one chunk's.

Chunk c holds rows c, c + chunks, c + 2 chunks, ... (a strided split; of whole groups of rows where the
rows of a group share one prompt): with rows sharded over the data-parallel devices in contiguous
blocks, every chunk then takes rows from every device. The update step's micro-batches are split the
same way.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


def split_strided(tree: Any, chunks: int, group_size: int = 1) -> Any:
  """[R, ...] leaves -> [chunks, R / chunks, ...]: chunk c holds groups c, c + chunks, ... of `group_size`
  consecutive rows (rows c, c + chunks, ... when group_size is 1), so a group is never split."""
  def split(x):
    groups = x.shape[0] // group_size
    x = x.reshape((groups // chunks, chunks, group_size) + x.shape[1:])
    return jnp.swapaxes(x, 0, 1).reshape((chunks, groups // chunks * group_size) + x.shape[3:])

  return jax.tree.map(split, tree)


def merge_strided(tree: Any, group_size: int = 1) -> Any:
  """Inverse of `split_strided`: [chunks, R / chunks, ...] leaves -> [R, ...] in the original row order."""
  def merge(x):
    chunks, per_chunk = x.shape[:2]
    x = x.reshape((chunks, per_chunk // group_size, group_size) + x.shape[2:])
    return jnp.swapaxes(x, 0, 1).reshape((chunks * per_chunk,) + x.shape[3:])

  return jax.tree.map(merge, tree)


def map_row_chunks(fn: Callable[..., Any], arrays: tuple[jax.Array, ...], rows_per_chunk: int,
                   group_size: int = 1) -> Any:
  """fn(*chunk of arrays) for each chunk, outputs reassembled in row order ([R, ...] leaves; None stays).
  With group_size > 1 the chunks hold whole groups of that many consecutive rows."""
  rows = arrays[0].shape[0]
  chunks = max(rows // rows_per_chunk, 1)
  if rows % (chunks * group_size):
    raise ValueError(f"rollout rows {rows} are not divisible into chunks of {rows_per_chunk} rows of whole "
                     f"groups of {group_size}")
  out = jax.lax.map(lambda inputs: fn(*inputs), split_strided(arrays, chunks, group_size))
  return merge_strided(out, group_size)
