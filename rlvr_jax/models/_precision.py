"""Storage vs compute dtypes of the policy (mixed precision with float32 master weights).

Parameters live in a storage dtype (`param_dtype`: float32 when training, so an Adam step of lr 1e-6,
about 2% of a bfloat16 ulp at |w| = 0.02, is not rounded away) and every use reads them in the compute
dtype (`dtype`: bfloat16 at scale). This is the split of Flax's `param_dtype` / `dtype`, MaxText's
`weight_dtype` / `dtype` and verl's FSDP mixed precision (float32 params, bfloat16 compute).

Memory per parameter when training: 4 B master + 8 B Adam moments, plus a transient compute copy
(2 B in bfloat16) inside the programs that cast (docs/recipes.md).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

DTYPES = {"bfloat16": jnp.bfloat16, "float32": jnp.float32}


def read_param(param: nnx.Param, dtype) -> jax.Array:
  """A parameter's value in the compute dtype; a no-op when it is stored in it. Under `jax.grad` the
  cast's transpose hands float32 gradients back to float32 parameters."""
  return param[...].astype(dtype)


def cast_params(params: Any, dtype) -> Any:
  """Every floating leaf of a parameter pytree (an `nnx.State` or plain arrays) in `dtype`.

  Programs that only read the weights many times (the sampler's decode loop, the scoring pass) cast
  once at their start, so the loop body reads compute-dtype weights and the copy dies with the program.
  """
  def cast(x):
    if isinstance(x, nnx.Variable):
      return x.replace(cast(x[...]))
    return x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x

  return jax.tree.map(cast, params, is_leaf=lambda x: isinstance(x, nnx.Variable))


def merge_for_reading(graphdef: nnx.GraphDef, params: Any) -> nnx.Module:
  """The model with its parameters cast once to its compute dtype: for programs that run it without a
  gradient (scoring, diagnostics), so the weights are converted once per program, not once per use."""
  compute_dtype = nnx.merge(graphdef, params).dtype
  return nnx.merge(graphdef, cast_params(params, compute_dtype))
