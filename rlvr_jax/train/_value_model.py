"""PPO's value model: the Qwen decoder with a scalar head, V(s_t) for every response position.

verl builds its critic as `AutoModelForTokenClassification(num_labels=1)` on the actor's checkpoint (or
`critic.model.path`): the decoder without its LM head, plus `score = Linear(D, 1)` initialised as HF
initialises linear layers (weight ~ normal(0, 0.02), bias 0). This is the same model on the NNX port:
`Qwen`'s public call gives the final (normed) hidden states, and `head` / `bias` map them to one value per
position. verl's head also applies dropout (0.1 by HF default) while the critic trains; here it does not,
so the critic's forward is the same at rollout and update time.

Values are read where the policy's log-probs are: position P + t - 1 (the state before response token t
is chosen) gives V(s_t), as verl's `values[:, -response_length - 1: -1]`. Einsum legend of
`rlvr_jax.models._modules`: B rows, T positions, D model dim.
"""

from __future__ import annotations

import os
from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from rlvr_jax import models
from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.models._precision import merge_for_reading, read_param
from rlvr_jax.objectives._completion_stats import sequence_inputs
from rlvr_jax.train._row_chunks import map_row_chunks

# HF `initializer_range` of Qwen2 / Qwen3: the std of a freshly initialised linear layer.
_HEAD_INIT_STD = 0.02


class ValueModel(nnx.Module):
  """Qwen backbone + [D] -> 1 value head.

  Attributes:
    backbone: the decoder (its LM head, unused by a critic, is dropped so it holds no optimizer state).
    head: [D] float32 value-head weight (role "norm_d": replicated, as a norm scale).
    bias: [] float32 value-head bias.
    dtype: the backbone's compute dtype (what `merge_for_reading` casts to).
  """

  def __init__(self, backbone: models.Qwen, *, key: jax.Array, param_dtype=jnp.float32):
    if getattr(backbone, "lm_head", None) is not None:
      del backbone.lm_head
    self.backbone = backbone
    self.dtype = backbone.dtype
    hidden = backbone.config.hidden_size
    self.head = nnx.Param((_HEAD_INIT_STD * jax.random.normal(key, (hidden,), jnp.float32)).astype(param_dtype),
                          role="norm_d")
    self.bias = nnx.Param(jnp.zeros((), param_dtype))

  def __call__(self, input_ids: jax.Array, attention_mask: jax.Array, *, constrain: Constrain = no_constraint,
               remat: bool = False) -> jax.Array:
    """[B, T] float32 values of every position of `input_ids` [B, T]."""
    hidden, _ = self.backbone(input_ids, attention_mask, constrain=constrain, remat=remat)  # [B, T, D]
    # Read in the compute dtype (as every weight is), then float32: the rollout's value pass reads a copy
    # already cast to the compute dtype, so both passes see the same head.
    head = read_param(self.head, self.dtype).astype(jnp.float32)  # [D]
    bias = read_param(self.bias, self.dtype).astype(jnp.float32)  # []
    return jnp.einsum("BTD,D->BT", hidden.astype(jnp.float32), head) + bias


def load_value_model(path: str | os.PathLike, *, dtype, mesh=None, seed: int = 0, **build_options) -> ValueModel:
  """The value model on the decoder of the HF directory `path` (the policy's starting checkpoint, or
  `critic.path`), float32 master weights like the policy, with a freshly initialised head.
  `build_options` are `models.load_pretrained`'s (scan_layers, attention, platform), as the policy's."""
  backbone = models.load_pretrained(path, dtype=dtype, param_dtype=jnp.float32, mesh=mesh, **build_options)
  return ValueModel(backbone, key=jax.random.fold_in(jax.random.key(seed), 0x7A1E))


def completion_values(model: ValueModel, prompt_ids: jax.Array, prompt_mask: jax.Array, completion_ids: jax.Array,
                      completion_mask: jax.Array, *, constrain: Constrain = no_constraint,
                      remat: bool = False) -> jax.Array:
  """[R, N] float32 V(s_t) of each completion position under `model` (with gradient, if taken)."""
  ids, mask = sequence_inputs(prompt_ids, prompt_mask, completion_ids, completion_mask)
  values = model(ids, mask, constrain=constrain, remat=remat)  # [R, P + N]
  prompt_len = prompt_ids.shape[1]
  return values[:, prompt_len - 1: prompt_len - 1 + completion_ids.shape[1]]


def make_value_fn(graphdef: nnx.GraphDef, *, rows_per_chunk: int, constrain: Constrain = no_constraint) -> Callable:
  """jit(critic_params, prompt_ids, prompt_mask, completion_ids, completion_mask) -> values [R, N].

  The rollout's value pass (verl `compute_values`), `rows_per_chunk` rows at a time with `lax.map` like
  the scoring pass, so its activation memory is one micro-batch's.
  """

  @jax.jit
  def values(params, prompt_ids, prompt_mask, completion_ids, completion_mask):
    model = merge_for_reading(graphdef, params)
    return map_row_chunks(lambda *inputs: completion_values(model, *inputs, constrain=constrain),
                          (prompt_ids, prompt_mask, completion_ids, completion_mask), rows_per_chunk)

  return values
