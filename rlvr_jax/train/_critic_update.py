"""PPO's critic: its state in the train state and one optimizer step of the clipped value loss.

verl's `update_critic`: for each mini-batch of the rollout batch (the same mini-batches and PPO epochs as
the actor here), the value model predicts V(s_t) of the response tokens and minimizes

    0.5 * agg(max((V - R)^2, (clip(V, V_old - c, V_old + c) - R)^2))     (objectives.critic.value_loss)

with R the GAE returns and V_old the values of the rollout pass. Its own optax optimizer (`CriticSpec.optim`:
AdamW, warm-up, weight decay, clipping, non-finite guard) on float32 master weights, like the policy's.

Micro-batches: with the mini-batch's token / row counts passed to every micro-batch (`global_tokens`,
`global_sequences`), every aggregation mode is a sum over micro-batches, so accumulating their gradients
is the exact mini-batch gradient (no second pass as in the actor's step: the loss reads values only).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct

from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.objectives._aggregation import normalizer_counts
from rlvr_jax.objectives._batch import AggregationSpec
from rlvr_jax.objectives._critic import value_loss
from rlvr_jax.train._state import TrainState
from rlvr_jax.train._train_batch import TrainBatch
from rlvr_jax.train._value_model import ValueModel, completion_values


@struct.dataclass
class CriticState:
  """Attributes:
    params: `nnx.State` of the value model's parameters (float32).
    opt_state: the critic optimizer's optax state (with apply_if_finite's skip counters).
    step: [] int32, critic optimizer steps taken.
  """

  params: Any
  opt_state: Any
  step: jax.Array


def create_critic_state(model: ValueModel, tx: optax.GradientTransformation) -> tuple[nnx.GraphDef, CriticState]:
  graphdef, params = nnx.split(model, nnx.Param)
  return graphdef, CriticState(params=params, opt_state=tx.init(params), step=jnp.zeros((), jnp.int32))


@dataclasses.dataclass(frozen=True)
class CriticUpdateConfig:
  """Static settings of the critic step.

  Attributes:
    cliprange_value: value clip c (verl critic.cliprange_value).
    loss_agg_mode: aggregation of the value loss (verl critic.loss_agg_mode, token-mean).
    micro_batches: gradient-accumulation steps per mini-batch.
    remat: recompute decoder blocks in the backward pass.
  """

  cliprange_value: float = 0.5
  loss_agg_mode: str = "token-mean"
  micro_batches: int = 1
  remat: bool = False


def _strided(x: jax.Array, k: int) -> jax.Array:
  """[M, ...] -> [k, M / k, ...], micro-batch j = rows j, j + k, ... (as the actor's step)."""
  return jnp.swapaxes(x.reshape((x.shape[0] // k, k) + x.shape[1:]), 0, 1)


def _unstrided(x: jax.Array) -> jax.Array:
  return jnp.swapaxes(x, 0, 1).reshape((x.shape[0] * x.shape[1],) + x.shape[2:])


def make_critic_update_step(graphdef: nnx.GraphDef, tx: optax.GradientTransformation, config: CriticUpdateConfig,
                            constrain: Constrain = no_constraint) -> Callable:
  """(state [donate it], minibatch: TrainBatch with returns / old_values) -> (state, metrics).

  Only `state.critic` changes. Metrics: critic/value_loss, critic/vf_clipfrac, critic/grad_norm,
  critic/update_skipped, critic/consecutive_skips, critic/skipped_total.
  """
  aggregation = AggregationSpec(mode=config.loss_agg_mode)

  def values_of(params, micro: TrainBatch) -> jax.Array:
    model = nnx.merge(graphdef, params)
    return completion_values(model, micro.prompt_ids, micro.prompt_mask, micro.completion_ids,
                             micro.response_mask, constrain=constrain, remat=config.remat)

  def loss_fn(params, micro: TrainBatch, tokens: jax.Array, sequences: jax.Array):
    values = values_of(params, micro)  # [M / k, N]
    loss, _ = value_loss(values, micro.returns, micro.old_values, micro.response_mask,
                         cliprange_value=config.cliprange_value, aggregation=aggregation, global_tokens=tokens,
                         global_sequences=sequences)
    return loss, jax.lax.stop_gradient(values)

  def step(state: TrainState, minibatch: TrainBatch):
    if minibatch.returns is None or minibatch.old_values is None:
      raise ValueError("the critic step needs TrainBatch.returns and TrainBatch.old_values (a critic rollout)")
    k = config.micro_batches
    if minibatch.num_rows % k:
      raise ValueError(f"mini-batch of {minibatch.num_rows} rows does not split into train.micro_batches={k}")
    critic = state.critic
    tokens, sequences = normalizer_counts(minibatch.response_mask)
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    if k == 1:
      (loss, values), grads = grad_fn(critic.params, minibatch, tokens, sequences)
    else:
      def accumulate(carry, micro):
        loss_sum, grads_sum = carry
        (loss, values), grads = grad_fn(critic.params, micro, tokens, sequences)
        return (loss_sum + loss, jax.tree.map(jnp.add, grads_sum, grads)), values

      zeros = jax.tree.map(jnp.zeros_like, critic.params)
      micros = jax.tree.map(lambda x: _strided(x, k), minibatch)
      (loss, grads), values = jax.lax.scan(accumulate, (jnp.zeros((), jnp.float32), zeros), micros)
      values = _unstrided(values)
    # The metrics of the whole mini-batch (the clip fraction is a token mean, not a sum over micro-batches).
    _, metrics = value_loss(values, minibatch.returns, minibatch.old_values, minibatch.response_mask,
                            cliprange_value=config.cliprange_value, aggregation=aggregation)
    grads = jax.tree.map(lambda g: jnp.where(jnp.isfinite(loss), g, jnp.nan), grads)
    updates, opt_state = tx.update(grads, critic.opt_state, critic.params, rollout_step=state.rollout_step)
    params = optax.apply_updates(critic.params, updates)
    metrics = {
        "critic/value_loss": loss,
        "critic/vf_clipfrac": metrics["critic/vf_clipfrac"],
        "critic/grad_norm": optax.tree.norm(grads),
        "critic/update_skipped": jnp.logical_not(opt_state.last_finite).astype(jnp.float32),
        "critic/consecutive_skips": opt_state.notfinite_count.astype(jnp.float32),
        "critic/skipped_total": opt_state.total_notfinite.astype(jnp.float32),
    }
    critic = critic.replace(params=params, opt_state=opt_state, step=critic.step + 1)
    return state.replace(critic=critic), metrics

  return step
