"""Validation of a run config: every check that can fail on bad input runs here, in Python, before the
model is built or anything is compiled; each error names the field and the value. The result is a
`RunSpec` of typed, frozen sections, and nothing outside `rlvr_jax/config/` reads the ConfigDict again.

Besides the values this reads, once, what the config points at: the HF model directory's config.json
and safetensors headers (`_paths.py`), the data and benchmark files' existence, and the tokenizer (its
stop tokens, vocabulary size, chat template). A table of every error and its message is docs/errors.md.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections

from rlvr_jax import sharding
from rlvr_jax.config._paths import (check_data_files, check_hf_directory, check_run_dir, check_sandbox_python,
                                    require)
from rlvr_jax.config._sections import (GEN_CAP_MODES, SCHEDULE_UNITS, AdvantageSpec, CheckpointConfig, CriticSpec,
                                      DataSpec, EvalSpec, LogSpec, ModelSpec, OptimConfig, RewardSpec, RolloutSpec,
                                      TrainSpec)
from rlvr_jax.config._spec import RunSpec
from rlvr_jax.data._templates import TEMPLATES
from rlvr_jax.data._text_codec import TextCodec
from rlvr_jax.diagnostics import DiagnosticsConfig
from rlvr_jax.embedded import BUILTIN_TASKS, EmbeddedPolicy, builtin_tokenizer
from rlvr_jax.errors import ConfigError
from rlvr_jax.eval._benchmarks import parse_benchmark_specs
from rlvr_jax.models._attention import resolve_attention
from rlvr_jax.models._ragged_decode import LANES, ragged_decode_applies
from rlvr_jax.models._config import PRESETS, QwenConfig
from rlvr_jax.models._precision import DTYPES
from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives.advantages import ADVANTAGE_ESTIMATORS, compute_advantages
from rlvr_jax.objectives._aggregation import AGGREGATION_MODES
from rlvr_jax.objectives._kl_reward import KLInRewardConfig
from rlvr_jax.objectives._presets import METHOD_PRESETS
from rlvr_jax.rewards import REWARDS, RewardConfig
from rlvr_jax.rewards.code import SandboxConfig
from rlvr_jax.sampling._settings import SamplingSettings

def _is_int(value: Any, low: int) -> bool:
  return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_number(value: Any) -> bool:
  """A finite real number: NaN and inf pass every `>=` comparison they should fail."""
  return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def objective_mapping(section: ml_collections.ConfigDict) -> dict:
  """The objective section as `build_objective` takes it (a KL coefficient of 0 means no KL term)."""
  objective = section.to_dict()
  if not objective["kl"]["coef"]:
    objective["kl"] = None
  return objective


def validate(config: ml_collections.ConfigDict, num_devices: int | None = None, *,
             num_processes: int | None = None, platform: str | None = None, weights: bool = True) -> RunSpec:
  """Raises ConfigError for any bad value or unusable path, so that a wrong input costs seconds here
  instead of failing after a warm start, a weight load or a compile.

  Args:
    config: a run config (`rlvr_jax.config.method_config`, a `configs/*.py` file, plus overrides).
    num_devices: what the mesh must fill (default: every device of every process).
    num_processes: hosts that split each prompt batch (default: `jax.process_count()`).
    platform: where the run will compile ("cpu", "gpu", "tpu"; default: this process's backend), for the
      kernels model.attention can use.
    weights: check model.path's weight files (False: its config.json only; for a compile check, which
      needs the architecture and never the weights).
  """
  c = config
  require(c.method in METHOD_PRESETS,
          f"method={c.method!r} is not a known method; known: {', '.join(sorted(METHOD_PRESETS))} (the config "
          f"file sets it; name a run with train.run_dir)")
  require(isinstance(c.name, str) and bool(c.name.strip()) and "/" not in c.name,
          f"name={c.name!r} must be a non-empty run name without '/'")
  model = _model(c, platform or jax.default_backend(), weights)
  rollout_values = _check_rollout(c)
  _check_decode_kernel(c, platform or jax.default_backend())
  data = _data(c)
  train = _train(c)
  advantage = _advantage(c)
  reward = _reward(c)
  try:
    objective = build_objective(objective_mapping(c.objective))
  except ValueError as e:
    raise ConfigError(f"objective: {e}") from None
  optim = _optim(c, train)
  critic = _critic(c, train, model, optim)
  kl_in_reward = _kl_in_reward(c)
  try:
    checkpoint = CheckpointConfig(**c.checkpoint.to_dict())
    mesh = sharding.MeshConfig(**c.mesh.to_dict())
    mesh_shape = mesh.resolve(num_devices or jax.device_count())
  except (TypeError, ValueError) as e:
    raise ConfigError(str(e)) from None
  _check_batch_split(c, mesh_shape, num_processes or jax.process_count())
  evaluation = _eval(c)
  run_dir = c.train.run_dir or os.path.join("runs", c.name)
  check_run_dir(run_dir)
  diagnostics = _diagnostics(c, run_dir)
  warm_start = _warm_start(c)
  _check_context(c, model.architecture)
  codec = _codec(c, rollout_values["stop_tokens"], model.architecture.vocab_size)
  prompts_per_call = c.rollout.prompts_per_call or c.rollout.gen_prompts or c.rollout.prompts_per_step
  sampling = SamplingSettings(num_samples=c.rollout.num_samples, max_new_tokens=c.rollout.max_new_tokens,
                              temperature=c.rollout.temperature, top_p=c.rollout.top_p, top_k=c.rollout.top_k,
                              stop_token_ids=codec.stop_token_ids,
                              slots=_decode_slots(c.rollout, prompts_per_call * c.rollout.num_samples),
                              decode_block=c.rollout.decode_block)
  rollout = RolloutSpec(prompts_per_step=c.rollout.prompts_per_step,
                        gen_prompts=c.rollout.gen_prompts or c.rollout.prompts_per_step,
                        prompts_per_call=prompts_per_call, sampling=sampling,
                        stop_tokens=rollout_values["stop_tokens"])
  return RunSpec(name=c.name, method=c.method, run_dir=run_dir, model=model, codec=codec, data=data,
                 rollout=rollout, reward=reward, advantage=advantage, objective=objective, train=train, optim=optim,
                 checkpoint=checkpoint, mesh=mesh, eval=evaluation, diagnostics=diagnostics, warm_start=warm_start,
                 log=LogSpec(tensorboard=bool(c.log.tensorboard)), resolved=c.to_dict(), critic=critic,
                 kl_in_reward=kl_in_reward)


def _model(c: ml_collections.ConfigDict, platform: str, weights: bool) -> ModelSpec:
  """The policy's architecture: the embedded preset, or model.path's config.json after checking the
  directory holds readable weights."""
  require(c.model.dtype in DTYPES, f"model.dtype={c.model.dtype!r}; known: {', '.join(DTYPES)}")
  require(not c.model.tokenizer or os.path.isdir(c.model.tokenizer),
          f"model.tokenizer={c.model.tokenizer!r} does not exist or is not a directory")
  if c.model.path:
    architecture = check_hf_directory(c.model.path, weights=weights)
  else:
    require(c.model.preset in PRESETS,
            f"model.preset={c.model.preset!r} is not a known preset; known: {', '.join(sorted(PRESETS))}")
    require(c.model.preset == "tiny",
            f"model.preset={c.model.preset!r} needs --config.model.path (an HF directory); weights are never "
            f"downloaded, and only the 'tiny' embedded default is built locally")
    architecture = PRESETS[c.model.preset]
  try:
    resolve_attention(c.model.attention, platform=platform, dtype=DTYPES[c.model.dtype])
  except ValueError as e:
    raise ConfigError(str(e)) from None
  return ModelSpec(architecture=architecture, path=c.model.path, preset=c.model.preset,
                   dtype=DTYPES[c.model.dtype], remat=bool(c.model.remat), scan_layers=bool(c.model.scan_layers),
                   attention=c.model.attention)


def _codec(c: ml_collections.ConfigDict, stop_tokens: tuple[str, ...], vocab_size: int) -> TextCodec:
  """The run's tokenizer, loaded once: model.tokenizer, else model.path's, else the built-in one (which
  the embedded policy is warm-started with and saved beside). Its stop tokens, vocabulary size and chat
  template are checked here, so a wrong tokenizer costs a second instead of a warm start."""
  if c.model.tokenizer or c.model.path:
    field, directory = ("model.tokenizer", c.model.tokenizer) if c.model.tokenizer else ("model.path", c.model.path)
    codec, where = TextCodec.load(directory, stop_tokens, field=field, vocab_size=vocab_size), f"in {directory!r} ({field})"
  else:
    where = "built in for the embedded default"
    codec = TextCodec.create(builtin_tokenizer(), stop_tokens, where=where, vocab_size=vocab_size)
  if c.data.template == "chat_template" and getattr(codec.tokenizer, "chat_template", None) is None:
    raise ConfigError(f"data.template='chat_template' but the tokenizer {where} has no chat template; "
                      f"use 'qwen_math' or 'raw'")
  return codec


def _check_rollout(c: ml_collections.ConfigDict) -> dict:
  r = c.rollout
  for name in ("prompts_per_step", "num_samples", "max_new_tokens"):
    require(_is_int(r[name], 1), f"rollout.{name}={r[name]!r} must be an int >= 1")
  require(_is_int(r.gen_prompts, 0), f"rollout.gen_prompts={r.gen_prompts!r} must be an int >= 0 "
                                     f"(0 = rollout.prompts_per_step)")
  require(_is_int(r.prompts_per_call, 0), f"rollout.prompts_per_call={r.prompts_per_call!r} must be an int >= 0 "
                                          f"(0 = the whole generation batch in one sampler call)")
  gen_prompts = r.gen_prompts or r.prompts_per_step
  require(gen_prompts % (r.prompts_per_call or gen_prompts) == 0,
          f"rollout.prompts_per_call={r.prompts_per_call} does not divide the generation batch of {gen_prompts} "
          f"prompts (rollout.gen_prompts, 0 = rollout.prompts_per_step)")
  require(_is_number(r.temperature) and r.temperature >= 0,
          f"rollout.temperature={r.temperature!r} must be a finite number >= 0 (0 = greedy)")
  require(_is_number(r.top_p) and 0 < r.top_p <= 1, f"rollout.top_p={r.top_p!r} must be in (0, 1]")
  require(_is_int(r.top_k, 0), f"rollout.top_k={r.top_k!r} must be >= 0 (0 = off)")
  stop_tokens = tuple(t for t in r.stop_tokens.split(",") if t)
  require(bool(stop_tokens), "rollout.stop_tokens is empty; name at least the EOS token")
  require(r.batching in BATCHING_MODES, f"rollout.batching={r.batching!r}; known: {', '.join(BATCHING_MODES)}")
  require(_is_int(r.slots, 0), f"rollout.slots={r.slots!r} must be an int >= 0 (0 = a quarter of a call's rows)")
  require(r.batching == "continuous" or r.slots == 0,
          f"rollout.slots={r.slots} is for rollout.batching='continuous', not {r.batching!r}")
  require(_is_int(r.decode_block, 0), f"rollout.decode_block={r.decode_block!r} must be an int >= 0 (0 = read every "
                                      "cache slot)")
  return {"stop_tokens": stop_tokens}


BATCHING_MODES = ("continuous", "static")


def _check_decode_kernel(c: ml_collections.ConfigDict, platform: str) -> None:
  """On TPU decode runs the Pallas ragged kernel, which reads the cache in blocks of whole 128-lane tiles."""
  kernel = resolve_attention(c.model.attention, platform=platform, dtype=DTYPES[c.model.dtype])
  block = c.rollout.decode_block
  require(not ragged_decode_applies(kernel.name, block) or block % LANES == 0,
          f"rollout.decode_block={block} must be a multiple of {LANES} on {platform}: model.attention="
          f"{c.model.attention!r} runs the Pallas ragged decode kernel there, which reads the cache in blocks "
          f"of whole {LANES}-lane tiles (0 reads every slot)")


def _decode_slots(r: ml_collections.ConfigDict, rows_per_call: int) -> int:
  """The sampler's `slots`: 0 for the static batch; else rollout.slots, or a quarter of a call's rows.

  A quarter: with RLVR's long-tailed lengths (mean ~40% of the budget) a quarter of the rows keeps the
  slots ~90% busy while the loop runs about twice the static batch's steps (bench/sampler.py
  --lengths); more slots run fewer, emptier steps.
  """
  if r.batching == "static":
    return 0
  return r.slots or max(1, rows_per_call // 4)


def _data(c: ml_collections.ConfigDict) -> DataSpec:
  d = c.data
  require(d.builtin_task in BUILTIN_TASKS,
          f"data.builtin_task={d.builtin_task!r}; known: {', '.join(BUILTIN_TASKS.names())}")
  for name in ("question_field", "answer_field"):
    require(isinstance(d[name], str) and bool(d[name].strip()), f"data.{name}={d[name]!r} must name a field")
  fields = dict(question_fields=tuple(f for f in d.question_field.split(",") if f), answer_field=d.answer_field)
  check_data_files("data.train_files", d.train_files, **fields)
  check_data_files("data.eval_files", d.eval_files, **fields)
  require(d.template in TEMPLATES, f"data.template={d.template!r}; known: {', '.join(TEMPLATES.names())}")
  for name in ("max_prompt_length", "epochs"):
    require(_is_int(d[name], 1), f"data.{name}={d[name]!r} must be an int >= 1")
  require(_is_int(d.shuffle_seed, 0), f"data.shuffle_seed={d.shuffle_seed!r} must be an int >= 0")
  split = lambda files: tuple(f for f in files.split(",") if f)  # noqa: E731
  task_reward = BUILTIN_TASKS.get(d.builtin_task).profile.get("reward", {}).get("name")
  require(bool(d.train_files) or task_reward is None or c.reward.name == task_reward,
          f"data.builtin_task={d.builtin_task!r} is scored by reward.name={task_reward!r}, not "
          f"reward.name={c.reward.name!r}; set both (bench/entropy_study.py shows the task's settings)")
  return DataSpec(train_files=split(d.train_files), eval_files=split(d.eval_files), builtin_task=d.builtin_task,
                  question_field=d.question_field, answer_field=d.answer_field, template=d.template,
                  max_prompt_length=d.max_prompt_length, skip_malformed=bool(d.skip_malformed),
                  shuffle_seed=d.shuffle_seed, epochs=d.epochs)


def _train(c: ml_collections.ConfigDict) -> TrainSpec:
  t = c.train
  require(_is_int(t.steps, 0), f"train.steps={t.steps!r} must be an int >= 0 (0 = until data.epochs are used up)")
  for name in ("mini_batches", "micro_batches", "ppo_epochs", "chunk_size"):
    require(_is_int(t[name], 1), f"train.{name}={t[name]!r} must be an int >= 1")
  require(_is_int(t.seed, 0), f"train.seed={t.seed!r} must be an int >= 0")
  require(_is_int(t.max_gen_batches, 0), f"train.max_gen_batches={t.max_gen_batches!r} must be an int >= 0 "
                                         f"(0 = unlimited)")
  require(t.gen_cap in GEN_CAP_MODES, f"train.gen_cap={t.gen_cap!r}; known: {', '.join(GEN_CAP_MODES)}")
  require(_is_int(t.overlong_buffer, 0) and t.overlong_buffer < c.rollout.max_new_tokens,
          f"train.overlong_buffer={t.overlong_buffer} must be in [0, rollout.max_new_tokens="
          f"{c.rollout.max_new_tokens})")
  require(_is_number(t.overlong_penalty) and t.overlong_penalty >= 0,
          f"train.overlong_penalty={t.overlong_penalty!r} must be a finite number >= 0")
  require(_is_number(t.tis_cap) and t.tis_cap >= 0, f"train.tis_cap={t.tis_cap!r} must be >= 0 (0 = off)")
  require(isinstance(t.shared_prompt_forward, bool),
          f"train.shared_prompt_forward={t.shared_prompt_forward!r} must be True or False")
  return TrainSpec(steps=t.steps, mini_batches=t.mini_batches, micro_batches=t.micro_batches, ppo_epochs=t.ppo_epochs,
                   seed=t.seed, chunk_size=t.chunk_size, dynamic_sampling=bool(t.dynamic_sampling),
                   max_gen_batches=t.max_gen_batches, gen_cap=t.gen_cap, overlong_buffer=t.overlong_buffer,
                   overlong_penalty=float(t.overlong_penalty), mask_truncated=bool(t.mask_truncated),
                   tis_cap=float(t.tis_cap), shared_prompt_forward=t.shared_prompt_forward)


def _advantage(c: ml_collections.ConfigDict) -> AdvantageSpec:
  """Estimator name, group size, and hyperparameters; the hyperparameters are checked by tracing the
  estimator on an abstract two-group batch (`jax.eval_shape`: no compile, no computation), which runs
  the estimator's own name and range checks instead of a second copy of them here."""
  name = c.advantage.estimator
  require(name in ADVANTAGE_ESTIMATORS,
          f"unknown advantage estimator advantage.estimator={name!r}; known: "
          f"{', '.join(ADVANTAGE_ESTIMATORS.names())}")
  if c.rollout.num_samples < 2 and ADVANTAGE_ESTIMATORS.get(name).group_relative:
    raise ConfigError(f"advantage.estimator={name!r} is group-relative and needs rollout.num_samples >= 2, "
                      f"got {c.rollout.num_samples}")
  hparams = c.advantage.hparams.to_dict()
  rows = 2 * c.rollout.num_samples
  spec = ADVANTAGE_ESTIMATORS.get(name)
  # Every data input the estimator reads, as the trainer makes it (greedy baselines, critic values, ...).
  inputs = {key: jax.ShapeDtypeStruct((rows,) if key in ("correct", "baseline_rewards") else (rows, 4),
                                      jnp.bool_ if key == "correct" else jnp.float32)
            for key in ("correct",) + spec.inputs + spec.optional_inputs}
  try:
    jax.eval_shape(lambda r, m, g, data: compute_advantages(name, r, m, g, **data, **hparams),
                   jax.ShapeDtypeStruct((rows,), jnp.float32), jax.ShapeDtypeStruct((rows, 4), jnp.bool_),
                   jax.ShapeDtypeStruct((rows,), jnp.int32), inputs)
  except (ValueError, TypeError) as e:
    raise ConfigError(f"advantage.hparams={hparams!r}: {e}") from None
  return AdvantageSpec(estimator=name, hparams=hparams)


