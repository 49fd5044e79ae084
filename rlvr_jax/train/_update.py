"""One optimizer step on a mini-batch: forward, chunked token statistics, objective, gradient
accumulation over micro-batches, optax update. A pure function, jitted once with the state donated.

Micro-batches are strided (micro-batch j holds rows j, j + k, j + 2k, ...; with a shared prompt forward,
groups j, j + k, ... of prompt_group_size rows), so when the mini-batch rows are split over the
data-parallel devices every micro-batch is split over all of them too. The gradient
is that of the whole mini-batch's objective whatever the number of micro-batches (see
`make_update_step`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.objectives import Objective, TokenBatch
from rlvr_jax.objectives._token_stats import TokenStats
from rlvr_jax.objectives._completion_stats import completion_statistics
from rlvr_jax.objectives._rollout_batch import RolloutBatch
from rlvr_jax.train._row_chunks import merge_strided, split_strided
from rlvr_jax.train._state import TrainState


@dataclasses.dataclass(frozen=True)
class UpdateConfig:
  """Static settings of the update step.

  Attributes:
    micro_batches: gradient-accumulation steps per mini-batch (rows must divide evenly).
    temperature: rollout temperature; logits are divided by it before log-probs and entropies.
    chunk_size: tokens per LM-head chunk in `token_statistics`.
    remat: recompute decoder blocks in the backward pass.
    prompt_group_size: rows come in consecutive groups of this many sharing one prompt, which the
      forward runs once per group (`completion_statistics`); 1 runs every row's prompt.
  """

  micro_batches: int = 1
  temperature: float = 1.0
  chunk_size: int = 1024
  remat: bool = False
  prompt_group_size: int = 1


def make_update_step(graphdef: nnx.GraphDef, objective: Objective, tx: optax.GradientTransformation,
                     config: UpdateConfig, constrain: Constrain = no_constraint) -> Callable:
  """(state, minibatch, key) -> (state, metrics); jit it with the state donated.

  With micro_batches = k > 1 the gradient is exact for the whole mini-batch, whatever the objective:
  the loss is f(stats(params)) where stats are per-token statistics ([M, N] arrays, tiny next to the
  model), so
    1. a no-grad pass computes stats for every micro-batch,
    2. f and df/dstats are evaluated once on the whole mini-batch (batch statistics such as STEER's
       min/max or SIREN's entropy aggregate see every row; non-linear terms are exact),
    3. each micro-batch recomputes its forward with gradient and pulls its slice of df/dstats back
       through it (a VJP), summing parameter gradients.
  This costs one extra forward per mini-batch and keeps activation memory at one micro-batch.
  """
  stats_request = objective.token_stats_request()
  needs_old_entropy = "old_entropy" in objective.required_inputs()

  def stats_fn(params, micro: RolloutBatch) -> TokenStats:
    model = nnx.merge(graphdef, params)
    return completion_statistics(model, micro.prompt_ids, micro.prompt_mask, micro.completion_ids,
                                 micro.response_mask, temperature=config.temperature,
                                 chunk_size=config.chunk_size, constrain=constrain, remat=config.remat,
                                 prompt_group_size=config.prompt_group_size, **stats_request)

  def objective_fn(stats: TokenStats, minibatch: RolloutBatch, objective_state, key):
    batch = TokenBatch.from_token_stats(
        stats, response_mask=minibatch.response_mask, advantages=minibatch.advantages,
        old_logp=minibatch.old_logp, old_entropy=minibatch.old_entropy if needs_old_entropy else None,
        ref_logp=minibatch.ref_logp)
    loss, metrics = objective.loss(batch, objective_state, key)
    valid = minibatch.response_mask > 0
    count = jnp.maximum(jnp.sum(valid), 1)
    metrics = {**metrics,
               "actor/logp_mean": jnp.sum(jnp.where(valid, jax.lax.stop_gradient(stats.logp), 0.0)) / count}
    if stats.entropy is not None:
      entropy = jax.lax.stop_gradient(stats.entropy)
      metrics["actor/entropy"] = jnp.sum(jnp.where(valid, entropy, 0.0)) / count
    return loss, metrics

  def direct_gradient(params, minibatch, objective_state, key):
    def loss_fn(params):
      return objective_fn(stats_fn(params, minibatch), minibatch, objective_state, key)

    return jax.value_and_grad(loss_fn, has_aux=True)(params)

  def accumulated_gradient(params, minibatch, objective_state, key, k):
    group = config.prompt_group_size
    micros = split_strided(minibatch, k, group)
    stats = jax.lax.map(lambda micro: stats_fn(jax.lax.stop_gradient(params), micro), micros)
    stats = merge_strided(stats, group)
    (loss, metrics), cotangent = jax.value_and_grad(objective_fn, has_aux=True)(
        stats, minibatch, objective_state, key)
    cotangents = split_strided(cotangent, k, group)

    def accumulate(grads_sum, inputs):
      micro, micro_cotangent = inputs
      _, pullback = jax.vjp(lambda p: stats_fn(p, micro), params)
      (grads,) = pullback(micro_cotangent)
      return jax.tree.map(jnp.add, grads_sum, grads), None

    zeros = jax.tree.map(jnp.zeros_like, params)
    grads, _ = jax.lax.scan(accumulate, zeros, (micros, cotangents))
    return (loss, metrics), grads

  def update_step(state: TrainState, minibatch: RolloutBatch, key: jax.Array):
    k = config.micro_batches
    if minibatch.num_rows % (k * config.prompt_group_size):
      raise ValueError(f"mini-batch of {minibatch.num_rows} rows does not split into train.micro_batches={k} "
                       f"of whole groups of {config.prompt_group_size}")
    if k == 1:
      (loss, metrics), grads = direct_gradient(state.params, minibatch, state.objective_state, key)
    else:
      (loss, metrics), grads = accumulated_gradient(state.params, minibatch, state.objective_state, key, k)

    # A non-finite loss skips the update even when its gradient came out finite (a NaN in a term whose
    # gradient is stopped): the optimizer's guard only looks at the gradient.
    grads = jax.tree.map(lambda g: jnp.where(jnp.isfinite(loss), g, jnp.nan), grads)
    updates, opt_state = tx.update(grads, state.opt_state, state.params, rollout_step=state.rollout_step)
    params = optax.apply_updates(state.params, updates)
    metrics = {
        **metrics,
        "actor/loss": loss,
        "actor/grad_norm": optax.tree.norm(grads),
        "actor/update_skipped": jnp.logical_not(opt_state.last_finite).astype(jnp.float32),
        "actor/consecutive_skips": opt_state.notfinite_count.astype(jnp.float32),
        "actor/skipped_total": opt_state.total_notfinite.astype(jnp.float32),
    }
    return state.replace(params=params, opt_state=opt_state, step=state.step + 1), metrics

  return update_step
