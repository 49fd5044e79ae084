"""Ragged decode attention on TPU: a Pallas kernel where each row reads only its own filled cache blocks.

Why: the XLA decode path (`rlvr_jax.models._decode_attention`) bounds its block loop by the *batch's*
highest written slot, because an XLA loop cannot skip work per row. Under continuous batching some slot is
almost always near the end of its budget, so that bound is nearly the whole cache for every row. Here the
grid is (rows, cache blocks) and each row's key / value blocks past its own filled length are never
fetched: the block index map clamps them to the row's last filled block (Pallas skips the copy when a
block index repeats) and the kernel body is skipped. Bytes of KV read per step then follow the sum of the
rows' own lengths, as in vLLM's and JetStream's paged / ragged attention.

Why not jax's shipped paged / ragged paged attention kernels: they take a per-row *length* (slots
[0, length) are real), while this cache holds each row's left-padded prompt, so padding slots sit inside
the filled range (`kv_mask`). This kernel reads the mask block beside the key block.

Layout: the cache stays where and how the model keeps it, and the layer index is a scalar-prefetch
argument, so a scanned model's stacked [L, B, S, K, H] cache is read in place instead of copied out one
layer at a time (unscanned layers pass [B, S, K, H] as L = 1). The operand must also match how the TPU
*stores* the cache, or XLA relays the whole cache out for every call (measured, compiled for a v5p, a
3.5 GiB cache: 7 GiB of temporaries for one decode step over 28 scanned layers, 14 GiB in a decode
loop). TPU tiles an array's two minor
dimensions; with several KV heads per device the [.., S, K, H] cache is stored as it reads, and a grid
step takes one row's [S', K, H] block and loops over the heads. With one KV head per device (Qwen2.5-7B's
4 heads over tensor=4) a size-1 head axis in the tile would waste it, and XLA stores the cache
[L, S, B, H]-major (rows second-minor); the kernel then reads that view (a free transpose) in tiles of 8 /
16 rows (a sublane tile), fetching blocks up to the tile's longest row and folding each row up to its own
fill.

Numerics match the XLA blocked path: float32 scores and softmax, an exact online softmax over blocks,
masked scores at a large finite negative (a fully masked row gets its values' mean, never NaN).

Einsum legend as in `rlvr_jax.models._modules` (B batch, S slots, N = K * G query heads, H head dim).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import tpu as pltpu
from jax.sharding import PartitionSpec as P

from rlvr_jax import sharding as shd
from rlvr_jax.models._decode_attention import MASKED_SCORE

# TPU tiles are 128 lanes wide: a block of cache slots is a multiple of 128 (or the whole cache).
LANES = 128


def _row_tile(batch: int, dtype) -> int:
  """Rows per grid step of the one-head kernel: a TPU sublane tile (8 rows of 32 bits, 16 of 16), or all."""
  tile = 32 // jnp.dtype(dtype).itemsize
  return tile if batch % tile == 0 else batch


def _cache_shards(constrain, dim: int, size: int) -> int:
  """How many ways the cache's layout splits its dimension `dim` (0 rows, 2 KV heads) of `size` (1 off a mesh)."""
  if not isinstance(constrain, shd.ActivationConstraint):
    return 1
  shape = [1, 1, 1, 1]
  shape[dim] = size
  entry = constrain.spec("cache_bskh", shape)[dim]
  names = () if entry is None else (entry if isinstance(entry, tuple) else (entry,))
  return math.prod(constrain.mesh.shape[name] for name in names)


def local_kv_heads(kv_heads: int, constrain) -> int:
  """KV heads per device in the cache's layout (all of them off a mesh)."""
  return kv_heads // _cache_shards(constrain, 2, kv_heads)


def ragged_decode_applies(kernel_name: str, decode_block: int) -> bool:
  """Whether decode runs this kernel: on TPU (model.attention "splash") with blocked decode."""
  return kernel_name == "splash" and decode_block > 0


