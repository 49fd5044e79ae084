"""Per-device memory of one decoder block of a published-scale Qwen at long sequence lengths, XLA attention
vs Pallas splash attention, compiled for a TPU slice from any machine (needs libtpu: the `[tpu]` extra).

    JAX_PLATFORMS=cpu python bench/attention_memory.py --model qwen2.5-math-7b --topology v5p:2x2x1 \
        --tokens 4096 --rows 4

Prints one row per (program, attention): XLA's memory analysis (arguments / temporaries / outputs, GiB per
device) and compile seconds. Programs: the block's forward, and its forward + backward (the gradient of
the sum of its outputs with respect to its input and parameters), rows split over all devices (fsdp).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.experimental import topologies
from jax.sharding import Mesh

from rlvr_jax import models, sharding as shd
from rlvr_jax.models import DecoderBlock, resolve_attention

GIB = 1 << 30


def block_programs(config, kernel, mesh, rows: int, tokens: int, dtype):
  """(name, jitted fn, abstract args) for the forward and forward+backward of one decoder block."""
  acts = shd.ActivationSharding(mesh, "train")
  abstract = nnx.eval_shape(lambda: DecoderBlock(config, dtype=dtype, param_dtype=jnp.float32, rngs=nnx.Rngs(0),
                                                 kernel=kernel))
  graphdef, state = nnx.split(abstract)
  state_shardings = shd.state_shardings(state, mesh, "train")
  params = jax.tree.map(lambda v, s: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=s), state, state_shardings,
                        is_leaf=lambda x: isinstance(x, nnx.Variable))
  x = jax.ShapeDtypeStruct((rows, tokens, config.hidden_size), dtype,
                           sharding=acts.sharding("act_btd", (rows, tokens, config.hidden_size)))
  mask = jax.ShapeDtypeStruct((rows, tokens), jnp.bool_, sharding=acts.sharding("act_bt", (rows, tokens)))

  def forward(params, x, mask):
    block = nnx.merge(graphdef, params)
    positions = models.positions_from_mask(mask)
    out, _ = block(x, positions, mask, jnp.arange(tokens), None, None, acts.constrain)
    return out

  def loss(params, x, mask):
    return jnp.sum(forward(params, x, mask).astype(jnp.float32))

  return [("forward", jax.jit(forward), (params, x, mask)),
          ("forward+backward", jax.jit(jax.grad(loss, argnums=(0, 1))), (params, x, mask))]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--model", default="qwen2.5-math-7b")
  parser.add_argument("--topology", default="v5p:2x2x1")
  parser.add_argument("--tokens", type=int, nargs="+", default=[4096])
  parser.add_argument("--rows", type=int, default=4, help="sequences per step, over all devices")
  args = parser.parse_args()

  config = models.preset(args.model)
  devices = topologies.get_topology_desc(platform="tpu", topology_name=args.topology).devices
  mesh = Mesh(np.asarray(devices).reshape(1, len(devices), 1), shd.MESH_AXES)
  print(f"{args.model}, one decoder block, {args.rows} rows over {len(devices)} x {devices[0].device_kind} "
        f"({args.topology}, fsdp={len(devices)}), bfloat16 compute, float32 parameters")
  print(f"{'tokens':>6} {'program':<17} {'attention':<9} {'args GiB':>9} {'temp GiB':>9} {'out GiB':>8} "
        f"{'compile s':>9}")
  for tokens in args.tokens:
    for kernel_name in ("xla", "splash"):
      kernel = resolve_attention(kernel_name, platform="tpu", dtype=jnp.bfloat16)
      for name, fn, fn_args in block_programs(config, kernel, mesh, args.rows, tokens, jnp.bfloat16):
        start = time.perf_counter()
        compiled = fn.lower(*fn_args).compile()
        seconds = time.perf_counter() - start
        m = compiled.memory_analysis()
        print(f"{tokens:>6} {name:<17} {kernel_name:<9} {m.argument_size_in_bytes / GIB:>9.3f} "
              f"{m.temp_size_in_bytes / GIB:>9.3f} {m.output_size_in_bytes / GIB:>8.3f} {seconds:>9.1f}", flush=True)


if __name__ == "__main__":
  main()
