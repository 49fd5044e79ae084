"""Validation of a run config: every check that can fail on bad input runs here, in Python, before the
model is built or anything is compiled, and each error names the field and the value.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from rlvr_jax import sharding
from rlvr_jax.models.config import PRESETS
from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives.advantages import ADVANTAGE_ESTIMATORS
from rlvr_jax.train.checkpointing import CheckpointConfig
from rlvr_jax.train.optimizer import OptimConfig

DTYPES = {"bfloat16": jnp.bfloat16, "float32": jnp.float32}


class ConfigError(ValueError):
  """A config field with a bad value."""


def _require(condition: bool, message: str) -> None:
  if not condition:
    raise ConfigError(message)


@dataclasses.dataclass(frozen=True)
class RunSpec:
  """The validated, typed view of a run config that the trainer reads."""

  config: ml_collections.ConfigDict
  objective: Any
  optim: OptimConfig
  checkpoint: CheckpointConfig
  mesh: sharding.MeshConfig
  dtype: Any
  run_dir: str
  stop_tokens: tuple[str, ...]

  @property
  def embedded_default(self) -> bool:
    return not self.config.model.path


def objective_mapping(section: ml_collections.ConfigDict) -> dict:
  """The objective section as `build_objective` takes it (a KL coefficient of 0 means no KL term)."""
  objective = section.to_dict()
  if not objective["kl"]["coef"]:
    objective["kl"] = None
  return objective


def validate(config: ml_collections.ConfigDict, num_devices: int | None = None) -> RunSpec:
  """Checks every field; `num_devices` is what the mesh must fill (default: all devices)."""
  c = config
  _require(not c.model.path or os.path.isdir(c.model.path),
           f"model.path={c.model.path!r} does not exist or is not a directory")
  _require(bool(c.model.path) or c.model.preset in PRESETS,
           f"model.preset={c.model.preset!r} is not a known preset; known: {', '.join(sorted(PRESETS))}")
  _require(bool(c.model.path) or c.model.preset == "tiny",
           f"model.preset={c.model.preset!r} needs --config.model.path (an HF directory); weights are never "
           f"downloaded, and only the 'tiny' embedded default is built locally")
  _require(c.model.dtype in DTYPES, f"model.dtype={c.model.dtype!r}; known: {', '.join(DTYPES)}")

  r = c.rollout
  for name in ("prompts_per_step", "num_samples", "max_new_tokens"):
    _require(isinstance(r[name], int) and r[name] >= 1, f"rollout.{name}={r[name]!r} must be an int >= 1")
  _require(r.temperature >= 0, f"rollout.temperature={r.temperature!r} must be >= 0")
  _require(0 < r.top_p <= 1, f"rollout.top_p={r.top_p!r} must be in (0, 1]")
  _require(r.top_k >= 0, f"rollout.top_k={r.top_k!r} must be >= 0 (0 = off)")
  stop_tokens = tuple(t for t in r.stop_tokens.split(",") if t)
  _require(bool(stop_tokens), "rollout.stop_tokens is empty; name at least the EOS token")

  t = c.train
  for name in ("steps", "mini_batches", "micro_batches", "ppo_epochs", "max_gen_batches", "chunk_size"):
    _require(isinstance(t[name], int) and t[name] >= 1, f"train.{name}={t[name]!r} must be an int >= 1")
  rows = r.prompts_per_step * r.num_samples
  _require(r.prompts_per_step % t.mini_batches == 0,
           f"rollout.prompts_per_step={r.prompts_per_step} is not divisible by train.mini_batches="
           f"{t.mini_batches} (mini-batches hold whole groups)")
  minibatch_rows = rows // t.mini_batches
  _require(minibatch_rows % t.micro_batches == 0,
           f"mini-batch of {minibatch_rows} responses is not divisible by train.micro_batches={t.micro_batches}")
  _require(0 <= t.overlong_buffer < r.max_new_tokens,
           f"train.overlong_buffer={t.overlong_buffer} must be in [0, rollout.max_new_tokens={r.max_new_tokens})")
  _require(t.tis_cap >= 0, f"train.tis_cap={t.tis_cap!r} must be >= 0 (0 = off)")

  ADVANTAGE_ESTIMATORS.get(c.advantage.estimator, field="advantage.estimator")
  if r.num_samples < 2 and c.advantage.estimator in ("grpo", "dr_grpo", "rloo", "qae"):
    raise ConfigError(f"advantage.estimator={c.advantage.estimator!r} is group-relative and needs "
                      f"rollout.num_samples >= 2, got {r.num_samples}")

  from rlvr_jax.rewards import REWARDS  # imported here: the reward registry pulls in math-verify

  REWARDS.get(c.reward.name, field="reward.name")

  try:
    objective = build_objective(objective_mapping(c.objective))
  except ValueError as e:
    raise ConfigError(f"objective: {e}") from None
  try:
    optim = OptimConfig(total_steps=t.steps * t.mini_batches * t.ppo_epochs, **c.optim.to_dict())
    checkpoint = CheckpointConfig(**c.checkpoint.to_dict())
    mesh = sharding.MeshConfig(**c.mesh.to_dict())
    mesh_shape = mesh.resolve(num_devices or jax.device_count())
  except (TypeError, ValueError) as e:
    raise ConfigError(str(e)) from None
  data_parallel = mesh_shape[0] * mesh_shape[1]
  _require(minibatch_rows // t.micro_batches % data_parallel == 0,
           f"micro-batch of {minibatch_rows // t.micro_batches} responses does not split over "
           f"{data_parallel} data-parallel devices (mesh.data x mesh.fsdp)")
  _require(c.eval.every >= 0 and c.eval.num_prompts >= 1 and c.eval.num_samples >= 1,
           f"eval.every={c.eval.every}, eval.num_prompts={c.eval.num_prompts}, "
           f"eval.num_samples={c.eval.num_samples}: need every >= 0 and counts >= 1")
  run_dir = c.train.run_dir or os.path.join("runs", c.method)
  return RunSpec(config=c, objective=objective, optim=optim, checkpoint=checkpoint, mesh=mesh,
                 dtype=DTYPES[c.model.dtype], run_dir=run_dir, stop_tokens=stop_tokens)
