"""The compiled programs of a run, built once from its `RunSpec`: the sampler (prefill + decode), the
scoring pass (old / reference log-probs and entropies), the update step and the transform schedules.

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
from rlvr_jax.config.spec import RunSpec
from rlvr_jax.sampling.settings import make_generate_fn
from rlvr_jax.train.scoring import make_scoring_fn
from rlvr_jax.train.state import TrainState, create_train_state
from rlvr_jax.train.update import UpdateConfig, make_update_step


@dataclasses.dataclass(frozen=True)
class Programs:
  """Attributes:
    generate: (params, prompt_ids, prompt_mask, prompt_row_ids, key) -> SamplerOutput.
    score: (params, prompt_ids, prompt_mask, completion_ids, completion_mask) -> (logp, entropy) [R, N].
    update: (state [donated], minibatch, key) -> (state, metrics).
    update_schedules: (objective_state, step metrics, progress) -> objective_state.
    scoring_rows: rows per chunk of the scoring pass (one micro-batch, at least one per device).
  """

  generate: Callable
  score: Callable
  update: Callable
  update_schedules: Callable
  scoring_rows: int


def minibatch_rows(spec: RunSpec) -> int:
  return spec.rollout.prompts_per_step * spec.rollout.sampling.num_samples // spec.train.mini_batches


def scoring_rows(spec: RunSpec, mesh: Mesh) -> int:
  """Rows per scoring chunk: one micro-batch, and at least one row per data-parallel device."""
  return max(minibatch_rows(spec) // spec.train.micro_batches, mesh.shape["data"] * mesh.shape["fsdp"])


def build_programs(spec: RunSpec, graphdef: nnx.GraphDef, mesh: Mesh, tx: optax.GradientTransformation,
                   state_shardings: Any) -> Programs:
  """The run's programs; `state_shardings` is the train state's layout (a pytree of shardings)."""
  acts = sharding.ActivationSharding(mesh, "train")
  temperature = spec.rollout.sampling.logprob_temperature
  rows = scoring_rows(spec, mesh)
  score = make_scoring_fn(graphdef, temperature=temperature, chunk_size=spec.train.chunk_size, with_entropy=True,
                          rows_per_chunk=rows, constrain=acts.constrain)
  update_config = UpdateConfig(micro_batches=spec.train.micro_batches, temperature=temperature,
                               chunk_size=spec.train.chunk_size, remat=spec.model.remat)
  replicated = NamedSharding(mesh, P())
  update = jax.jit(make_update_step(graphdef, spec.objective, tx, update_config, constrain=acts.constrain),
                   donate_argnums=0, out_shardings=(state_shardings, replicated))
  return Programs(generate=make_generate_fn(graphdef, spec.rollout.sampling, mesh), score=score, update=update,
                  update_schedules=jax.jit(spec.objective.update_state), scoring_rows=rows)


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
