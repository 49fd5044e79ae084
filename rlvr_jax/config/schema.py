"""Validation of a run config: every check that can fail on bad input runs here, in Python, before the
model is built or anything is compiled, and each error names the field and the value.

Besides the values themselves this reads what the config points at, cheaply: the HF model directory
(config.json and the safetensors headers, not the tensors), the data and benchmark files (that they
exist and can be read, not their rows), and the tokenizer (its stop tokens). A wrong path or a
truncated download therefore costs seconds, not a warm start or a weight load. Rows are checked by
the data pipeline (file:line) when it tokenizes them, which the loop does before loading weights.
A table of every error and its message is in docs/errors.md.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from rlvr_jax import sharding
from rlvr_jax.models.config import PRESETS, QwenConfig
from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives.advantages import ADVANTAGE_ESTIMATORS, compute_advantages
from rlvr_jax.objectives.presets import METHOD_PRESETS
from rlvr_jax.train.checkpointing import CheckpointConfig
from rlvr_jax.train.optimizer import OptimConfig

DTYPES = {"bfloat16": jnp.bfloat16, "float32": jnp.float32}
DATA_EXTENSIONS = (".jsonl", ".json", ".parquet")


class ConfigError(ValueError):
  """A config field with a bad value."""


def _require(condition: bool, message: str) -> None:
  if not condition:
    raise ConfigError(message)


def _is_int(value: Any, low: int) -> bool:
  return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_number(value: Any) -> bool:
  """A finite real number: NaN and inf pass every `>=` comparison they should fail."""
  return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


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


def validate(config: ml_collections.ConfigDict, num_devices: int | None = None, *,
             num_processes: int | None = None) -> RunSpec:
  """Raises ConfigError for any bad value or unusable path, so that a wrong input costs seconds here
  instead of failing after a warm start, a weight load or a compile.

  Args:
    config: a run config (`rlvr_jax.config.method_config`).
    num_devices: what the mesh must fill (default: every device of every process).
    num_processes: hosts that split each prompt batch (default: `jax.process_count()`).
  """
  c = config
  _require(c.method in METHOD_PRESETS,
           f"method={c.method!r} is not a known method; known: {', '.join(sorted(METHOD_PRESETS))} (the config "
           f"file sets it; name a run with train.run_dir)")
  model = _check_model(c)
  stop_tokens = _check_rollout(c)
  _check_data(c)
  _check_train(c)
  _check_advantage(c)
  _check_reward(c)
  try:
    objective = build_objective(objective_mapping(c.objective))
  except ValueError as e:
    raise ConfigError(f"objective: {e}") from None
  optim = _check_optim(c)
  try:
    checkpoint = CheckpointConfig(**c.checkpoint.to_dict())
    mesh = sharding.MeshConfig(**c.mesh.to_dict())
    mesh_shape = mesh.resolve(num_devices or jax.device_count())
  except (TypeError, ValueError) as e:
    raise ConfigError(str(e)) from None
  _check_batch_split(c, mesh_shape, num_processes or jax.process_count())
  _check_eval(c)
  _check_diagnostics(c)
  _check_warm_start(c)
  _check_context(c, model)
  from rlvr_jax.train.text_codec import check_tokenizer  # text_codec imports ConfigError from here

  check_tokenizer(c, stop_tokens, model.vocab_size)
  run_dir = c.train.run_dir or os.path.join("runs", c.method)
  _require(not os.path.exists(run_dir) or os.path.isdir(run_dir),
           f"train.run_dir={run_dir!r} exists and is not a directory")
  return RunSpec(config=c, objective=objective, optim=optim, checkpoint=checkpoint, mesh=mesh,
                 dtype=DTYPES[c.model.dtype], run_dir=run_dir, stop_tokens=stop_tokens)


def _check_model(c: ml_collections.ConfigDict) -> QwenConfig:
  """The policy's architecture: the embedded preset, or model.path's config.json after checking the
  directory holds readable weights."""
  _require(c.model.dtype in DTYPES, f"model.dtype={c.model.dtype!r}; known: {', '.join(DTYPES)}")
  _require(not c.model.tokenizer or os.path.isdir(c.model.tokenizer),
           f"model.tokenizer={c.model.tokenizer!r} does not exist or is not a directory")
  if not c.model.path:
    _require(c.model.preset in PRESETS,
             f"model.preset={c.model.preset!r} is not a known preset; known: {', '.join(sorted(PRESETS))}")
    _require(c.model.preset == "tiny",
             f"model.preset={c.model.preset!r} needs --config.model.path (an HF directory); weights are never "
             f"downloaded, and only the 'tiny' embedded default is built locally")
    return PRESETS[c.model.preset]
  return check_hf_directory(c.model.path)


def check_hf_directory(path: str, field: str = "model.path") -> QwenConfig:
  """Checks an HF directory without reading tensors: config.json parses into a supported Qwen config,
  and every safetensors file the directory names exists with an intact header (safetensors checks the
  header against the file size, so a truncated download fails here)."""
  from safetensors import safe_open

  from rlvr_jax.models import hf_weights

  _require(os.path.isdir(path), f"{field}={path!r} does not exist or is not a directory")
  config_file = os.path.join(path, "config.json")
  _require(os.path.isfile(config_file),
           f"{field}={path!r} has no config.json; it must be an HF model directory (config.json + *.safetensors)")
  try:
    with open(config_file, encoding="utf-8") as f:
      model = QwenConfig.from_hf_dict(json.load(f))
  except (ValueError, TypeError, KeyError) as e:  # JSONDecodeError is a ValueError
    raise ConfigError(f"{field}={path!r}: config.json: {type(e).__name__}: {e}") from None
  try:
    files = sorted(set(hf_weights.checkpoint_files(path).values()))
  except FileNotFoundError as e:
    raise ConfigError(f"{field}={path!r}: {e}") from None
  except Exception as e:  # noqa: BLE001 - safetensors and json raise their own types for damaged files
    raise ConfigError(f"{field}={path!r}: cannot read the weight files ({type(e).__name__}: {e}); "
                      f"{hf_weights.SINGLE_FILE} or a shard is damaged or truncated") from None
  for file in files:
    try:
      with safe_open(file, framework="np"):
        pass
    except Exception as e:  # noqa: BLE001 - SafetensorError has no stable import path
      raise ConfigError(f"{field}={path!r}: weight file {os.path.basename(file)!r} is damaged or truncated "
                        f"({e})") from None
  return model


def _check_rollout(c: ml_collections.ConfigDict) -> tuple[str, ...]:
  r = c.rollout
  for name in ("prompts_per_step", "num_samples", "max_new_tokens"):
    _require(_is_int(r[name], 1), f"rollout.{name}={r[name]!r} must be an int >= 1")
  _require(_is_number(r.temperature) and r.temperature >= 0,
           f"rollout.temperature={r.temperature!r} must be a finite number >= 0 (0 = greedy)")
  _require(0 < r.top_p <= 1, f"rollout.top_p={r.top_p!r} must be in (0, 1]")
  _require(r.top_k >= 0, f"rollout.top_k={r.top_k!r} must be >= 0 (0 = off)")
  stop_tokens = tuple(t for t in r.stop_tokens.split(",") if t)
  _require(bool(stop_tokens), "rollout.stop_tokens is empty; name at least the EOS token")
  return stop_tokens


def check_data_files(field: str, value: str, paths: list[str] | None = None) -> None:
  """Every path is a readable JSONL / Parquet file; `paths` defaults to `value` split at commas exactly as
  the loop splits it (no stripping: 'a.jsonl, b.jsonl' names ' b.jsonl', and the error shows that)."""
  for path in paths if paths is not None else [p for p in value.split(",") if p]:
    _require(os.path.isfile(path), f"{field}={value!r}: {path!r} does not exist or is not a file")
    _require(path.endswith(DATA_EXTENSIONS),
             f"{field}={value!r}: {path!r} has an unsupported extension; use {', '.join(DATA_EXTENSIONS)}")
    _require(not path.endswith(".parquet") or importlib.util.find_spec("pyarrow") is not None,
             f"{field}={value!r}: reading {path!r} needs pyarrow, which is not installed")


def _check_data(c: ml_collections.ConfigDict) -> None:
  _require(c.data.builtin_task in ("arithmetic", "code"),
           f"data.builtin_task={c.data.builtin_task!r}; known: arithmetic, code")
  from rlvr_jax.data.templates import TEMPLATES

  d = c.data
  check_data_files("data.train_files", d.train_files)
  check_data_files("data.eval_files", d.eval_files)
  for name in ("question_field", "answer_field"):
    _require(isinstance(d[name], str) and bool(d[name].strip()), f"data.{name}={d[name]!r} must name a field")
  _require(d.template in TEMPLATES, f"data.template={d.template!r}; known: {', '.join(TEMPLATES.names())}")
  for name in ("max_prompt_length", "epochs"):
    _require(_is_int(d[name], 1), f"data.{name}={d[name]!r} must be an int >= 1")


def _check_train(c: ml_collections.ConfigDict) -> None:
  t = c.train
  for name in ("steps", "mini_batches", "micro_batches", "ppo_epochs", "max_gen_batches", "chunk_size"):
    _require(_is_int(t[name], 1), f"train.{name}={t[name]!r} must be an int >= 1")
  _require(_is_int(t.overlong_buffer, 0) and t.overlong_buffer < c.rollout.max_new_tokens,
           f"train.overlong_buffer={t.overlong_buffer} must be in [0, rollout.max_new_tokens="
           f"{c.rollout.max_new_tokens})")
  _require(_is_number(t.overlong_penalty) and t.overlong_penalty >= 0,
           f"train.overlong_penalty={t.overlong_penalty!r} must be a finite number >= 0")
  _require(_is_number(t.tis_cap) and t.tis_cap >= 0, f"train.tis_cap={t.tis_cap!r} must be >= 0 (0 = off)")


def _check_advantage(c: ml_collections.ConfigDict) -> None:
  """Estimator name, group size, and hyperparameters; the hyperparameters are checked by tracing the
  estimator on an abstract two-group batch (`jax.eval_shape`: no compile, no computation), which runs
  the estimator's own name and range checks instead of a second copy of them here."""
  name = c.advantage.estimator
  _require(name in ADVANTAGE_ESTIMATORS,
           f"unknown advantage estimator advantage.estimator={name!r}; known: "
           f"{', '.join(ADVANTAGE_ESTIMATORS.names())}")
  if c.rollout.num_samples < 2 and name in ("grpo", "dr_grpo", "rloo", "qae"):
    raise ConfigError(f"advantage.estimator={name!r} is group-relative and needs rollout.num_samples >= 2, "
                      f"got {c.rollout.num_samples}")
  hparams = c.advantage.hparams.to_dict()
  rows = 2 * c.rollout.num_samples
  try:
    jax.eval_shape(lambda r, m, g, ok: compute_advantages(name, r, m, g, correct=ok, **hparams),
                   jax.ShapeDtypeStruct((rows,), jnp.float32), jax.ShapeDtypeStruct((rows, 4), jnp.bool_),
                   jax.ShapeDtypeStruct((rows,), jnp.int32), jax.ShapeDtypeStruct((rows,), jnp.bool_))
  except (ValueError, TypeError) as e:
    raise ConfigError(f"advantage.hparams={hparams!r}: {e}") from None


