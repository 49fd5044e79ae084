"""Scanned decoder layers: one block's parameters stacked along a leading layer axis, run by `lax.scan`.

An unrolled L-layer model hands XLA L copies of the block; the compile time of the 7B update step for a
TPU slice grows with them. Scanning traces and compiles the block once (MaxText's `scan_layers`, its
default). The stacked parameters carry the `STACKED` metadata flag, which the sharding table reads (the
layer axis is never split) and the HF import/export read to stack and unstack per-layer tensors.

The stacked block is built from L ordinary blocks (the same random draws in the same order as the
unscanned model), so `init(..., scan_layers=True)` holds exactly the stacked weights of
`init(..., scan_layers=False)` with the same key.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from rlvr_jax import sharding as shd
from rlvr_jax.models._modules import DecoderBlock, LayerKV


def stack_blocks(blocks: Sequence[DecoderBlock]) -> DecoderBlock:
  """One block whose every parameter is the stack [L, ...] of the blocks' parameters, flagged STACKED."""
  graphdef, first = nnx.split(blocks[0])
  states = [first] + [nnx.split(block)[1] for block in blocks[1:]]

  def stack(*variables: nnx.Variable) -> nnx.Variable:
    stacked = variables[0].replace(jnp.stack([v[...] for v in variables]))
    stacked.set_metadata(shd.STACKED, True)
    return stacked

  is_variable = lambda x: isinstance(x, nnx.Variable)  # noqa: E731
  return nnx.merge(graphdef, jax.tree.map(stack, *states, is_leaf=is_variable))


def num_stacked(block: DecoderBlock) -> int:
  """L, the length of the layer axis of a stacked block."""
  return jax.tree.leaves(nnx.state(block))[0].shape[0]


def run_stacked(block: DecoderBlock, x: jax.Array, cache: LayerKV | None, *, remat: bool,
                apply: Callable[[DecoderBlock, jax.Array, LayerKV | None], tuple[jax.Array, LayerKV | None]]
                ) -> tuple[jax.Array, LayerKV | None]:
  """Runs the L stacked layers in order: x [B, T, D] -> x; the stacked cache (if any) is carried and each
  layer writes its slots in place.

  `apply(layer, x, cache)` runs one layer (`DecoderBlock.__call__` with the call's fixed arguments bound).
  `remat` recomputes each layer's activations in the backward pass (checkpoint inside the scan body: only
  the [B, T, D] carry of each layer is saved).
  """
  graphdef, stacked = nnx.split(block)
  layers = num_stacked(block)

  def body(carry, xs):
    x, cache = carry
    params, index = xs
    layer_cache = None if cache is None else cache.replace(layer=index)
    x, layer_cache = apply(nnx.merge(graphdef, params), x, layer_cache)
    return (x, None if layer_cache is None else layer_cache.replace(layer=None)), None

  if remat:
    body = jax.checkpoint(body, prevent_cse=False)
  (x, cache), _ = jax.lax.scan(body, (x, cache), (stacked, jnp.arange(layers)))
  return x, cache