def fetch_tile_rows(kernel_name: str, decode_block: int, kv_heads: int, batch: int, dtype, constrain) -> int:
  """Rows that share one bound on the cache blocks decode fetches: 1 for the kernel with several KV heads
  per device (each row its own), a sublane tile of rows for it with one head per device (`_row_tile`),
  the whole batch for the XLA block loop (its trip count is the batch's highest fill)."""
  if not ragged_decode_applies(kernel_name, decode_block):
    return batch
  if local_kv_heads(kv_heads, constrain) > 1:
    return 1
  return _row_tile(batch // _cache_shards(constrain, 0, batch), dtype)


def ragged_block(block: int, slots: int, *, interpret: bool = False) -> int:
  """The kernel's block of cache slots for `rollout.decode_block` = `block` (0: the whole cache). On a TPU a
  block is a multiple of the 128 lanes; interpret mode (tests on CPU) takes any block."""
  if block <= 0 or block >= slots:
    return slots
  if block % LANES and not interpret:
    raise ValueError(f"rollout.decode_block={block} must be a multiple of {LANES} (TPU lanes) for the Pallas "
                     f"ragged decode kernel, or 0 / at least the cache's {slots} slots")
  return block


def kv_block_index(filled: jax.Array, index: jax.Array, block: int) -> jax.Array:
  """The cache block grid step `index` fetches for a row with `filled` slots written: its own block up to
  the row's last filled block, then that last block again, which Pallas does not copy a second time."""
  last = jnp.maximum(pl.cdiv(filled, block) - 1, 0)
  return jnp.minimum(index, last)


def _start(max_ref, denominator_ref, acc_ref):
  max_ref[...] = jnp.full(max_ref.shape, MASKED_SCORE, jnp.float32)
  denominator_ref[...] = jnp.zeros(denominator_ref.shape, jnp.float32)
  acc_ref[...] = jnp.zeros(acc_ref.shape, jnp.float32)


def _fold(q, k, v, real, valid_slots, max_ref, denominator_ref, acc_ref, at: int, scale: float):
  """Folds one block into one running softmax: q [G, H] against k / v [S', H]; real [1, S'] (masked and
  past-the-fill slots False), valid_slots [S', 1] (slots whose values may be read); the state at
  `max_ref[at]` etc. ([G, 1], [G, 1], [G, H])."""
  scores = jax.lax.dot_general(q.astype(jnp.float32), k.astype(jnp.float32), (((1,), (1,)), ((), ())),
                               preferred_element_type=jnp.float32) * scale  # [G, S']
  scores = jnp.where(real, scores, MASKED_SCORE)
  running_max = max_ref[at]  # [G, 1]
  new_max = jnp.maximum(running_max, jnp.max(scores, axis=1, keepdims=True))
  correction = jnp.exp(running_max - new_max)
  probs = jnp.exp(scores - new_max)  # [G, S']
  denominator_ref[at] = denominator_ref[at] * correction + jnp.sum(probs, axis=1, keepdims=True)
  # Slots past the row's fill (or past the cache's end, in a partial last block) may hold anything: zero
  # those values so that probability 0 times a stale or undefined value stays 0.
  v = jnp.where(valid_slots, v.astype(jnp.float32), 0.0)  # [S', H]
  acc_ref[at] = acc_ref[at] * correction + jnp.dot(probs, v, preferred_element_type=jnp.float32)
  max_ref[at] = new_max


def _finish(out_ref, denominator_ref, acc_ref):
  denominator = denominator_ref[...]
  out = jnp.where(denominator > 0, acc_ref[...] / jnp.where(denominator > 0, denominator, 1.0), 0.0)
  out_ref[...] = out.astype(out_ref.dtype)


def _slot_masks(index, block: int, filled, mask):
  """[1, S'] real slots (mask [1, S'] and below the fill), [S', 1] slots below the fill."""
  lanes = index * block + jax.lax.broadcasted_iota(jnp.int32, (1, block), 1)
  rows = index * block + jax.lax.broadcasted_iota(jnp.int32, (block, 1), 0)
  return (mask != 0) & (lanes < filled), rows < filled


def _heads_kernel(layer_ref, filled_ref, q_ref, k_ref, v_ref, mask_ref, out_ref, max_ref, denominator_ref,
                  acc_ref, *, block: int, scale: float):
  """Grid step (row, block) of a cache with K >= 2 heads per device: q_ref [K, G, H]; k_ref / v_ref
  [S', K, H]; mask_ref [1, S']; out_ref / acc_ref [K, G, H]; max_ref / denominator_ref [K, G, 1]."""
  del layer_ref  # used by the index maps only
  row, index = pl.program_id(0), pl.program_id(1)
  filled = filled_ref[row]
  pl.when(index == 0)(lambda: _start(max_ref, denominator_ref, acc_ref))

  @pl.when(index * block < filled)
  def _():
    real, valid_slots = _slot_masks(index, block, filled, mask_ref[...])
    for head in range(q_ref.shape[0]):  # static: K is small
      _fold(q_ref[head], k_ref[:, head, :], v_ref[:, head, :], real, valid_slots, max_ref, denominator_ref,
            acc_ref, head, scale)

  pl.when(index == pl.num_programs(1) - 1)(lambda: _finish(out_ref, denominator_ref, acc_ref))


def _row_tile_kernel(layer_ref, tile_filled_ref, filled_ref, q_ref, k_ref, v_ref, mask_ref, out_ref, max_ref,
                     denominator_ref, acc_ref, *, block: int, scale: float):
  """Grid step (row tile, block) of a one-head cache stored [L, S, B, H]: q_ref [R, G, H] for the tile's R
  rows; k_ref / v_ref [S', R, H]; mask_ref [R, 1, S']; out_ref / acc_ref [R, G, H]; max_ref /
  denominator_ref [R, G, 1]. The tile fetches blocks up to its longest row; each row folds its own."""
  del layer_ref
  tile, index = pl.program_id(0), pl.program_id(1)
  rows = q_ref.shape[0]
  pl.when(index == 0)(lambda: _start(max_ref, denominator_ref, acc_ref))

  @pl.when(index * block < tile_filled_ref[tile])
  def _():
    for row in range(rows):  # static: a tile is 8 or 16 rows
      filled = filled_ref[tile * rows + row]

      @pl.when(index * block < filled)
      def _(row=row, filled=filled):
        real, valid_slots = _slot_masks(index, block, filled, mask_ref[row])
        _fold(q_ref[row], k_ref[:, row, :], v_ref[:, row, :], real, valid_slots, max_ref, denominator_ref,
              acc_ref, row, scale)

  pl.when(index == pl.num_programs(1) - 1)(lambda: _finish(out_ref, denominator_ref, acc_ref))


def ragged_decode_attention(q: jax.Array, keys: jax.Array, values: jax.Array, kv_mask: jax.Array,
                            filled: jax.Array, *, block: int, layer: jax.Array | None = None,
                            interpret: bool = False) -> jax.Array:
  """One query token per row against the cache, each row reading its own filled blocks only.

  q [B, 1, N, H]; keys / values [B, S, K, H], or the stacked [L, B, S, K, H] with `layer` [] int;
  kv_mask [B, S] bool (real slots); filled [B] int (row b reads slots [0, filled[b]), rounded up to whole
  blocks; 0 reads nothing and returns zeros) -> [B, 1, N, H] in q's dtype.

  With one KV head (per device) the cache is read as [L, S, B, H], the order in which TPU stores it
  (`ragged_decode_applies`), by tiles of rows: a tile fetches blocks up to its longest row's fill.
  """
  if keys.ndim == 4:
    keys, values, layer = keys[None], values[None], jnp.zeros((), jnp.int32)
  _, batch, slots, kv_heads, head_dim = keys.shape
  num_heads = q.shape[2]
  groups = num_heads // kv_heads
  block = ragged_block(block, slots, interpret=interpret)
  scale = float(head_dim) ** -0.5
  layer = jnp.reshape(layer, (1,)).astype(jnp.int32)
  filled = filled.astype(jnp.int32)
  mask = kv_mask.astype(jnp.int32)[:, None, :]  # [B, 1, S]
  common = dict(compiler_params=pltpu.CompilerParams(dimension_semantics=("parallel", "arbitrary")),
                interpret=interpret)

  if kv_heads == 1:
    rows = _row_tile(batch, keys.dtype)
    tile_filled = jnp.max(filled.reshape(batch // rows, rows), axis=1)  # [B / R]

    def kv_block(tile, index, layer_ref, tile_filled_ref, _):
      return layer_ref[0], kv_block_index(tile_filled_ref[tile], index, block), tile, 0

    def mask_block(tile, index, *refs):
      return tile, 0, kv_block(tile, index, *refs)[1]

    per_tile = lambda tile, index, *_: (tile, 0, 0)  # noqa: E731
    state = lambda width: pltpu.VMEM((rows, groups, width), jnp.float32)  # noqa: E731
    out = pl.pallas_call(
        functools.partial(_row_tile_kernel, block=block, scale=scale),
        grid_spec=pltpu.PrefetchScalarGridSpec(
            num_scalar_prefetch=3, grid=(batch // rows, pl.cdiv(slots, block)),
            in_specs=[pl.BlockSpec((rows, groups, head_dim), per_tile),
                      pl.BlockSpec((None, block, rows, head_dim), kv_block),
                      pl.BlockSpec((None, block, rows, head_dim), kv_block),
                      pl.BlockSpec((rows, 1, block), mask_block)],
            out_specs=pl.BlockSpec((rows, groups, head_dim), per_tile),
            scratch_shapes=[state(1), state(1), state(head_dim)]),
        out_shape=jax.ShapeDtypeStruct((batch, groups, head_dim), q.dtype), **common,
    )(layer, tile_filled, filled, q.reshape(batch, groups, head_dim),
      jnp.swapaxes(keys[:, :, :, 0], 1, 2), jnp.swapaxes(values[:, :, :, 0], 1, 2), mask)
    return out.reshape(batch, 1, num_heads, head_dim)

  def kv_block(row, index, layer_ref, filled_ref):
    return layer_ref[0], row, kv_block_index(filled_ref[row], index, block), 0, 0

  def mask_block(row, index, *refs):
    return row, 0, kv_block(row, index, *refs)[2]

  per_row = lambda row, index, *_: (row, 0, 0, 0)  # noqa: E731
  kv_spec = pl.BlockSpec((None, None, block, kv_heads, head_dim), kv_block)
  state = lambda width: pltpu.VMEM((kv_heads, groups, width), jnp.float32)  # noqa: E731
  out = pl.pallas_call(
      functools.partial(_heads_kernel, block=block, scale=scale),
      grid_spec=pltpu.PrefetchScalarGridSpec(
          num_scalar_prefetch=2, grid=(batch, pl.cdiv(slots, block)),
          in_specs=[pl.BlockSpec((None, kv_heads, groups, head_dim), per_row), kv_spec, kv_spec,
                    pl.BlockSpec((None, 1, block), mask_block)],
          out_specs=pl.BlockSpec((None, kv_heads, groups, head_dim), per_row),
          scratch_shapes=[state(1), state(1), state(head_dim)]),
      out_shape=jax.ShapeDtypeStruct((batch, kv_heads, groups, head_dim), q.dtype), **common,
  )(layer, filled, q.reshape(batch, kv_heads, groups, head_dim), keys, values, mask)
  return out.reshape(batch, 1, num_heads, head_dim)


def ragged_decode_sharded(q: jax.Array, keys: jax.Array, values: jax.Array, kv_mask: jax.Array,
                          filled: jax.Array, constrain, *, block: int, layer: jax.Array | None = None,
                          interpret: bool = False) -> jax.Array:
  """`ragged_decode_attention` under `shard_map` when the model runs on a mesh (GSPMD cannot partition a
  Pallas call): rows split as the cache's rows, KV heads as the cache's heads, and the query heads with
  them. When the cache's KV heads are not split (too few for 'tensor'), every shard computes all query
  heads of its rows against its replicated cache: what each shard reads is the same either way."""
  kernel = functools.partial(ragged_decode_attention, block=block, interpret=interpret)
  if not isinstance(constrain, shd.ActivationConstraint):
    return kernel(q, keys, values, kv_mask, filled, layer=layer)
  stacked = keys.ndim == 5
  cache_spec = constrain.spec("cache_lbskh" if stacked else "cache_bskh", keys.shape)
  rows, heads = (cache_spec[1], cache_spec[3]) if stacked else (cache_spec[0], cache_spec[2])
  q_spec = P(rows, None, heads, None)
  layer = jnp.zeros((), jnp.int32) if layer is None else layer
  return jax.shard_map(lambda q, k, v, m, f, i: kernel(q, k, v, m, f, layer=i), mesh=constrain.mesh,
                       in_specs=(q_spec, cache_spec, cache_spec, P(rows, None), P(rows), P()),
                       out_specs=q_spec, check_vma=False)(q, keys, values, kv_mask, filled, layer)
