"""The run's programs as the trainer builds them, with abstract arguments at the shapes of one RL step.

`run_targets(spec, mesh)` returns one `Target` per program of a training step: the sampler's prefill and
decode of one sampler call (rows = rollout.prompts_per_call x rollout.num_samples, prompts padded to
their largest bucket, data.max_prompt_length, and a response budget of rollout.max_new_tokens; a
generation batch is rollout.gen_prompts / prompts_per_call such calls), the
scoring pass over the rollout batch (and again with the reference weights when the objective has a KL
term), and the update step on one mini-batch. The programs come from `rlvr_jax.train._programs` and
`rlvr_jax.sampling.sampler_programs`, the functions the trainer calls; the arguments are the train state
of `abstract_train_state` and the trainer's batch layouts, as `jax.ShapeDtypeStruct`s.

Layouts the trainer gives its arguments (checked against a real trainer step in
tests/scale/test_abstract_run.py): rollout arrays are placed rows-over-(data, fsdp) (`act_bt`); a
mini-batch is gathered from them with a host index array, which XLA returns replicated; every key is
replicated.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from rlvr_jax import sharding
from rlvr_jax.config._spec import RunSpec
from rlvr_jax.models._precision import cast_params
from rlvr_jax.objectives._rollout_batch import RolloutBatch
from rlvr_jax.sampling._sampler import sampler_programs
from rlvr_jax.scale import _costs as costs
from rlvr_jax.train._optimizer import make_optimizer
from rlvr_jax.train._programs import abstract_train_state, build_programs, minibatch_rows

# What shrinks each program's memory, for the message of a check that does not fit: (config field, why).
Knob = tuple[str, str]
SAMPLER_KNOBS: tuple[Knob, ...] = (
    ("rollout.prompts_per_call", "prompts one sampler call decodes (a divisor of the generation batch): rows "
                                 "x rollout.num_samples set the KV cache; the batch takes more calls"),
    ("rollout.max_new_tokens", "cache slots per row"),
    ("rollout.slots", "continuous batching decodes this many rows at a time (the KV cache holds slots, not rows)"),
    ("mesh.tensor", "splits the KV heads over more devices when it divides them"),
    ("", "a larger slice: rows over more data-parallel devices"))
SCORE_KNOBS: tuple[Knob, ...] = (
    ("train.micro_batches", "the scoring pass runs one micro-batch of rows at a time"),
    ("model.attention", "splash holds no [B, N, T, S] scores"),
    ("mesh.tensor", "splits heads, MLP and vocabulary activations"))
UPDATE_KNOBS: tuple[Knob, ...] = (
    ("train.micro_batches", "activations of one micro-batch at a time"),
    ("model.remat", "True recomputes each block in the backward pass instead of keeping its activations"),
    ("model.scan_layers", "True with model.remat keeps one block's activations live"),
    ("model.attention", "splash holds no [B, N, T, S] scores"),
    ("mesh.tensor", "splits heads, MLP and vocabulary activations"))
STATE_KNOBS: tuple[Knob, ...] = (
    ("mesh.fsdp", "a larger slice, or fsdp over more of it: the float32 weights and Adam moments are split over "
                  "data-parallel x tensor devices"),)


@dataclasses.dataclass(frozen=True)
class Target:
  """One program of the step, ready to lower.

  Attributes:
    name: "prefill", "decode", "score", "score_reference" or "update".
    fn: the jitted function the trainer calls.
    args: its abstract arguments.
    calls_per_step: calls in one RL step (one generation batch; updates = mini-batches x ppo_epochs).
    cost: analytic FLOPs and HBM bytes of one call (`rlvr_jax.scale._costs`).
    resident_bytes: per device, what stays in HBM during the call without being one of its arguments
      (the optimizer state while the sampler runs, the reference weights, the rollout batch).
    knobs: config fields that shrink this program's memory.
  """

  name: str
  fn: Callable
  args: tuple
  calls_per_step: int
  cost: costs.Cost
  resident_bytes: int
  knobs: tuple[Knob, ...]


def device_bytes(tree: Any) -> int:
  """Bytes per device of a pytree of sharded abstract (or concrete) arrays: the largest shard's size."""
  total = 0
  for leaf in jax.tree.leaves(tree):
    shape = leaf.sharding.shard_shape(leaf.shape) if getattr(leaf, "sharding", None) is not None else leaf.shape
    if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):  # typed keys: their raw key data
      data = jax.eval_shape(jax.random.key_data, jax.ShapeDtypeStruct(shape, leaf.dtype))
      total += math.prod(data.shape) * data.dtype.itemsize
    else:
      total += math.prod(shape) * jnp.dtype(leaf.dtype).itemsize
  return total


def rollout_batch(spec: RunSpec, mesh: Mesh) -> RolloutBatch:
  """The rollout batch the update steps read (prompts_per_step x num_samples rows), placed as the trainer
  places it (`act_bt`); old log-probs / entropies as the scoring pass returns them."""
  rows = spec.rollout.prompts_per_step * spec.rollout.sampling.num_samples
  prompt, new = spec.data.max_prompt_length, spec.rollout.sampling.max_new_tokens
  acts = sharding.ActivationSharding(mesh, "train")
  placed = lambda width, dtype: jax.ShapeDtypeStruct((rows, width), dtype,  # noqa: E731
                                                     sharding=acts.sharding("act_bt", (rows, width)))
  per_token = placed(new, jnp.float32)
  needs = spec.objective.required_inputs()
  return RolloutBatch(prompt_ids=placed(prompt, jnp.int32), prompt_mask=placed(prompt, jnp.int32),
                      completion_ids=placed(new, jnp.int32), response_mask=per_token, advantages=per_token,
                      old_logp=per_token, old_entropy=per_token if "old_entropy" in needs else None,
                      ref_logp=per_token if spec.objective.config.kl is not None else None)


