"""The compiled programs of a run, built once from its `RunSpec`: the sampler (prefill + decode), the
scoring pass (old / reference log-probs and entropies), the update step and the transform schedules.

The trainer and `launch/compile_check.py` both build them here, so what the compile check measures is
what the trainer runs. Parameters and state are jit arguments (new weights never recompile); the update
step donates the train state and pins its output layout to the state's, so an update never moves it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from rlvr_jax import sharding
from rlvr_jax.config.spec import RunSpec
from rlvr_jax.sampling.settings import make_generate_fn
from rlvr_jax.train.scoring import make_scoring_fn
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
