"""Creating models: abstract (shapes only), randomly initialized directly into a sharded layout, or
filled from per-parameter arrays; and the small-input `logits` convenience.

Abstract-state-first: `nnx.eval_shape` gives every parameter's shape and role without allocating, the
roles give shardings, and `jax.jit(..., out_shardings=...)` materializes each weight only in its shards.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import Mesh

from rlvr_jax import sharding as shd
from rlvr_jax.models._attention import AttentionKernel
from rlvr_jax.models._config import QwenConfig
from rlvr_jax.models._qwen import Qwen, positions_from_mask


def abstract_model(config: QwenConfig, dtype=jnp.bfloat16, param_dtype=None, *, scan_layers: bool = False,
                   attention: str | AttentionKernel = "auto", platform: str | None = None) -> Qwen:
  """The model with `jax.ShapeDtypeStruct` leaves: shapes, dtypes and roles, no memory.

  `dtype` is the compute dtype, `param_dtype` the storage dtype (default: `dtype`); see
  `rlvr_jax.models._precision`. `scan_layers`, `attention` and `platform` are the `Qwen` build options
  (`platform` names the target, e.g. "tpu" when compiling for a TPU slice from a CPU host)."""
  return nnx.eval_shape(lambda: Qwen(config, rngs=nnx.Rngs(0), dtype=dtype, param_dtype=param_dtype,
                                     scan_layers=scan_layers, attention=attention, platform=platform))


def param_count(config: QwenConfig) -> int:
  """Number of parameters, computed without allocating any weight."""
  _, state = nnx.split(abstract_model(config))
  return sum(x.size for x in jax.tree.leaves(state))


def init(config: QwenConfig, *, key: jax.Array, dtype=jnp.bfloat16, param_dtype=None, mesh: Mesh | None = None,
         layout: shd.Layout = "train", scan_layers: bool = False, attention: str | AttentionKernel = "auto",
         platform: str | None = None) -> Qwen:
  """A randomly initialized model (normal(0.02) kernels, zero biases, unit norms, as HF initializes).

  The same key gives the same weights with and without `scan_layers` (stacked or not)."""
  options = dict(scan_layers=scan_layers, attention=attention, platform=platform)

  def create_state():
    return nnx.state(Qwen(config, rngs=nnx.Rngs(params=key), dtype=dtype, param_dtype=param_dtype, **options))

  graphdef, abstract_state = nnx.split(abstract_model(config, dtype, param_dtype, **options))
  out_shardings = None if mesh is None else shd.state_shardings(abstract_state, mesh, layout)
  state = jax.jit(create_state, out_shardings=out_shardings)()
  return nnx.merge(graphdef, state)


def model_from_arrays(abstract: Qwen, read: Callable[[str, nnx.Variable], jax.Array]) -> Qwen:
  """Fills an abstract model by asking `read(dotted_path, abstract_variable)` for each parameter's (placed)
  array in turn (the variable gives its shape and its metadata: role, STACKED)."""
  graphdef, abstract_state = nnx.split(abstract)
  values = []
  for path, variable in nnx.to_flat_state(abstract_state):
    dotted = ".".join(str(p) for p in path)
    values.append((path, variable.replace(read(dotted, variable))))
  return nnx.merge(graphdef, nnx.from_flat_state(values))


def flat_params(model: Qwen) -> list[tuple[str, jax.Array]]:
  """(dotted path, array) for every parameter, in a stable order (stacked parameters as they are stored:
  one [L, ...] array under a path without a layer index)."""
  return [(".".join(str(p) for p in path), variable[...])
          for path, variable in nnx.to_flat_state(nnx.state(model, nnx.Param))]


def is_stacked(variable: nnx.Variable) -> bool:
  """The parameter is stacked along a leading layer axis (scanned layers)."""
  return bool(variable.get_metadata().get(shd.STACKED))


@nnx.jit
def _full_logits(model: Qwen, input_ids: jax.Array, attention_mask: jax.Array) -> jax.Array:
  hidden, _ = model(input_ids, attention_mask, positions_from_mask(attention_mask))
  return model.logits(hidden)


def logits(model: Qwen, input_ids: jax.Array, attention_mask: jax.Array) -> jax.Array:
  """float32 logits [B, T, V] for left- or right-padded inputs; positions skip the padding.

  A convenience for small inputs and tests: training computes log-probs with the chunked LM head.
  """
  return _full_logits(model, jnp.asarray(input_ids), jnp.asarray(attention_mask))