def minibatch(spec: RunSpec, mesh: Mesh) -> RolloutBatch:
  """One mini-batch as the trainer gathers it (`batch[rows]` with a host index array: replicated)."""
  rows = minibatch_rows(spec)
  replicated = NamedSharding(mesh, P())
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct((rows,) + x.shape[1:], x.dtype, sharding=replicated),
                      rollout_batch(spec, mesh))


def run_targets(spec: RunSpec, mesh: Mesh) -> list[Target]:
  """The programs of one RL step of `spec` on `mesh` (see the module docstring)."""
  tx = make_optimizer(spec.optim)
  graphdef, state = abstract_train_state(spec, mesh, tx)
  programs = build_programs(spec, graphdef, mesh, tx, jax.tree.map(lambda x: x.sharding, state))
  settings = spec.rollout.sampling
  prompt_len, new_tokens = spec.data.max_prompt_length, settings.max_new_tokens
  policy = nnx.merge(graphdef, state.params)
  # The call `rlvr_jax.sampling.make_generate_fn` makes for each generation batch.
  per_call, calls = spec.rollout.prompts_per_call, spec.rollout.sampler_calls
  sampler = sampler_programs(policy, per_call, prompt_len, max_new_tokens=new_tokens,
                             temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
                             stop_token_ids=settings.stop_token_ids, num_samples=settings.num_samples, mesh=mesh,
                             slots=settings.slots, decode_block=settings.decode_block)

  layout = costs.Layout(devices=mesh.size, data_parallel=mesh.shape["data"] * mesh.shape["fsdp"],
                        tensor=mesh.shape["tensor"])
  config = spec.model.architecture
  param_count = sum(x.size for x in jax.tree.leaves(state.params))
  itemsize = jnp.dtype(spec.model.dtype).itemsize
  fused = policy.attention.name != "xla"
  call_rows = per_call * settings.num_samples
  rows = spec.rollout.prompts_per_step * settings.num_samples
  kl = spec.objective.config.kl is not None

  state_bytes, param_bytes = device_bytes(state), device_bytes(state.params)
  reference = _reference_params(state.params, spec.model.dtype) if kl else None
  reference_bytes = device_bytes(reference) if kl else 0
  batch = rollout_batch(spec, mesh)
  score_args = (batch.prompt_ids, batch.prompt_mask, batch.completion_ids, batch.response_mask)
  replicated = NamedSharding(mesh, P())
  key = jax.ShapeDtypeStruct((), jax.eval_shape(lambda: jax.random.key(0)).dtype, sharding=replicated)
  chunks = max(rows // programs.scoring_rows, 1)
  sampler_resident = state_bytes - param_bytes + reference_bytes

  targets = [
      Target("prefill", sampler.prefill, sampler.prefill_args, calls,
             costs.prefill_cost(config, layout, prompts=per_call, prompt_len=prompt_len,
                                param_count=param_count, itemsize=itemsize, fused=fused),
             sampler_resident, SAMPLER_KNOBS),
      Target("decode", sampler.decode, sampler.decode_args, calls,
             costs.decode_cost(config, layout, rows=call_rows, prompt_len=prompt_len, new_tokens=new_tokens,
                               param_count=param_count, itemsize=itemsize),
             sampler_resident, SAMPLER_KNOBS),
  ]
  score_cost = costs.score_cost(config, layout, rows=rows, prompt_len=prompt_len, new_tokens=new_tokens,
                                chunks=chunks, param_count=param_count, itemsize=itemsize, fused=fused)
  targets.append(Target("score", programs.score, (state.params, *score_args), 1, score_cost,
                        sampler_resident, SCORE_KNOBS))
  if kl:  # the frozen reference copy in the compute dtype: its own compiled program
    targets.append(Target("score_reference", programs.score, (reference, *score_args), 1, score_cost,
                          state_bytes, SCORE_KNOBS))
  targets.append(Target(
      "update", programs.update, (state, minibatch(spec, mesh), key), spec.train.updates_per_step,
      costs.update_cost(config, layout, rows=minibatch_rows(spec), prompt_len=prompt_len, new_tokens=new_tokens,
                        micro_batches=spec.train.micro_batches, remat=spec.model.remat, param_count=param_count,
                        itemsize=itemsize, fused=fused),
      reference_bytes + device_bytes(batch), UPDATE_KNOBS))
  return targets


def _reference_params(params: Any, dtype) -> Any:
  """The trainer's frozen reference copy (`cast_params(state.params, model.dtype)`), abstract, in the
  parameters' own shardings (an eager cast keeps them)."""
  cast = jax.eval_shape(lambda p: cast_params(p, dtype), params)
  return jax.tree.map(lambda c, p: jax.ShapeDtypeStruct(c.shape, c.dtype, sharding=p.sharding), cast, params)