def _reward(c: ml_collections.ConfigDict) -> RewardSpec:
  r = c.reward
  require(r.name in REWARDS, f"unknown reward reward.name={r.name!r}; known: {', '.join(REWARDS.names())}")
  try:
    values = RewardConfig(correct=r.correct, incorrect=r.incorrect, format_weight=r.format_weight,
                          timeout_s=r.timeout_s, workers=r.workers)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  require(r.correct > r.incorrect,
          f"reward.correct={r.correct!r} must be greater than reward.incorrect={r.incorrect!r}")
  s = r.sandbox
  require(_is_int(s.memory_mb, 16), f"reward.sandbox.memory_mb={s.memory_mb!r} must be an int >= 16")
  for name in ("isolate_network", "drop_privileges", "memory_cgroup"):
    require(s[name] in ("auto", "require", "off"), f"reward.sandbox.{name}={s[name]!r}; known: auto, require, off")
  require(s.syscall_filter in ("require", "off"),
          f"reward.sandbox.syscall_filter={s.syscall_filter!r}; known: require, off")
  require(not s.cgroup_parent or os.path.isdir(s.cgroup_parent),
          f"reward.sandbox.cgroup_parent={s.cgroup_parent!r} is not a directory")
  try:
    sandbox = SandboxConfig(memory_bytes=int(s.memory_mb) << 20, python=s.python or None,
                            isolate_network=s.isolate_network, drop_privileges=s.drop_privileges,
                            memory_cgroup=s.memory_cgroup, syscall_filter=s.syscall_filter,
                            cgroup_parent=s.cgroup_parent or None)
  except ValueError as e:
    raise ConfigError(f"reward.sandbox: {e}") from None
  check_sandbox_python(r.name, s.python)
  return RewardSpec(name=r.name, values=values, sandbox=sandbox)