def _check_reward(c: ml_collections.ConfigDict) -> None:
  from rlvr_jax.rewards import REWARDS, RewardConfig  # imported here: the registry pulls in math-verify

  _require(c.reward.name in REWARDS, f"unknown reward reward.name={c.reward.name!r}; known: "
                                     f"{', '.join(REWARDS.names())}")
  try:
    RewardConfig(correct=c.reward.correct, incorrect=c.reward.incorrect, format_weight=c.reward.format_weight,
                 timeout_s=c.reward.timeout_s, workers=c.reward.workers)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  _require(c.reward.correct > c.reward.incorrect,
           f"reward.correct={c.reward.correct!r} must be greater than reward.incorrect={c.reward.incorrect!r}")
  s = c.reward.sandbox
  _require(_is_int(s.memory_mb, 16), f"reward.sandbox.memory_mb={s.memory_mb!r} must be an int >= 16")
  for name in ("isolate_network", "drop_privileges"):
    _require(s[name] in ("auto", "require", "off"),
             f"reward.sandbox.{name}={s[name]!r}; known: auto, require, off")


def _check_optim(c: ml_collections.ConfigDict) -> OptimConfig:
  o, t = c.optim, c.train
  _require(_is_number(o.lr), f"optim.lr={o.lr!r} must be a finite number > 0")
  for name in ("b1", "b2"):
    _require(_is_number(o[name]) and 0 <= o[name] < 1, f"optim.{name}={o[name]!r} must be in [0, 1)")
  _require(_is_number(o.eps) and o.eps > 0, f"optim.eps={o.eps!r} must be > 0")
  _require(_is_number(o.min_lr_ratio) and 0 <= o.min_lr_ratio <= 1,
           f"optim.min_lr_ratio={o.min_lr_ratio!r} must be in [0, 1]")
  try:
    return OptimConfig(total_steps=t.steps * t.mini_batches * t.ppo_epochs, **o.to_dict())
  except (TypeError, ValueError) as e:
    raise ConfigError(str(e)) from None


