"""The RLVR training loop: config -> mesh -> policy -> (rollout -> update)* with checkpoints, logs, eval.

Per rollout step:
  prompts (grain) -> n samples each (in-graph sampler, live parameters) -> rewards -> advantages
  -> old / reference log-probs (chunked) -> mini-batches x ppo_epochs of jitted, donated update steps
  -> transform-state schedules -> metrics, periodic eval and checkpoints.
SIGTERM / SIGINT (TPU preemption) finish the current step, write a checkpoint and exit; the next run
with the same run directory resumes from it.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rlvr_jax import models, sharding
from rlvr_jax.config.schema import RunSpec
from rlvr_jax.data import PromptDataConfig, prompt_pipeline
from rlvr_jax.objectives.transforms import TrainingProgress
from rlvr_jax.rewards import RewardConfig, build_reward
from rlvr_jax.train import embedded
from rlvr_jax.train.checkpointing import RunCheckpoints
from rlvr_jax.train.evaluation import Evaluator
from rlvr_jax.train.metrics_log import MetricsLogger
from rlvr_jax.train.optimizer import learning_rate_schedule, make_optimizer
from rlvr_jax.train.rollout import RolloutConfig, SamplingSettings, collect_rollout, make_generate_fn
from rlvr_jax.train.text_codec import TextCodec
from rlvr_jax.train.scoring import make_scoring_fn
from rlvr_jax.train.state import create_train_state
from rlvr_jax.train.update import UpdateConfig, make_update_step


class _StopRequested:
  """Turns SIGTERM/SIGINT into a flag the loop checks between steps."""

  def __init__(self):
    self.signal: int | None = None
    self._previous = {}

  def __enter__(self):
    for sig in (signal.SIGTERM, signal.SIGINT):
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    if self.signal is not None:  # a second signal: stop now
      raise KeyboardInterrupt
    self.signal = signum

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


@dataclasses.dataclass
class TrainResult:
  run_dir: str
  steps_done: int
  last_metrics: dict[str, float]
  stopped_by_signal: bool
  history: list[dict[str, float]]


def train(spec: RunSpec, devices: list | None = None) -> TrainResult:
  """Runs (or resumes) the run described by `spec`; `devices` defaults to every device of every process."""
  c = spec.config
  mesh = sharding.make_mesh(spec.mesh, devices)
  acts = sharding.ActivationSharding(mesh, "train")
  model_dir = embedded.ensure_policy(c) if spec.embedded_default else c.model.path
  codec = TextCodec.load(c.model.tokenizer or model_dir, spec.stop_tokens)
  train_files, eval_files = data_files(c)
  model = models.load_pretrained(model_dir, dtype=spec.dtype, mesh=mesh)

  objective = spec.objective
  tx = make_optimizer(spec.optim)
  graphdef, state = create_train_state(model, tx, objective.init_state(), seed=c.train.seed)
  state = _replicate_unsharded(state, mesh)
  ref_params = None
  if objective.config.kl is not None:  # frozen copy of the initial policy
    ref_params = jax.tree.map(jnp.copy, state.params)

  rows = c.rollout.prompts_per_step * c.rollout.num_samples
  minibatch_rows = rows // c.train.mini_batches
  data_parallel = mesh.shape["data"] * mesh.shape["fsdp"]
  needs_old_entropy = "old_entropy" in objective.required_inputs()
  scoring_fn = make_scoring_fn(graphdef, temperature=c.rollout.temperature or 1.0, chunk_size=c.train.chunk_size,
                               with_entropy=True, rows_per_chunk=max(minibatch_rows // c.train.micro_batches,
                                                                     data_parallel),
                               constrain=acts.constrain)
  update_step = jax.jit(
      make_update_step(graphdef, objective, tx, UpdateConfig(
          micro_batches=c.train.micro_batches, temperature=c.rollout.temperature or 1.0,
          chunk_size=c.train.chunk_size, remat=c.model.remat), constrain=acts.constrain),
      donate_argnums=0)
  update_schedules = jax.jit(objective.update_state)

  train_data = prompt_pipeline(data_config(c, train_files, shuffle=True, prompts=c.rollout.prompts_per_step,
                                            epochs=c.data.epochs), codec.tokenizer,
                               process_index=jax.process_index(), process_count=jax.process_count())
  reward = build_reward(c.reward.name, RewardConfig(correct=c.reward.correct, incorrect=c.reward.incorrect,
                                                    format_weight=c.reward.format_weight,
                                                    timeout_s=c.reward.timeout_s, workers=c.reward.workers))
  evaluator = None
  if c.eval.every:
    eval_prompts = next(prompt_pipeline(data_config(c, eval_files, shuffle=False, prompts=c.eval.num_prompts,
                                                    epochs=1), codec.tokenizer))
    evaluator = Evaluator(graphdef, eval_prompts, codec, reward, mesh, num_samples=c.eval.num_samples,
                          temperature=c.eval.temperature, top_p=c.rollout.top_p,
                          max_new_tokens=c.eval.max_new_tokens, seed=c.train.seed)
  run_dir = spec.run_dir
  checkpoints = RunCheckpoints(run_dir, spec.checkpoint)
  start = checkpoints.latest_step()
  if start is not None:
    state, data_state = checkpoints.restore(start, state)
    train_data.restore(data_state)
    print(f"resumed from {checkpoints.directory} at step {start}", flush=True)
  start = int(state.rollout_step)

  rollout_config = RolloutConfig(
      prompts_per_step=c.rollout.prompts_per_step,
      sampling=SamplingSettings(num_samples=c.rollout.num_samples, max_new_tokens=c.rollout.max_new_tokens,
                                temperature=c.rollout.temperature, top_p=c.rollout.top_p, top_k=c.rollout.top_k,
                                stop_token_ids=codec.stop_token_ids),
      advantage_estimator=c.advantage.estimator,
      advantage_hparams=c.advantage.hparams.to_dict(), dynamic_sampling=c.train.dynamic_sampling,
      max_gen_batches=c.train.max_gen_batches, overlong_buffer=c.train.overlong_buffer,
      overlong_penalty=c.train.overlong_penalty, mask_truncated=c.train.mask_truncated,
      tis_cap=c.train.tis_cap, need_old_entropy=needs_old_entropy)
  generate = make_generate_fn(graphdef, rollout_config.sampling, mesh)
  lr_schedule = learning_rate_schedule(spec.optim)

  def place(x: np.ndarray) -> jax.Array:
    return jax.device_put(x, acts.sharding("act_bt" if x.ndim >= 2 else "act_b", x.shape)
                          if x.ndim >= 1 else None)

  logger = MetricsLogger(run_dir, c.train.steps, tensorboard=c.log.tensorboard)
  history, metrics, stopped = [], {}, False
  try:
    with _StopRequested() as stop:
      if evaluator is not None and start == 0:
        history.append(logger.log(0, evaluator.run(state.params)))
      for step in range(start, c.train.steps):
        t0 = time.monotonic()
        key = jax.random.fold_in(jax.random.wrap_key_data(state.key), step)
        batch, metrics = collect_rollout(
            config=rollout_config, prompt_batches=train_data,
            generate_fn=lambda *args: generate(state.params, *args),
            score_texts=reward, decode=codec.decode, scoring_fn=scoring_fn, params=state.params,
            ref_params=ref_params, key=jax.random.fold_in(key, 0), place=place)
        t1 = time.monotonic()
        update_metrics = []
        for epoch in range(c.train.ppo_epochs):
          order = np.arange(rows).reshape(c.rollout.prompts_per_step, -1)  # whole groups per mini-batch
          if c.train.ppo_epochs > 1:
            order = np.random.default_rng([c.train.seed, step, epoch]).permutation(order)
          for m, rows_idx in enumerate(np.split(order.reshape(-1), c.train.mini_batches)):
            minibatch = jax.tree.map(lambda x: x[jnp.asarray(rows_idx)], batch)
            state, step_metrics = update_step(state, minibatch, jax.random.fold_in(key, 1 + epoch * 1000 + m))
            update_metrics.append(step_metrics)
        t2 = time.monotonic()
        progress = TrainingProgress.create(step=step + 1, total_steps=c.train.steps,
                                           epoch=(step + 1) * c.rollout.prompts_per_step // train_data.num_prompts,
                                           total_epochs=c.data.epochs)
        last = update_metrics[-1]
        state = state.replace(objective_state=update_schedules(state.objective_state, last, progress),
                              rollout_step=state.rollout_step + 1)
        metrics.update({k: float(np.mean([float(m[k]) for m in update_metrics])) for k in last})
        skips = int(last["actor/consecutive_skips"])
        tokens = float(np.asarray(batch.response_mask).sum())
        metrics.update({"time/rollout_s": t1 - t0, "time/update_s": t2 - t1,
                        "perf/update_tokens_per_s": tokens * c.train.ppo_epochs / max(t2 - t1, 1e-9),
                        "perf/rollout_tokens_per_s": tokens / max(t1 - t0, 1e-9),
                        "optim/lr": float(lr_schedule(int(state.step)))})
        if evaluator is not None and (step + 1) % c.eval.every == 0:
          metrics.update(evaluator.run(state.params))
        history.append(logger.log(step + 1, metrics))
        done = step + 1 == c.train.steps
        if skips >= spec.optim.max_consecutive_skips:
          checkpoints.save(step + 1, state, train_data.state(), force=True)
          raise RuntimeError(f"{skips} consecutive optimizer steps had non-finite gradients "
                             f"(optim.max_consecutive_skips={spec.optim.max_consecutive_skips}); "
                             f"stopped with a checkpoint at step {step + 1} in {checkpoints.directory}")
        if stop.signal is not None or done or (spec.checkpoint.every and (step + 1) % spec.checkpoint.every == 0):
          checkpoints.save(step + 1, state, train_data.state(), force=True)
        if spec.checkpoint.export_hf_every and (step + 1) % spec.checkpoint.export_hf_every == 0:
          export_policy(graphdef, state.params, codec, os.path.join(run_dir, "hf", f"step_{step + 1}"))
        if stop.signal is not None:
          print(f"received signal {stop.signal}: checkpoint written at step {step + 1}, exiting", flush=True)
          stopped = True
          break
      if not stopped:
        export_policy(graphdef, state.params, codec, os.path.join(run_dir, "hf", "final"))
  finally:
    checkpoints.close()
    logger.close()
    reward.close()
  return TrainResult(run_dir=run_dir, steps_done=int(state.rollout_step), last_metrics=metrics,
                     stopped_by_signal=stopped, history=history)


def data_files(c) -> tuple[tuple[str, ...], tuple[str, ...]]:
  """Train and held-out prompt files; the built-in task's when none are configured."""
  split = lambda files: tuple(f for f in files.split(",") if f)  # noqa: E731
  train, heldout = split(c.data.train_files), split(c.data.eval_files)
  if not train or not heldout:
    builtin_train, builtin_heldout = embedded.data_files()
    train, heldout = train or (builtin_train,), heldout or (builtin_heldout,)
  return train, heldout


def data_config(c, files: tuple[str, ...], *, shuffle: bool, prompts: int, epochs: int) -> PromptDataConfig:
  return PromptDataConfig(files=files, question_field=c.data.question_field, answer_field=c.data.answer_field,
                          template=c.data.template, max_prompt_length=c.data.max_prompt_length,
                          skip_malformed=c.data.skip_malformed, shuffle=shuffle, seed=c.data.shuffle_seed,
                          epochs=epochs, prompts_per_step=prompts, drop_remainder=shuffle)


def export_policy(graphdef, params, codec: TextCodec, path: str) -> None:
  """The policy as an HF directory (weights + config + tokenizer) for evaluation elsewhere."""
  models.save_pretrained(nnx.merge(graphdef, params), path)
  if jax.process_index() == 0:
    codec.save(path)


def _replicate_unsharded(tree: Any, mesh: jax.sharding.Mesh) -> Any:
  """Optimizer moments already follow their parameters' shardings (optax builds them with zeros_like);
  scalars (step, PRNG key, schedule states) are replicated over the mesh so every process holds them."""
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  return jax.tree.map(
      lambda x: x if isinstance(x.sharding, jax.sharding.NamedSharding) else jax.device_put(x, replicated), tree)
