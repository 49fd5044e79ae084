"""One decode step's model call and draw, over the whole batch or tile by tile (batch-invariant mode).

Why a batch-invariant mode: the continuous sampler's decode batch is its slot count, the static one's is
every row. XLA:CPU rounds a row's matmuls and row reductions (RMSNorm, log-softmax) differently at
different batch sizes (measured at the tiny preset: RMSNorm over 128 features gives other last bits at
32 rows than at 8, 16 or 24; docs/benchmarks.md), so the two samplers agree only to float32 rounding,
and a sampled token can flip where two candidates tie to that precision. With `batch_invariant` every
decode step runs the model and the draw on tiles of `ROW_TILE` rows in sequence (`lax.scan`), so every
row is computed by the same [8, ...] program whatever the batch size, and the static and continuous
samplers return the same tokens and log-probs bit for bit (tests/sampling/test_continuous_batching.py).
vLLM offers the same trade (VLLM_BATCH_INVARIANT). The cost: the weights are read once per tile instead
of once per step, and each tile's KV rows are copied out and back; it is for reproducibility checks, not
for throughput, and it expects an unsharded batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlvr_jax.models import KVCache
from rlvr_jax.models._modules import Constrain
from rlvr_jax.models._qwen import Qwen
from rlvr_jax.sampling._draw import ROW_TILE, Draw, SamplerSpec, draw_tokens
from rlvr_jax.sampling._strategies import SamplingKnobs


def decode_logits(model: Qwen, tokens: jax.Array, active: jax.Array, positions: jax.Array, cache: KVCache,
                  spec: SamplerSpec, constrain: Constrain) -> tuple[jax.Array, KVCache]:
  """Feeds one token per row ([R] tokens, mask, positions) through the model against `cache`; returns
  float32 logits [R, V] and the cache with the tokens written."""
  if not spec.batch_invariant:
    hidden, cache = model(tokens[:, None], active[:, None], positions[:, None], cache=cache,
                          constrain=constrain)  # [R, 1, D]
    return model.logits(hidden, constrain)[:, 0], cache
  rows = _check_tiles(tokens.shape[0])
  lead = 1 if cache.stacked else 0  # the row axis of the k / v arrays

  def tile_step(cache: KVCache, start: jax.Array) -> tuple[KVCache, jax.Array]:
    take = lambda x, axis=0: jax.lax.dynamic_slice_in_dim(x, start, ROW_TILE, axis)  # noqa: E731
    put = lambda x, tile, axis=0: jax.lax.dynamic_update_slice_in_dim(x, tile, start, axis)  # noqa: E731
    on_kv = lambda f, *xs: f(*xs) if cache.stacked else tuple(map(f, *xs))  # noqa: E731
    per_row = cache.end_index.ndim == 1
    tile_cache = cache.replace(k=on_kv(lambda x: take(x, lead), cache.k), v=on_kv(lambda x: take(x, lead), cache.v),
                               kv_mask=take(cache.kv_mask), end_index=take(cache.end_index) if per_row else cache.end_index)
    hidden, tile_cache = model(take(tokens)[:, None], take(active)[:, None], take(positions)[:, None],
                               cache=tile_cache, constrain=constrain)  # [8, 1, D]
    cache = cache.replace(k=on_kv(lambda x, t: put(x, t, lead), cache.k, tile_cache.k),
                          v=on_kv(lambda x, t: put(x, t, lead), cache.v, tile_cache.v),
                          kv_mask=put(cache.kv_mask, tile_cache.kv_mask))
    return cache, model.logits(hidden, constrain)[:, 0]  # [8, V]

  cache, logits = jax.lax.scan(tile_step, cache, jnp.arange(0, rows, ROW_TILE))
  return logits.reshape(rows, -1), cache.replace(end_index=cache.end_index + 1)


def draw_rows(logits: jax.Array, keys: jax.Array, rows: jax.Array, step: jax.Array, last_position: jax.Array,
              active: jax.Array, knobs: SamplingKnobs, spec: SamplerSpec) -> Draw:
  """`draw_tokens` over the whole batch, or tile by tile in batch-invariant mode."""
  if not spec.batch_invariant:
    return draw_tokens(logits, keys, rows, step, last_position, active, knobs, spec)
  count = _check_tiles(logits.shape[0])
  tiles = lambda x: x.reshape((count // ROW_TILE, ROW_TILE) + x.shape[1:])  # noqa: E731
  step = jnp.broadcast_to(step, active.shape)
  draws = jax.lax.map(lambda a: draw_tokens(*a, knobs, spec),
                      tuple(map(tiles, (logits, keys, rows, step, last_position, active))))
  return jax.tree.map(lambda x: x.reshape((count,) + x.shape[2:]), draws)


def _check_tiles(rows: int) -> int:
  if rows % ROW_TILE:
    raise ValueError(f"batch_invariant sampling runs whole tiles of {ROW_TILE} rows; the batch has {rows} rows "
                     f"(make prompts x num_samples a multiple of {ROW_TILE})")
  return rows
