"""The RLVR training loop: config -> mesh -> policy -> (rollout -> update)* with checkpoints, logs, eval.

Per rollout step:
  prompts (grain) -> n samples each (in-graph sampler, live parameters) -> rewards -> advantages
  -> old / reference log-probs (chunked) -> mini-batches x ppo_epochs of jitted, donated update steps
  -> transform-state schedules -> metrics, periodic eval and checkpoints.

Faults (docs/reliability.md):
  - SIGTERM / SIGINT (TPU preemption): the current step finishes, a checkpoint is written, and `train`
    returns (exit code 0 from the launcher); a second signal abandons the step at once. The next run with
    the same run directory resumes from the checkpoint, exactly: parameters, optimizer and transform
    states, step, PRNG key and data-iterator position are all in it, and `metrics.jsonl` rows logged after
    it by a killed run are dropped (`MetricsLogger`).
  - A non-finite loss or gradient skips that optimizer update (`rlvr_jax.train.optimizer`): parameters,
    optimizer state and transform states stay as they were; the skip is logged. After
    optim.max_consecutive_skips consecutive skips the run writes a checkpoint and raises `TrainingStopped`.
  - A reward worker that hangs or dies scores its sample as incorrect and is replaced
    (`rlvr_jax.rewards.pool`); the counts are logged as reward/timeouts and reward/crashes.

Several processes (a TPU pod slice; CPU processes over loopback in tests/reliability/test_multiprocess.py)
run this same function, SPMD: every process runs every step and every collective in the same order.
  - Data: each host's pipeline yields its share of a step's prompts; only the row ids are all-gathered
    and every host re-collates the global batch from its own copy of the prompt table
    (`GlobalPromptBatches`), so sampler inputs are global arrays every process describes identically.
  - Host work (decoding, rewards, advantages, dynamic sampling, metrics) is done by every host on the
    whole batch, read back with `to_host`: duplicated, but small next to sampling, and it keeps every
    host's decisions identical without further exchanges. `place` then makes global arrays of them.
  - PRNG: samples are keyed by dataset row id and every other draw folds from the replicated state key,
    so results do not depend on the process count or the layout.
  - Checkpoints: orbax saves and restores the global train state from all hosts; the data-iterator state
    is the same on every host. Metrics, evaluation reports and tensorboard are written by process 0;
    HF exports gather on all hosts and are written by process 0.
  - Stop decisions (signals) are agreed on by all hosts at the end of each step, so no host leaves the
    loop while another waits in a collective.
  - The embedded default's warm start and built-in data are written by process 0 first; the others then
    read them (or, without a shared disk, build the same files themselves).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from typing import Any, Callable, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils

from rlvr_jax import models, sharding
from rlvr_jax.config.schema import RunSpec
from rlvr_jax.models import hf_weights
from rlvr_jax.models.precision import cast_params
from rlvr_jax.data import PromptDataConfig, prompt_pipeline
from rlvr_jax.diagnostics import Diagnostics, DiagnosticsConfig, training_clip_range
from rlvr_jax.objectives.transforms import TrainingProgress
from rlvr_jax.train import embedded
from rlvr_jax.train.checkpointing import RunCheckpoints
from rlvr_jax.train.evaluation import build_evaluator
from rlvr_jax.train.global_prompts import GlobalPromptBatches
from rlvr_jax.train.metrics_log import MetricsLogger
from rlvr_jax.train.optimizer import learning_rate_schedule, make_optimizer
from rlvr_jax.train.run_reward import build_run_reward
from rlvr_jax.train.rollout import RolloutConfig, SamplingSettings, collect_rollout, make_generate_fn
from rlvr_jax.train.text_codec import TextCodec, load_codec
from rlvr_jax.train.scoring import make_scoring_fn
from rlvr_jax.train.state import create_train_state
from rlvr_jax.train.update import UpdateConfig, make_update_step


# Update metrics that are counters: logged as their value after the step's last update.
_LAST_VALUE_METRICS = ("actor/consecutive_skips", "actor/skipped_total")

_T = TypeVar("_T")


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


class TrainingStopped(RuntimeError):
  """The run cannot go on (too many consecutive non-finite updates); a checkpoint was written first."""


@dataclasses.dataclass
class TrainResult:
  run_dir: str
  steps_done: int
  last_metrics: dict[str, float]
  stopped_by_signal: bool
  history: list[dict[str, float]]


def train(spec: RunSpec, devices: list | None = None) -> TrainResult:
  """Runs (or resumes) the run described by `spec`; `devices` defaults to every device of every process.

  Raises TrainingStopped after optim.max_consecutive_skips consecutive non-finite updates (a checkpoint
  of that step is written first).
  """
  c = spec.config
  mesh = sharding.make_mesh(spec.mesh, devices)
  acts = sharding.ActivationSharding(mesh, "train")
  # Everything that can fail on user input (checkpoint, tokenizer, data rows) runs before the warm start
  # and the weight load, so a bad run directory or data file costs seconds.
  checkpoints = RunCheckpoints(spec.run_dir, spec.checkpoint)
  start = checkpoints.latest_step()
  saved_data_state = checkpoints.check(start) if start is not None else None
  codec = load_codec(c, spec.stop_tokens)
  train_files, eval_files = _process_zero_first("built-in data", lambda: data_files(c))
  train_data = GlobalPromptBatches(prompt_pipeline(
      data_config(c, train_files, shuffle=True, prompts=c.rollout.prompts_per_step, epochs=c.data.epochs),
      codec.tokenizer, process_index=jax.process_index(), process_count=jax.process_count()))
  if saved_data_state is not None:
    train_data.restore(saved_data_state)
  counts = train_data.counts
  if jax.process_index() == 0:
    print(f"data: {counts.kept} prompts from {counts.records} rows of {', '.join(train_files)}; "
          f"{counts.malformed} malformed rows skipped (data.skip_malformed), {counts.too_long} prompts over "
          f"data.max_prompt_length={c.data.max_prompt_length} tokens dropped", flush=True)
  model_dir = (_process_zero_first("embedded policy", lambda: embedded.ensure_policy(c)) if spec.embedded_default
               else c.model.path)
  # float32 master weights whatever the compute dtype (rlvr_jax.models.precision); the export writes the
  # dtype the starting checkpoint was stored in.
  model = models.load_pretrained(model_dir, dtype=spec.dtype, param_dtype=jnp.float32, mesh=mesh)
  export_dtype = hf_weights.stored_dtype(model_dir)

  objective = spec.objective
  tx = make_optimizer(spec.optim)
  graphdef, state = create_train_state(model, tx, objective.init_state(), seed=c.train.seed)
  state = _replicate_unsharded(state, mesh)
  ref_params = None
  if objective.config.kl is not None:  # frozen copy of the initial policy, kept in the compute dtype
    ref_params = jax.tree.map(jnp.copy, cast_params(state.params, spec.dtype))

  rows = c.rollout.prompts_per_step * c.rollout.num_samples
  minibatch_rows = rows // c.train.mini_batches
  data_parallel = mesh.shape["data"] * mesh.shape["fsdp"]
  needs_old_entropy = "old_entropy" in objective.required_inputs()
  scoring_rows = max(minibatch_rows // c.train.micro_batches, data_parallel)
  scoring_fn = make_scoring_fn(graphdef, temperature=c.rollout.temperature or 1.0, chunk_size=c.train.chunk_size,
                               with_entropy=True, rows_per_chunk=scoring_rows, constrain=acts.constrain)
  update_step = jax.jit(
      make_update_step(graphdef, objective, tx, UpdateConfig(
          micro_batches=c.train.micro_batches, temperature=c.rollout.temperature or 1.0,
          chunk_size=c.train.chunk_size, remat=c.model.remat), constrain=acts.constrain),
      donate_argnums=0)
  update_schedules = jax.jit(objective.update_state)

  reward = build_run_reward(c)
  run_dir = spec.run_dir
  # Every process runs the (collective) evaluation; only process 0 writes its reports.
  evaluator = build_evaluator(c, graphdef, codec, reward, mesh, eval_files, report_dir=os.path.join(run_dir, "eval"))
  if start is not None:
    state, _ = checkpoints.restore(start, state)
    if jax.process_index() == 0:
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
  diagnostics = None
  if c.diagnostics.every:
    diagnostics = Diagnostics(
        graphdef, DiagnosticsConfig(out_dir=os.path.join(run_dir, "diagnostics"), every=c.diagnostics.every,
                                    prob_threshold=c.diagnostics.prob_threshold or None,
                                    ece_bins=c.diagnostics.ece_bins, top_p=c.diagnostics.top_p,
                                    top_k=c.diagnostics.top_k, mask_ratio=c.diagnostics.mask_ratio),
        scoring_fn=scoring_fn, group_size=c.rollout.num_samples, rows_per_chunk=scoring_rows,
        clip=training_clip_range(objective.config), temperature=c.rollout.temperature or 1.0,
        chunk_size=c.train.chunk_size, mini_batches=c.train.mini_batches, ppo_epochs=c.train.ppo_epochs,
        constrain=acts.constrain)
  lr_schedule = learning_rate_schedule(spec.optim)

  def place(x: np.ndarray) -> jax.Array:
    """Host data identical on every process -> a global array in the training layout."""
    return jax.device_put(x, acts.sharding("act_bt" if x.ndim >= 2 else "act_b", x.shape)
                          if x.ndim >= 1 else None)

  logger = MetricsLogger(run_dir, c.train.steps, tensorboard=c.log.tensorboard, resume_step=start)
  history, metrics, stopped = [], {}, False
  try:
    with _StopRequested() as stop:
      if evaluator is not None and start == 0:
        history.append(logger.log(0, evaluator.run(state.params, step=0)))
      for step in range(start, c.train.steps):
        t0 = time.monotonic()
        key = jax.random.fold_in(jax.random.wrap_key_data(state.key), step)
        batch, metrics, outcomes = collect_rollout(
            config=rollout_config, prompt_batches=train_data,
            generate_fn=lambda *args: generate(state.params, *args),
            score_texts=reward, decode=codec.decode, scoring_fn=scoring_fn, params=state.params,
            ref_params=ref_params, key=jax.random.fold_in(key, 0), place=place)
        t1 = time.monotonic()
        record = None
        if diagnostics is not None:
          record = diagnostics.before(state.params, batch, step + 1, outcomes,
                                      learning_rate=float(lr_schedule(int(state.step))))
        update_metrics = []
        for epoch in range(c.train.ppo_epochs):
          order = np.arange(rows).reshape(c.rollout.prompts_per_step, -1)  # whole groups per mini-batch
          if c.train.ppo_epochs > 1:
            order = np.random.default_rng([c.train.seed, step, epoch]).permutation(order)
          for m, rows_idx in enumerate(np.split(order.reshape(-1), c.train.mini_batches)):
            # A host index array: the same on every process, so the gather is one SPMD program.
            minibatch = jax.tree.map(lambda x: x[rows_idx], batch)
            state, step_metrics = update_step(state, minibatch, jax.random.fold_in(key, 1 + epoch * 1000 + m))
            update_metrics.append(step_metrics)
        host_metrics = [{k: float(v) for k, v in m.items()} for m in update_metrics]
        t2 = time.monotonic()
        if record is not None:
          metrics.update(diagnostics.after(state.params, record))
        last = host_metrics[-1]
        skipped = int(sum(m["actor/update_skipped"] for m in host_metrics))
        if not last["actor/update_skipped"]:
          # The schedules read the last update's metrics; a skipped update's may be NaN (a SIREN anchor
          # taken from them would be NaN for good), so its transform states are kept as they were.
          progress = TrainingProgress.create(
              step=step + 1, total_steps=c.train.steps,
              epoch=(step + 1) * c.rollout.prompts_per_step // train_data.num_prompts, total_epochs=c.data.epochs)
          state = state.replace(objective_state=update_schedules(state.objective_state, update_metrics[-1], progress))
        state = state.replace(rollout_step=state.rollout_step + 1)
        metrics.update({k: float(np.mean([m[k] for m in host_metrics])) for k in last})
        for k in _LAST_VALUE_METRICS:  # counters: the value after the step, not a mean over its updates
          metrics[k] = last[k]
        tokens = float(jnp.sum(batch.response_mask > 0))
        metrics.update({"time/rollout_s": t1 - t0, "time/update_s": t2 - t1,
                        "perf/update_tokens_per_s": tokens * c.train.ppo_epochs / max(t2 - t1, 1e-9),
                        "perf/rollout_tokens_per_s": tokens / max(t1 - t0, 1e-9),
                        "optim/lr": float(lr_schedule(int(state.step)))})
        if evaluator is not None and (step + 1) % c.eval.every == 0:
          metrics.update(evaluator.run(state.params, step=step + 1))
        history.append(logger.log(step + 1, metrics))
        skips = int(last["actor/consecutive_skips"])
        if skipped and jax.process_index() == 0:
          print(f"step {step + 1}: {skipped} of {len(host_metrics)} optimizer update(s) skipped (non-finite "
                f"loss or gradient); {skips} consecutive, {int(last['actor/skipped_total'])} in the run; the run "
                f"stops at optim.max_consecutive_skips={spec.optim.max_consecutive_skips}", flush=True)
        if skips >= spec.optim.max_consecutive_skips:
          checkpoints.save(step + 1, state, train_data.state(), force=True)
          raise TrainingStopped(
              f"training stopped at step {step + 1}: {skips} consecutive optimizer updates had a non-finite loss "
              f"or gradient (optim.max_consecutive_skips={spec.optim.max_consecutive_skips}); the parameters "
              f"are those of the last finite update, checkpointed as step {step + 1} in {checkpoints.directory}. "
              f"Find the cause (learning rate, data, reward) first: a resume continues from that checkpoint")
        done = step + 1 == c.train.steps
        stop_now = _any_process(stop.signal is not None)
        if stop_now or done or (spec.checkpoint.every and (step + 1) % spec.checkpoint.every == 0):
          checkpoints.save(step + 1, state, train_data.state(), force=True)
        if spec.checkpoint.export_hf_every and (step + 1) % spec.checkpoint.export_hf_every == 0:
          export_policy(graphdef, state.params, codec, os.path.join(run_dir, "hf", f"step_{step + 1}"), export_dtype)
        if stop_now:
          if jax.process_index() == 0:
            received = f"signal {stop.signal}" if stop.signal is not None else "a signal on another process"
            print(f"received {received}: checkpoint written at step {step + 1}, exiting", flush=True)
          stopped = True
          break
      if not stopped:
        export_policy(graphdef, state.params, codec, os.path.join(run_dir, "hf", "final"), export_dtype)
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
    builtin_train, builtin_heldout = embedded.data_files(task=c.data.builtin_task)
    train, heldout = train or (builtin_train,), heldout or (builtin_heldout,)
  return train, heldout


def data_config(c, files: tuple[str, ...], *, shuffle: bool, prompts: int, epochs: int) -> PromptDataConfig:
  return PromptDataConfig(files=files, question_field=c.data.question_field, answer_field=c.data.answer_field,
                          template=c.data.template, max_prompt_length=c.data.max_prompt_length,
                          skip_malformed=c.data.skip_malformed, shuffle=shuffle, seed=c.data.shuffle_seed,
                          epochs=epochs, prompts_per_step=prompts, drop_remainder=shuffle)


def export_policy(graphdef, params, codec: TextCodec, path: str, dtype) -> None:
  """The policy as an HF directory (weights in `dtype` + config + tokenizer) for evaluation elsewhere."""
  models.save_pretrained(nnx.merge(graphdef, params), path, dtype=dtype)
  if jax.process_index() == 0:
    codec.save(path)


def _process_zero_first(what: str, build: Callable[[], _T]) -> _T:
  """`build()` on process 0, then on the others once it is done: a build that writes a shared cache
  (warm start, built-in data) runs once, and the others read its result instead of racing to write it."""
  if jax.process_count() == 1:
    return build()
  if jax.process_index() == 0:
    result = build()
  multihost_utils.sync_global_devices(f"rlvr_jax: {what} ready")
  if jax.process_index() != 0:
    result = build()
  return result


def _any_process(flag: bool) -> bool:
  """True on every process when `flag` is true on any (a signal may reach the hosts at different steps)."""
  if jax.process_count() == 1:
    return flag
  return bool(np.asarray(multihost_utils.process_allgather(np.asarray(flag, np.int32))).any())


def _replicate_unsharded(tree: Any, mesh: jax.sharding.Mesh) -> Any:
  """Optimizer moments already follow their parameters' shardings (optax builds them with zeros_like);
  scalars (step, PRNG key, schedule states) are replicated over the mesh so every process holds them."""
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  return jax.tree.map(
      lambda x: x if isinstance(x.sharding, jax.sharding.NamedSharding) else jax.device_put(x, replicated), tree)
