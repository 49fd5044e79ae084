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
from rlvr_jax.models.config import QwenConfig
from rlvr_jax.models.qwen import Qwen, positions_from_mask


def abstract_model(config: QwenConfig, dtype=jnp.bfloat16, param_dtype=None) -> Qwen:
  """The model with `jax.ShapeDtypeStruct` leaves: shapes, dtypes and roles, no memory.

  `dtype` is the compute dtype, `param_dtype` the storage dtype (default: `dtype`); see
  `rlvr_jax.models.precision`."""
  return nnx.eval_shape(lambda: Qwen(config, rngs=nnx.Rngs(0), dtype=dtype, param_dtype=param_dtype))


def param_count(config: QwenConfig) -> int:
  """Number of parameters, computed without allocating any weight."""
  _, state = nnx.split(abstract_model(config))
  return sum(x.size for x in jax.tree.leaves(state))


def init(config: QwenConfig, *, key: jax.Array, dtype=jnp.bfloat16, param_dtype=None, mesh: Mesh | None = None,
         layout: shd.Layout = "train") -> Qwen:
  """A randomly initialized model (normal(0.02) kernels, zero biases, unit norms, as HF initializes)."""

  def create_state():
    return nnx.state(Qwen(config, rngs=nnx.Rngs(params=key), dtype=dtype, param_dtype=param_dtype))

  graphdef, abstract_state = nnx.split(abstract_model(config, dtype, param_dtype))
  out_shardings = None if mesh is None else shd.state_shardings(abstract_state, mesh, layout)
  state = jax.jit(create_state, out_shardings=out_shardings)()
  return nnx.merge(graphdef, state)


def model_from_arrays(config: QwenConfig, dtype, read: Callable[[str, tuple[int, ...]], jax.Array],
                      param_dtype=None) -> Qwen:
  """Builds the model by asking `read(dotted_path, shape)` for each parameter's (placed) array in turn."""
  graphdef, abstract_state = nnx.split(abstract_model(config, dtype, param_dtype))
  flat = nnx.to_flat_state(abstract_state)
  values = []
  for path, variable in flat:
    dotted = ".".join(str(p) for p in path)
    values.append((path, variable.replace(read(dotted, tuple(variable.shape)))))
  return nnx.merge(graphdef, nnx.from_flat_state(values))


def flat_params(model: Qwen) -> list[tuple[str, jax.Array]]:
  """(dotted path, array) for every parameter, in a stable order."""
  return [(".".join(str(p) for p in path), variable[...])
          for path, variable in nnx.to_flat_state(nnx.state(model, nnx.Param))]


@nnx.jit
def _full_logits(model: Qwen, input_ids: jax.Array, attention_mask: jax.Array) -> jax.Array:
  hidden, _ = model(input_ids, attention_mask, positions_from_mask(attention_mask))
  return model.logits(hidden)


def logits(model: Qwen, input_ids: jax.Array, attention_mask: jax.Array) -> jax.Array:
  """float32 logits [B, T, V] for left- or right-padded inputs; positions skip the padding.

  A convenience for small inputs and tests: training computes log-probs with the chunked LM head.
  """
  return _full_logits(model, jnp.asarray(input_ids), jnp.asarray(attention_mask))