def _optim(c: ml_collections.ConfigDict, train: TrainSpec) -> OptimConfig:
  o = c.optim
  require(_is_number(o.lr), f"optim.lr={o.lr!r} must be a finite number > 0")
  for name in ("b1", "b2"):
    require(_is_number(o[name]) and 0 <= o[name] < 1, f"optim.{name}={o[name]!r} must be in [0, 1)")
  require(_is_number(o.eps) and o.eps > 0, f"optim.eps={o.eps!r} must be > 0")
  require(_is_number(o.min_lr_ratio) and 0 <= o.min_lr_ratio <= 1,
          f"optim.min_lr_ratio={o.min_lr_ratio!r} must be in [0, 1]")
  require(o.schedule_unit in SCHEDULE_UNITS,
          f"optim.schedule_unit={o.schedule_unit!r}; known: {', '.join(SCHEDULE_UNITS)}")
  try:
    # total_steps in the schedule's unit; with train.steps = 0 the loop fills it in once the data is read.
    return OptimConfig(total_steps=max(train.steps, 1), updates_per_rollout=train.updates_per_step, **o.to_dict())
  except (TypeError, ValueError) as e:
    raise ConfigError(str(e)) from None


def _critic(c: ml_collections.ConfigDict, train: TrainSpec, model: ModelSpec, optim: OptimConfig) -> CriticSpec | None:
  """The value model's section, when the estimator reads critic values; its values are checked either
  way, and a critic.path given to an estimator without a critic is an error rather than ignored."""
  k = c.critic
  require(_is_number(k.lr) and k.lr > 0, f"critic.lr={k.lr!r} must be a finite number > 0")
  require(_is_int(k.warmup_steps, 0), f"critic.warmup_steps={k.warmup_steps!r} must be an int >= 0")
  for name in ("weight_decay", "grad_clip"):
    require(_is_number(k[name]) and k[name] >= 0, f"critic.{name}={k[name]!r} must be a finite number >= 0")
  require(_is_number(k.cliprange_value) and k.cliprange_value > 0,
          f"critic.cliprange_value={k.cliprange_value!r} must be a finite number > 0")
  require(k.loss_agg_mode in AGGREGATION_MODES,
          f"critic.loss_agg_mode={k.loss_agg_mode!r}; known: {', '.join(AGGREGATION_MODES)}")
  require(_is_int(k.critic_warmup, 0), f"critic.critic_warmup={k.critic_warmup!r} must be an int >= 0 "
                                       f"(rollout steps that train only the critic)")
  require(isinstance(k.path, str), f"critic.path={k.path!r} must be a directory name (\"\" = the policy's)")
  # verl builds a critic for adv_estimator=gae; here, for any estimator that requires critic values (the
  # trainer's `advantage_inputs.estimator_needs` reads the same declaration).
  if "values" not in ADVANTAGE_ESTIMATORS.get(c.advantage.estimator).inputs:
    require(not k.path, f"critic.path={k.path!r} is set but advantage.estimator={c.advantage.estimator!r} reads no "
                        f"critic values (a critic is trained for estimators that do: gae, the 'ppo' method)")
    return None
  architecture = check_hf_directory(k.path, field="critic.path") if k.path else model.architecture
  require(architecture.vocab_size >= model.architecture.vocab_size,
          f"critic.path={k.path!r}: its vocabulary ({architecture.vocab_size}) is smaller than the policy's "
          f"({model.architecture.vocab_size}), so it cannot read every token the policy samples")
  total = c.data.max_prompt_length + c.rollout.max_new_tokens
  require(total <= architecture.max_position_embeddings,
          f"data.max_prompt_length + rollout.max_new_tokens = {total} exceeds the critic's max_position_embeddings="
          f"{architecture.max_position_embeddings} (critic.path={k.path!r})")
  try:
    critic_optim = dataclasses.replace(optim, lr=k.lr, warmup_steps=k.warmup_steps, weight_decay=k.weight_decay,
                                       grad_clip=k.grad_clip)
  except (TypeError, ValueError) as e:
    raise ConfigError(f"critic: {e}") from None
  return CriticSpec(path=k.path, architecture=architecture, optim=critic_optim,
                    cliprange_value=float(k.cliprange_value), loss_agg_mode=k.loss_agg_mode,
                    critic_warmup=k.critic_warmup)