def _check_batch_split(c: ml_collections.ConfigDict, mesh_shape: tuple[int, int, int], num_processes: int) -> None:
  """Mini-batches hold whole groups, micro-batches split evenly over the data-parallel devices, and each
  host loads an equal share of the prompts."""
  r, t = c.rollout, c.train
  _require(r.prompts_per_step % t.mini_batches == 0,
           f"rollout.prompts_per_step={r.prompts_per_step} is not divisible by train.mini_batches="
           f"{t.mini_batches} (mini-batches hold whole groups of rollout.num_samples={r.num_samples})")
  minibatch_rows = r.prompts_per_step * r.num_samples // t.mini_batches
  _require(minibatch_rows % t.micro_batches == 0,
           f"mini-batch of {minibatch_rows} responses (rollout.prompts_per_step={r.prompts_per_step} x "
           f"rollout.num_samples={r.num_samples} / train.mini_batches={t.mini_batches}) is not divisible by "
           f"train.micro_batches={t.micro_batches}")
  micro_rows = minibatch_rows // t.micro_batches
  data_parallel = mesh_shape[0] * mesh_shape[1]
  _require(micro_rows % data_parallel == 0,
           f"micro-batch of {micro_rows} responses does not split over mesh.data x mesh.fsdp = "
           f"{mesh_shape[0]} x {mesh_shape[1]} = {data_parallel} data-parallel devices (mesh "
           f"{dict(zip(sharding.MESH_AXES, mesh_shape))}); change the mesh, train.micro_batches or the batch")
  _require(r.prompts_per_step % num_processes == 0,
           f"rollout.prompts_per_step={r.prompts_per_step} is not divisible by the {num_processes} processes "
           f"(each host loads an equal share of the prompts)")


