"""The compiled programs of a run, built once from its `RunSpec`: the sampler (prefill + decode), the
scoring pass (old / reference log-probs and entropies), the update step and the transform schedules; and
what the configured method adds: the greedy sampler (ReMax), the scoring pass with sum pi^2 (the optimal
token baseline), the critic's value pass and update step (PPO), the in-reward KL controller.

The trainer and `launch/compile_check.py` both build them here, so what the compile check measures is
what the trainer runs; `abstract_train_state` is the trainer's train state as shapes and shardings (no
weights), what the compile check passes where the trainer passes arrays. Parameters and state are jit
arguments (new weights never recompile); the update step donates the train state and pins its output
layout to the state's, so an update never moves it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from rlvr_jax import models, sharding
from rlvr_jax.config._spec import RunSpec
from rlvr_jax.sampling._settings import make_generate_fn
from rlvr_jax.train._advantage_inputs import estimator_needs
from rlvr_jax.train._critic_update import CriticUpdateConfig, make_critic_update_step
from rlvr_jax.train._scoring import make_scoring_fn
from rlvr_jax.train._state import TrainState, create_train_state
from rlvr_jax.train._update import UpdateConfig, make_update_step
from rlvr_jax.train._value_model import make_value_fn


@dataclasses.dataclass(frozen=True)
class Programs:
  """Attributes:
    generate: (params, prompt_ids, prompt_mask, prompt_row_ids, key) -> SamplerOutput.
    score: (params, prompt_ids, prompt_mask, completion_ids, completion_mask) -> (logp, entropy) [R, N],
      any rows (diagnostics score the first rows of a batch).
    update: (state [donated], minibatch, key) -> (state, metrics).
    update_schedules: (objective_state, step metrics, progress) -> objective_state.
    scoring_rows: rows per chunk of the scoring pass (one micro-batch, at least one per device).
    score_old: the rollout's old-log-prob pass, same inputs as `score` -> (logp, entropy, sum_pi_squared
      | None); `score` itself unless the estimator reads sum pi^2 or train.shared_prompt_forward is set.
    score_ref: the rollout's reference pass, same inputs and outputs as `score`, on a whole rollout batch
      (whole groups: with train.shared_prompt_forward it runs each group's prompt once).
    greedy: (params, prompt_ids, prompt_mask, prompt_row_ids, key) -> one greedy response per prompt, or
      None (ReMax's baseline).
    values: (critic_params, prompt_ids, prompt_mask, completion_ids, completion_mask) -> values [R, N], or
      None without a critic.
    critic_update: (state [donated], minibatch) -> (state, metrics), or None without a critic.
    update_kl_controller: (controller state, current_kl, n_steps) -> controller state, or None without KL
      in the reward.
  """

  generate: Callable
  score: Callable
  update: Callable
  update_schedules: Callable
  scoring_rows: int
  score_old: Callable
  score_ref: Callable
  greedy: Callable | None = None
  values: Callable | None = None
  critic_update: Callable | None = None
  update_kl_controller: Callable | None = None


def minibatch_rows(spec: RunSpec) -> int:
  return spec.rollout.prompts_per_step * spec.rollout.sampling.num_samples // spec.train.mini_batches


def scoring_rows(spec: RunSpec, mesh: Mesh) -> int:
  """Rows per scoring chunk: one micro-batch, and at least one row per data-parallel device."""
  return max(minibatch_rows(spec) // spec.train.micro_batches, mesh.shape["data"] * mesh.shape["fsdp"])


def build_programs(spec: RunSpec, graphdef: nnx.GraphDef, mesh: Mesh, tx: optax.GradientTransformation,
                   state_shardings: Any, *, critic_graphdef: nnx.GraphDef | None = None,
                   critic_tx: optax.GradientTransformation | None = None) -> Programs:
  """The run's programs; `state_shardings` is the train state's layout (a pytree of shardings);
  `critic_graphdef` / `critic_tx` are the value model's and its optimizer's, when `spec.critic` is set."""
  acts = sharding.ActivationSharding(mesh, "train")
  temperature = spec.rollout.sampling.logprob_temperature
  rows = scoring_rows(spec, mesh)
  group = spec.rollout.sampling.num_samples if spec.train.shared_prompt_forward else 1
  score = make_scoring_fn(graphdef, temperature=temperature, chunk_size=spec.train.chunk_size, with_entropy=True,
                          rows_per_chunk=rows, constrain=acts.constrain)
  score_ref = score if group == 1 else make_scoring_fn(
      graphdef, temperature=temperature, chunk_size=spec.train.chunk_size, with_entropy=True, rows_per_chunk=rows,
      constrain=acts.constrain, prompt_group_size=group)
  update_config = UpdateConfig(micro_batches=spec.train.micro_batches, temperature=temperature,
                               chunk_size=spec.train.chunk_size, remat=spec.model.remat, prompt_group_size=group)
  replicated = NamedSharding(mesh, P())
  update = jax.jit(make_update_step(graphdef, spec.objective, tx, update_config, constrain=acts.constrain),
                   donate_argnums=0, out_shardings=(state_shardings, replicated))
  needs = estimator_needs(spec.advantage.estimator)
  score_old = lambda *args: (*score_ref(*args), None)  # noqa: E731 - the same compiled pass
  if needs.sum_pi_squared:
    score_old = make_scoring_fn(graphdef, temperature=temperature, chunk_size=spec.train.chunk_size,
                                with_entropy=True, rows_per_chunk=rows, constrain=acts.constrain,
                                with_sum_pi_squared=True, prompt_group_size=group)
  greedy = None
  if needs.greedy_baseline:  # ReMax: one temperature-0 response per prompt, its own compiled sampler
    greedy = make_generate_fn(graphdef, dataclasses.replace(spec.rollout.sampling, num_samples=1, temperature=0.0,
                                                            top_p=1.0, top_k=0), mesh)
  values = critic_update = None
  if spec.critic is not None:
    if critic_graphdef is None or critic_tx is None:
      raise ValueError("spec.critic is set: build_programs needs critic_graphdef and critic_tx")
    values = make_value_fn(critic_graphdef, rows_per_chunk=rows, constrain=acts.constrain)
    critic_config = CriticUpdateConfig(cliprange_value=spec.critic.cliprange_value,
                                       loss_agg_mode=spec.critic.loss_agg_mode,
                                       micro_batches=spec.train.micro_batches, remat=spec.model.remat)
    critic_update = jax.jit(make_critic_update_step(critic_graphdef, critic_tx, critic_config,
                                                    constrain=acts.constrain),
                            donate_argnums=0, out_shardings=(state_shardings, replicated))
  update_kl_controller = None
  if spec.kl_in_reward is not None:
    update_kl_controller = jax.jit(spec.kl_in_reward.update, static_argnums=2, out_shardings=replicated)
  generate = make_generate_fn(graphdef, spec.rollout.sampling, mesh, calls=spec.rollout.sampler_calls)
  return Programs(generate=generate, score=score, update=update,
                  update_schedules=jax.jit(spec.objective.update_state), scoring_rows=rows, score_old=score_old,
                  score_ref=score_ref,
                  greedy=greedy, values=values, critic_update=critic_update,
                  update_kl_controller=update_kl_controller)


def abstract_train_state(spec: RunSpec, mesh: Mesh, tx: optax.GradientTransformation
                         ) -> tuple[nnx.GraphDef, TrainState]:
  """The graphdef and train state `rlvr_jax.train.train` builds for `spec` on `mesh`, with
  `jax.ShapeDtypeStruct` leaves carrying the trainer's shardings: nothing is read or allocated.

  The trainer loads float32 master weights in the training layout (`models.load_pretrained(mesh=...)`),
  builds the optimizer state from them (Adam's moments are `zeros_like` the parameters, so they keep
  their roles and shardings) and replicates every other leaf (counters, schedules, step, key); this
  gives the same layout from the parameters' roles. tests/scale/test_abstract_run.py checks it leaf by
  leaf against the state the trainer builds.
  """
  # jnp.dtype(...), not the scalar type: `load_pretrained` normalises param_dtype so, and the graphdef's
  # hash (the sampler's program cache key) tells the two apart.
  model = models.abstract_model(spec.model.architecture, spec.model.dtype, jnp.dtype(jnp.float32),
                                scan_layers=spec.model.scan_layers, attention=spec.model.attention,
                                platform=mesh.devices.flat[0].platform)
  graphdef, params = nnx.split(model, nnx.Param)
  state = jax.eval_shape(lambda p: create_train_state(nnx.merge(graphdef, p), tx, spec.objective.init_state(),
                                                      seed=spec.train.seed)[1], params)
  replicated = NamedSharding(mesh, P())

  def place(leaf):
    if isinstance(leaf, nnx.Variable):
      leaf_spec = sharding.variable_spec(leaf, "train")
      where = replicated if leaf_spec is None else sharding.named_sharding(mesh, leaf_spec, leaf.shape)
      return leaf.replace(jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=where))
    return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=replicated)

  return graphdef, jax.tree.map(place, state, is_leaf=lambda x: isinstance(x, nnx.Variable))