def _kl_in_reward(c: ml_collections.ConfigDict) -> KLInRewardConfig | None:
  """The in-reward KL settings (checked even when off, so a typo does not wait for the day it is enabled)."""
  k = c.kl_in_reward
  require(isinstance(k.enabled, bool), f"kl_in_reward.enabled={k.enabled!r} must be True or False")
  values = {key: value for key, value in k.to_dict().items() if key != "enabled"}
  try:
    config = KLInRewardConfig.from_mapping(values)
  except ValueError as e:
    raise ConfigError(str(e)) from None
  return config if k.enabled else None


def _check_batch_split(c: ml_collections.ConfigDict, mesh_shape: tuple[int, int, int], num_processes: int) -> None:
  """Mini-batches hold whole groups, micro-batches split evenly over the data-parallel devices, and each
  host loads an equal share of the prompts."""
  r, t = c.rollout, c.train
  require(r.prompts_per_step % t.mini_batches == 0,
          f"rollout.prompts_per_step={r.prompts_per_step} is not divisible by train.mini_batches="
          f"{t.mini_batches} (mini-batches hold whole groups of rollout.num_samples={r.num_samples})")
  minibatch_rows = r.prompts_per_step * r.num_samples // t.mini_batches
  require(minibatch_rows % t.micro_batches == 0,
          f"mini-batch of {minibatch_rows} responses (rollout.prompts_per_step={r.prompts_per_step} x "
          f"rollout.num_samples={r.num_samples} / train.mini_batches={t.mini_batches}) is not divisible by "
          f"train.micro_batches={t.micro_batches}")
  micro_rows = minibatch_rows // t.micro_batches
  groups_per_minibatch = r.prompts_per_step // t.mini_batches
  require(not t.shared_prompt_forward or groups_per_minibatch % t.micro_batches == 0,
          f"train.shared_prompt_forward=True needs micro-batches of whole groups: the {groups_per_minibatch} "
          f"prompts of a mini-batch (rollout.prompts_per_step={r.prompts_per_step} / train.mini_batches="
          f"{t.mini_batches}) are not divisible by train.micro_batches={t.micro_batches}")
  data_parallel = mesh_shape[0] * mesh_shape[1]
  require(micro_rows % data_parallel == 0,
          f"micro-batch of {micro_rows} responses does not split over mesh.data x mesh.fsdp = "
          f"{mesh_shape[0]} x {mesh_shape[1]} = {data_parallel} data-parallel devices (mesh "
          f"{dict(zip(sharding.MESH_AXES, mesh_shape))}); change the mesh, train.micro_batches or the batch")
  gen_prompts = r.gen_prompts or r.prompts_per_step
  per_call = r.prompts_per_call or gen_prompts
  for field, prompts in (("rollout.prompts_per_step", r.prompts_per_step), ("rollout.gen_prompts", gen_prompts),
                         ("rollout.prompts_per_call", per_call)):
    require(prompts % num_processes == 0,
            f"{field}={prompts} is not divisible by the {num_processes} processes (each host loads an equal "
            f"share of the prompts)")
  require(t.dynamic_sampling or gen_prompts == r.prompts_per_step,
          f"rollout.gen_prompts={r.gen_prompts} differs from rollout.prompts_per_step={r.prompts_per_step}, "
          f"which only dynamic sampling (train.dynamic_sampling=True) uses")