def _check_eval(c: ml_collections.ConfigDict) -> None:
  e = c.eval
  _require(_is_int(e.every, 0), f"eval.every={e.every!r} must be an int >= 0 (0 = off)")
  for name in ("num_prompts", "num_samples", "max_new_tokens"):
    _require(_is_int(e[name], 1), f"eval.{name}={e[name]!r} must be an int >= 1")
  _require(_is_number(e.temperature) and e.temperature >= 0,
           f"eval.temperature={e.temperature!r} must be a finite number >= 0 (0 = greedy)")
  _require(0 < e.top_p <= 1, f"eval.top_p={e.top_p!r} must be in (0, 1]")
  from rlvr_jax.eval.benchmarks import parse_benchmark_specs

  try:
    specs = parse_benchmark_specs(e.benchmarks, field="eval.benchmarks")
  except ValueError as error:
    raise ConfigError(str(error)) from None
  check_data_files("eval.benchmarks", e.benchmarks, [spec.path for spec in specs if spec.path is not None])


def _check_diagnostics(c: ml_collections.ConfigDict) -> None:
  d = c.diagnostics
  _require(_is_int(d.every, 0), f"diagnostics.every={d.every!r} must be an int >= 0 (0 = off)")
  _require(_is_number(d.prob_threshold) and 0 <= d.prob_threshold < 1,
           f"diagnostics.prob_threshold={d.prob_threshold!r} must be in [0, 1) (0 = STEER's pi > exp(-H))")
  _require(_is_int(d.ece_bins, 1), f"diagnostics.ece_bins={d.ece_bins!r} must be an int >= 1")
  _require(_is_number(d.top_p) and 0 < d.top_p <= 1, f"diagnostics.top_p={d.top_p!r} must be in (0, 1]")
  _require(_is_int(d.top_k, 1), f"diagnostics.top_k={d.top_k!r} must be an int >= 1")
  _require(_is_number(d.mask_ratio) and 0 < d.mask_ratio <= 1,
           f"diagnostics.mask_ratio={d.mask_ratio!r} must be in (0, 1]")