def _eval(c: ml_collections.ConfigDict) -> EvalSpec:
  e = c.eval
  require(_is_int(e.every, 0), f"eval.every={e.every!r} must be an int >= 0 (0 = off)")
  for name in ("num_prompts", "num_samples", "max_new_tokens"):
    require(_is_int(e[name], 1), f"eval.{name}={e[name]!r} must be an int >= 1")
  require(_is_number(e.temperature) and e.temperature >= 0,
          f"eval.temperature={e.temperature!r} must be a finite number >= 0 (0 = greedy)")
  require(_is_number(e.top_p) and 0 < e.top_p <= 1, f"eval.top_p={e.top_p!r} must be in (0, 1]")
  try:
    specs = parse_benchmark_specs(e.benchmarks, field="eval.benchmarks")
  except ValueError as error:
    raise ConfigError(str(error)) from None
  check_data_files("eval.benchmarks", e.benchmarks, [spec.path for spec in specs if spec.path is not None])
  return EvalSpec(every=e.every, num_prompts=e.num_prompts, num_samples=e.num_samples,
                  temperature=float(e.temperature), top_p=float(e.top_p), benchmarks=e.benchmarks,
                  max_new_tokens=e.max_new_tokens)


def _diagnostics(c: ml_collections.ConfigDict, run_dir: str) -> DiagnosticsConfig | None:
  d = c.diagnostics
  require(_is_int(d.every, 0), f"diagnostics.every={d.every!r} must be an int >= 0 (0 = off)")
  require(_is_number(d.prob_threshold) and 0 <= d.prob_threshold < 1,
          f"diagnostics.prob_threshold={d.prob_threshold!r} must be in [0, 1) (0 = STEER's pi > exp(-H))")
  require(_is_int(d.ece_bins, 1), f"diagnostics.ece_bins={d.ece_bins!r} must be an int >= 1")
  require(_is_number(d.top_p) and 0 < d.top_p <= 1, f"diagnostics.top_p={d.top_p!r} must be in (0, 1]")
  require(_is_int(d.top_k, 1), f"diagnostics.top_k={d.top_k!r} must be an int >= 1")
  require(_is_number(d.mask_ratio) and 0 < d.mask_ratio <= 1,
          f"diagnostics.mask_ratio={d.mask_ratio!r} must be in (0, 1]")
  if not d.every:
    return None
  return DiagnosticsConfig(out_dir=os.path.join(run_dir, "diagnostics"), every=d.every,
                           prob_threshold=d.prob_threshold or None, ece_bins=d.ece_bins, top_p=d.top_p,
                           top_k=d.top_k, mask_ratio=d.mask_ratio)