def _check_warm_start(c: ml_collections.ConfigDict) -> None:
  w = c.warm_start
  _require(_is_int(w.steps, 0), f"warm_start.steps={w.steps!r} must be an int >= 0")
  _require(_is_number(w.lr) and w.lr > 0, f"warm_start.lr={w.lr!r} must be a finite number > 0")
  _require(_is_int(w.batch_size, 1), f"warm_start.batch_size={w.batch_size!r} must be an int >= 1")


def _check_context(c: ml_collections.ConfigDict, model: QwenConfig) -> None:
  """Prompt plus response must fit the model's context: the sampler ends a row at the context limit, so
  an over-long budget would silently truncate every long response instead of failing."""
  source = f"config.json in model.path={c.model.path!r}" if c.model.path else f"preset {c.model.preset!r}"
  budgets = [("rollout.max_new_tokens", c.rollout.max_new_tokens)]
  if c.eval.every:
    budgets.append(("eval.max_new_tokens", c.eval.max_new_tokens))
  for name, new_tokens in budgets:
    total = c.data.max_prompt_length + new_tokens
    _require(total <= model.max_position_embeddings,
             f"data.max_prompt_length={c.data.max_prompt_length} + {name}={new_tokens} = {total} exceeds the "
             f"model's max_position_embeddings={model.max_position_embeddings} ({source})")


def check_command_line(argv: list[str], flag: str = "config") -> None:
  """Checks `--config=FILE[:VARIANT]` and every `--config.a.b=...` override path against the config the
  file builds, before absl parses them: ml_collections reports an unknown override as a bare
  AttributeError traceback that names neither the full path nor the fields that do exist."""
  value = next((argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == f"--{flag}"), None)
  value = next((arg.split("=", 1)[1] for arg in argv if arg.startswith(f"--{flag}=")), value)
  if value is None:
    return  # absl reports the missing required flag itself
  path, _, variant = value.partition(":")
  _require(os.path.isfile(path), f"--{flag}={value!r}: config file {path!r} does not exist")
  spec = importlib.util.spec_from_file_location(os.path.basename(path).removesuffix(".py"), path)
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
    config = module.get_config(variant) if variant else module.get_config()
  except (ValueError, KeyError, TypeError, AttributeError) as e:
    raise ConfigError(f"--{flag}={value!r}: {e}") from None
  for arg in argv:
    if not arg.startswith(f"--{flag}."):
      continue
    field = arg[len(f"--{flag}."):].split("=", 1)[0]
    node, where = config, ""
    for part in field.split("."):
      if not isinstance(node, ml_collections.ConfigDict) or part not in node:
        known = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
        raise ConfigError(f"--{flag}.{field}: {where.rstrip('.') or 'the config'} has no field {part!r}"
                          + (f"; fields: {', '.join(known)}" if known else f" ({where.rstrip('.')} is a value)"))
      node, where = node[part], f"{where}{part}."