def _warm_start(c: ml_collections.ConfigDict) -> EmbeddedPolicy | None:
  w = c.warm_start
  require(_is_int(w.steps, 0), f"warm_start.steps={w.steps!r} must be an int >= 0")
  require(_is_number(w.lr) and w.lr > 0, f"warm_start.lr={w.lr!r} must be a finite number > 0")
  require(_is_int(w.batch_size, 1), f"warm_start.batch_size={w.batch_size!r} must be an int >= 1")
  if c.model.path:
    return None
  return EmbeddedPolicy(task=c.data.builtin_task, preset=c.model.preset, template=c.data.template, steps=w.steps,
                        lr=w.lr, batch_size=w.batch_size, seed=c.train.seed)


def _check_context(c: ml_collections.ConfigDict, model: QwenConfig) -> None:
  """Prompt plus response must fit the model's context: the sampler ends a row at the context limit, so
  an over-long budget would silently truncate every long response instead of failing."""
  source = f"config.json in model.path={c.model.path!r}" if c.model.path else f"preset {c.model.preset!r}"
  budgets = [("rollout.max_new_tokens", c.rollout.max_new_tokens)]
  if c.eval.every:
    budgets.append(("eval.max_new_tokens", c.eval.max_new_tokens))
  for name, new_tokens in budgets:
    total = c.data.max_prompt_length + new_tokens
    require(total <= model.max_position_embeddings,
            f"data.max_prompt_length={c.data.max_prompt_length} + {name}={new_tokens} = {total} exceeds the "
            f"model's max_position_embeddings={model.max_position_embeddings} ({source})")
