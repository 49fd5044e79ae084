"""The RLVR training loop: `train(spec)` reads top to bottom in named stages.

  Set-up     mesh, run directory (identity check against its saved config), checkpoints
  Data       prompt pipeline (built-in task files for the embedded default), restored position
  Model      the policy (embedded default warm-started and cached, or model.path), float32 master weights;
             PPO's value model (critic.path, or the policy's checkpoint) when the estimator reads values
  Programs   sampler, scoring pass, update step, schedules (`rlvr_jax.train._programs`); train state
  Loop body  rollout -> update (critic, then actor after critic.critic_warmup steps; mini-batches x
             ppo_epochs) -> schedules (transform states, the in-reward KL coefficient) -> bookkeeping
             (eval, logs, checkpoints, exports)

Faults (docs/reliability.md):
  - SIGTERM / SIGINT (TPU preemption): the current step finishes, a checkpoint is written, and `train`
    returns (exit code 0 from the launcher); a second signal abandons the step at once. The next run with
    the same run directory resumes from the checkpoint, exactly: parameters, optimizer and transform
    states, step, PRNG key and data-iterator position are all in it, and `metrics.jsonl` rows logged after
    it by a killed run are dropped (`MetricsLogger`).
  - A non-finite loss or gradient skips that optimizer update (`rlvr_jax.train._optimizer`); after
    optim.max_consecutive_skips consecutive skips the run writes a checkpoint and raises `TrainingStopped`.
  - Dynamic sampling short of informative groups at train.max_gen_batches with gen_cap="stop" raises
    `TrainingStopped` (the last checkpoint stays the resume point), as verl's DAPO trainer stops.
  - A reward worker that hangs or dies scores its sample as incorrect and is replaced.

Several processes (a TPU pod slice) run this same function, SPMD: every process runs every step and every
collective in the same order. Hosts exchange only prompt row ids (`GlobalPromptBatches`); host work
(decoding, rewards, advantages, dynamic sampling, metrics) is done by every host on the whole batch, so
every host's decisions are identical; samples are keyed by dataset row id and every other draw folds from
the replicated state key, so results do not depend on the process count. Metrics, evaluation reports,
tensorboard and the saved config are written by process 0; stop decisions are agreed by all hosts.
"""

from __future__ import annotations

import dataclasses
import enum
import json
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
from rlvr_jax.config import _run_identity as run_identity
from rlvr_jax.config._spec import RunSpec
from rlvr_jax.data import TextCodec, prompt_pipeline
from rlvr_jax.data._record_readers import DataFileError
from rlvr_jax.diagnostics import Diagnostics, training_clip_range
from rlvr_jax.embedded import data_files as builtin_data_files
from rlvr_jax.embedded import ensure_policy
from rlvr_jax.eval._benchmarks import load_benchmarks
from rlvr_jax.models import _hf_weights as hf_weights
from rlvr_jax.models._precision import cast_params
from rlvr_jax.objectives.transforms import TrainingProgress
from rlvr_jax.train._advantage_inputs import estimator_needs
from rlvr_jax.train._checkpointing import RunCheckpoints
from rlvr_jax.train._critic_update import create_critic_state
from rlvr_jax.train._disk_full import staged_directory
from rlvr_jax.train._evaluation import build_evaluator
from rlvr_jax.train._global_prompts import GlobalPromptBatches
from rlvr_jax.train._metrics_log import MetricsLogger
from rlvr_jax.train._optimizer import learning_rate, make_optimizer
from rlvr_jax.train._programs import Programs, build_programs
from rlvr_jax.train._rollout import RolloutConfig, collect_rollout
from rlvr_jax.train._run_dir import RunDirectory, checkpoint_estimate
from rlvr_jax.train._run_reward import build_run_reward
from rlvr_jax.train._shaping import GenerationCapReached
from rlvr_jax.train._state import TrainState, create_train_state
from rlvr_jax.train._value_model import load_value_model

# Update metrics that are counters: logged as their value after the step's last update.
_LAST_VALUE_METRICS = ("actor/consecutive_skips", "actor/skipped_total", "critic/consecutive_skips",
                       "critic/skipped_total")

_T = TypeVar("_T")


class KeyStream(enum.IntEnum):
  """Independent PRNG streams of a rollout step, folded into the step's key."""

  ROLLOUT = 0
  UPDATE = 1


class TrainingStopped(RuntimeError):
  """The run cannot go on (non-finite updates, dynamic sampling's cap); the launcher exits with 3."""


@dataclasses.dataclass
class TrainResult:
  run_dir: str
  steps_done: int
  last_metrics: dict[str, float]
  stopped_by_signal: bool
  history: list[dict[str, float]]
  data_exhausted: bool = False
  heldout_change: str | None = None  # 'held-out accuracy 0.401 (step 0) -> 0.760 (step 40): +0.359'


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


def train(spec: RunSpec, devices: list | None = None, *, allow_config_change: bool = False) -> TrainResult:
  """Runs (or resumes) the run described by `spec`; `devices` defaults to every device of every process.

  Raises `run_identity.ConfigMismatchError` (before anything is built) when the run directory holds a
  checkpoint of another config, unless `allow_config_change`; `RunDirError` / `RunDirBusy` when the run
  directory is unusable or another run holds it; `DiskFullError` when a write finds the disk full (with
  the last committed checkpoint, the partial one removed); `TrainingStopped` as described above.
  """
  # The run directory first: checked, locked for the run's life (`rlvr_jax.train._run_dir`).
  with RunDirectory(spec.run_dir, process_index=jax.process_index(), process_count=jax.process_count(),
                    checkpoint_bytes=checkpoint_estimate(spec.model.architecture)):
    return _train(spec, devices, allow_config_change=allow_config_change)


def _train(spec: RunSpec, devices: list | None, *, allow_config_change: bool) -> TrainResult:
  # ---- Set-up: mesh, run identity, checkpoints. Everything that can fail on user input runs before the
  # warm start, the weight load and any compile. ----
  mesh = sharding.make_mesh(spec.mesh, devices)
  checkpoints = RunCheckpoints(spec.run_dir, spec.checkpoint)
  start = checkpoints.latest_step()
  try:
    run_identity.check_resume(spec.run_dir, spec.resolved, has_checkpoint=start is not None,
                              allow_changes=allow_config_change, write=jax.process_index() == 0)
    saved_data_state = checkpoints.check(start) if start is not None else None
  except BaseException:
    checkpoints.close()  # orbax's async writer must not outlive the run that failed to start
    raise

  # ---- Data ----
  train_files, heldout_files = _process_zero_first("built-in data", lambda: _data_files(spec))
  train_data = GlobalPromptBatches(prompt_pipeline(
      spec.data.prompts(train_files, prompts_per_batch=spec.rollout.gen_prompts, training=True),
      spec.codec.tokenizer, process_index=jax.process_index(), process_count=jax.process_count()))
  if saved_data_state is not None:
    train_data.restore(saved_data_state)
  _print_data_counts(spec, train_data, train_files)
  _read_eval_data(spec, heldout_files)
  total_steps = spec.train.steps or train_data.local.num_batches  # 0 = until data.epochs are used up
  optim = _with_total_steps(spec, spec.optim, total_steps)
  critic_optim = _with_total_steps(spec, spec.critic.optim, total_steps) if spec.critic is not None else None

  # ---- Model: float32 master weights whatever the compute dtype; exports write the dtype the starting
  # checkpoint was stored in. ----
  model_dir = (_process_zero_first("embedded policy", lambda: ensure_policy(spec.warm_start))
               if spec.warm_start is not None else spec.model.path)
  build_options = dict(scan_layers=spec.model.scan_layers, attention=spec.model.attention,
                       platform=mesh.devices.flat[0].platform)
  model = models.load_pretrained(model_dir, dtype=spec.model.dtype, param_dtype=jnp.float32, mesh=mesh,
                                 **build_options)
  export_dtype = hf_weights.stored_dtype(model_dir)
  critic_model = (load_value_model(spec.critic.path or model_dir, dtype=spec.model.dtype, mesh=mesh,
                                   seed=spec.train.seed, **build_options) if spec.critic is not None else None)

  # ---- Programs and train state (the critic and the in-reward KL coefficient are part of it) ----
  tx = make_optimizer(optim)
  critic_graphdef = critic_tx = critic_state = None
  if critic_model is not None:
    critic_tx = make_optimizer(critic_optim)
    critic_graphdef, critic_state = create_critic_state(critic_model, critic_tx)
  graphdef, state = create_train_state(
      model, tx, spec.objective.init_state(), seed=spec.train.seed, critic=critic_state,
      kl_controller=spec.kl_in_reward.init_state() if spec.kl_in_reward is not None else None)
  state = _replicate_unsharded(state, mesh)
  programs = build_programs(spec, graphdef, mesh, tx, jax.tree.map(lambda x: x.sharding, state),
                            critic_graphdef=critic_graphdef, critic_tx=critic_tx)
  ref_params = None
  if spec.objective.config.kl is not None or spec.kl_in_reward is not None:
    # A frozen copy of the initial policy, kept in the compute dtype (KL loss and / or KL in the reward).
    ref_params = jax.tree.map(jnp.copy, cast_params(state.params, spec.model.dtype))
  reward = build_run_reward(spec.reward)
  # Every process runs the (collective) evaluation; only process 0 writes its reports.
  evaluator = build_evaluator(spec.eval, spec.data, seed=spec.train.seed, graphdef=graphdef, codec=spec.codec,
                              reward=reward, mesh=mesh, heldout_files=heldout_files,
                              report_dir=os.path.join(spec.run_dir, "eval"))
  diagnostics = _build_diagnostics(spec, graphdef, programs, mesh)
  if start is not None:
    state, _ = checkpoints.restore(start, state)
    if jax.process_index() == 0:
      print(f"resumed from {checkpoints.directory} at step {start}", flush=True)
  start = int(state.rollout_step)
  rollout_config = _rollout_config(spec)
  place = _placer(mesh)

  # ---- Loop ----
  logger = MetricsLogger(spec.run_dir, total_steps, tensorboard=spec.log.tensorboard, resume_step=start)
  logger.log_text("config", run_identity.config_text(spec.resolved), start)
  history, metrics, stopped, exhausted, saved_step = [], {}, False, False, start
  try:
    with _StopRequested() as stop:
      if evaluator is not None and start == 0:
        history.append(logger.log(0, evaluator.run(state.params, step=0)))
      for step in range(start, total_steps):
        t0 = time.monotonic()
        step_key = jax.random.fold_in(jax.random.wrap_key_data(state.key), step)

        # Rollout: sample with the live parameters, score, shape, old / reference log-probs, values,
        # advantages.
        try:
          batch, metrics, outcomes = collect_rollout(
              config=rollout_config, prompt_batches=train_data,
              generate_fn=lambda *args: programs.generate(state.params, *args), score_texts=reward,
              decode=spec.codec.decode, scoring_fn=programs.score_old, ref_scoring_fn=programs.score_ref,
              params=state.params, ref_params=ref_params, key=jax.random.fold_in(step_key, KeyStream.ROLLOUT),
              place=place, **_rollout_extras(programs, state))
        except StopIteration:
          exhausted = True
          if jax.process_index() == 0:
            print(f"data: the {spec.data.epochs} epoch(s) of {', '.join(train_files)} are used up after {step} "
                  f"steps (data.epochs; train.steps={spec.train.steps})", flush=True)
          break
        except GenerationCapReached as e:
          last = checkpoints.latest_step()
          resume = (f"the checkpoint of step {last} is the resume point" if last is not None
                    else "no checkpoint was written yet")
          raise TrainingStopped(f"training stopped at step {step + 1}: {e}; {resume}") from None
        t1 = time.monotonic()
        lr = learning_rate(optim, optimizer_step=int(state.step), rollout_step=step)
        critic_lr = (learning_rate(critic_optim, optimizer_step=int(state.critic.step), rollout_step=step)
                     if critic_optim is not None else None)
        record = (diagnostics.before(state.params, batch, step + 1, outcomes, learning_rate=lr)
                  if diagnostics is not None else None)

        # Update: mini-batches of whole groups, ppo_epochs passes, one jitted donated step each (the
        # critic's, then the actor's once critic.critic_warmup rollout steps are done).
        state, update_metrics, critic_metrics = _update_stage(spec, programs, state, batch, step, step_key)
        t2 = time.monotonic()

        # Schedules: transform states (SIREN anchor, Positive-Advantage lambda, adaptive coefficients), the
        # in-reward KL coefficient (from this rollout's KL, as verl's controllers).
        state = _schedules_stage(spec, programs, state, update_metrics, metrics, batch.num_rows, step,
                                 train_data.num_prompts, total_steps)

        # Bookkeeping: metrics, evaluation, logs, checkpoints, exports, stop decisions.
        if record is not None:
          metrics.update(diagnostics.after(state.params, record))
        metrics.update(_update_metrics(update_metrics))
        metrics.update(_update_metrics(critic_metrics))
        tokens = float(jnp.sum(batch.response_mask > 0))
        metrics.update({"time/rollout_s": t1 - t0, "time/update_s": t2 - t1,
                        "perf/update_tokens_per_s": tokens * spec.train.ppo_epochs / max(t2 - t1, 1e-9),
                        "perf/rollout_tokens_per_s": tokens / max(t1 - t0, 1e-9), "optim/lr": lr})
        if critic_lr is not None:
          metrics["critic/lr"] = critic_lr
        if evaluator is not None and (step + 1) % spec.eval.every == 0:
          metrics.update(evaluator.run(state.params, step=step + 1))
        history.append(logger.log(step + 1, metrics))
        _check_skips(spec, checkpoints, state, train_data, metrics, step)
        stop_now = _any_process(stop.signal is not None)
        if stop_now or step + 1 == total_steps or (spec.checkpoint.every and (step + 1) % spec.checkpoint.every == 0):
          checkpoints.save(step + 1, state, train_data.state(), force=True)
          saved_step = step + 1
        if spec.checkpoint.export_hf_every and (step + 1) % spec.checkpoint.export_hf_every == 0:
          export_policy(graphdef, state.params, spec.codec, os.path.join(spec.run_dir, "hf", f"step_{step + 1}"),
                        export_dtype)
        if stop_now:
          if jax.process_index() == 0:
            received = f"signal {stop.signal}" if stop.signal is not None else "a signal on another process"
            print(f"received {received}: checkpoint written at step {step + 1}, exiting", flush=True)
          stopped = True
          break
      if exhausted and int(state.rollout_step) != saved_step:
        checkpoints.save(int(state.rollout_step), state, train_data.state(), force=True)
      if not stopped:
        _check_some_update_applied(state, checkpoints)
        export_policy(graphdef, state.params, spec.codec, os.path.join(spec.run_dir, "hf", "final"), export_dtype)
  finally:
    _close_all(checkpoints.close, logger.close, reward.close)
  return TrainResult(run_dir=spec.run_dir, steps_done=int(state.rollout_step), last_metrics=metrics,
                     stopped_by_signal=stopped, history=history, data_exhausted=exhausted,
                     heldout_change=_heldout_change(spec.run_dir))


def _heldout_change(run_dir: str) -> str | None:
  """'held-out accuracy 0.203 (step 0) -> 0.443 (step 60): +0.240', from the run's metrics.jsonl (so a
  resumed run still reports its first evaluation); None when the run logged no held-out evaluation."""
  path = os.path.join(run_dir, "metrics.jsonl")
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    evals = [(row["step"], row["eval/accuracy"]) for row in map(json.loads, f)
             if row.get("eval/accuracy") is not None]
  if not evals:
    return None
  (first_step, first), (last_step, last) = evals[0], evals[-1]
  return (f"held-out accuracy {first:.3f} (step {first_step}) -> {last:.3f} (step {last_step}): "
          f"{last - first:+.3f}")


def _update_stage(spec: RunSpec, programs: Programs, state: TrainState, batch, step: int,
                  step_key: jax.Array) -> tuple[TrainState, list[dict], list[dict]]:
  """ppo_epochs passes over the rollout batch in train.mini_batches mini-batches of whole groups; each
  mini-batch updates the critic (if any), then the actor (verl updates the critic first too; neither reads
  the other's new parameters within a step). During critic.critic_warmup only the critic trains.
  Returns the state and the actor's and the critic's metrics, one dict per update."""
  rows = batch.num_rows
  update_key = jax.random.fold_in(step_key, KeyStream.UPDATE)
  train_actor = spec.critic is None or step >= spec.critic.critic_warmup
  update_metrics, critic_metrics = [], []
  for epoch in range(spec.train.ppo_epochs):
    order = np.arange(rows).reshape(spec.rollout.prompts_per_step, -1)  # one row of groups per prompt
    if spec.train.ppo_epochs > 1:
      order = np.random.default_rng([spec.train.seed, step, epoch]).permutation(order)
    epoch_key = jax.random.fold_in(update_key, epoch)
    for m, rows_idx in enumerate(np.split(order.reshape(-1), spec.train.mini_batches)):
      # A host index array: the same on every process, so the gather is one SPMD program.
      minibatch = jax.tree.map(lambda x: x[rows_idx], batch)
      if programs.critic_update is not None:
        state, step_metrics = programs.critic_update(state, minibatch)
        critic_metrics.append(step_metrics)
      if train_actor:
        state, step_metrics = programs.update(state, minibatch, jax.random.fold_in(epoch_key, m))
        update_metrics.append(step_metrics)
  return state, update_metrics, critic_metrics


def _schedules_stage(spec: RunSpec, programs: Programs, state: TrainState, update_metrics: list[dict],
                     rollout_metrics: dict[str, float], rows: int, step: int, num_prompts: int,
                     total_steps: int) -> TrainState:
  """Advances the transform states from the step's last actor update (none during critic warm-up) and the
  in-reward KL controller from the rollout's KL (verl: `kl_ctrl.update(current_kl, n_steps=batch size)`
  every step), then counts the rollout step."""
  if programs.update_kl_controller is not None:
    state = state.replace(kl_controller=programs.update_kl_controller(
        state.kl_controller, jnp.float32(rollout_metrics["kl_in_reward/kl"]), rows))
  if update_metrics and not float(update_metrics[-1]["actor/update_skipped"]):
    # The schedules read the last update's metrics; a skipped update's may be NaN (a SIREN anchor taken
    # from them would be NaN for good), so its transform states are kept as they were.
    progress = TrainingProgress.create(
        step=step + 1, total_steps=total_steps,
        epoch=(step + 1) * spec.rollout.prompts_per_step // num_prompts, total_epochs=spec.data.epochs)
    state = state.replace(objective_state=programs.update_schedules(state.objective_state, update_metrics[-1],
                                                                    progress))
  return state.replace(rollout_step=state.rollout_step + 1)


def _update_metrics(update_metrics: list[dict]) -> dict[str, float]:
  """Means over the step's updates (actor or critic); counters as their value after the last one, and
  the number of skipped updates as `<actor|critic>/updates_skipped`. Nothing when there were none."""
  if not update_metrics:
    return {}
  host = [{k: float(v) for k, v in m.items()} for m in update_metrics]
  out = {k: float(np.mean([m[k] for m in host])) for k in host[-1]}
  out.update({k: host[-1][k] for k in _LAST_VALUE_METRICS if k in host[-1]})
  for name in ("actor", "critic"):
    if f"{name}/update_skipped" in host[-1]:
      out[f"{name}/updates_skipped"] = float(sum(m[f"{name}/update_skipped"] for m in host))
  return out


def _check_skips(spec: RunSpec, checkpoints: RunCheckpoints, state: TrainState, train_data, metrics: dict,
                 step: int) -> None:
  """Reports skipped (non-finite) updates of the actor and of the critic, and stops the run after
  optim.max_consecutive_skips in a row of either."""
  for name, what in (("actor", "optimizer"), ("critic", "critic optimizer")):
    if f"{name}/updates_skipped" not in metrics:  # no such update this step (no critic, critic warm-up)
      continue
    skipped, skips = int(metrics[f"{name}/updates_skipped"]), int(metrics[f"{name}/consecutive_skips"])
    if skipped and jax.process_index() == 0:
      print(f"step {step + 1}: {skipped} of {spec.train.updates_per_step} {what} update(s) skipped (non-finite "
            f"loss or gradient); {skips} consecutive, {int(metrics[f'{name}/skipped_total'])} in the run; the run "
            f"stops at optim.max_consecutive_skips={spec.optim.max_consecutive_skips}", flush=True)
    if skips >= spec.optim.max_consecutive_skips:
      checkpoints.save(step + 1, state, train_data.state(), force=True)
      raise TrainingStopped(
          f"training stopped at step {step + 1}: {skips} consecutive {what} updates had a non-finite loss "
          f"or gradient (optim.max_consecutive_skips={spec.optim.max_consecutive_skips}); the parameters "
          f"are those of the last finite update, checkpointed as step {step + 1} in {checkpoints.directory}. "
          f"Find the cause (learning rate, data, reward) first: a resume continues from that checkpoint")


def _data_files(spec: RunSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
  """Train and held-out prompt files; the built-in task's where none are configured."""
  train, heldout = spec.data.train_files, spec.data.eval_files
  if not train or not heldout:
    builtin_train, builtin_heldout = builtin_data_files(spec.data.builtin_task)
    train, heldout = train or (builtin_train,), heldout or (builtin_heldout,)
  return train, heldout


def _read_eval_data(spec: RunSpec, heldout_files: tuple[str, ...]) -> None:
  """Reads the held-out rows and the benchmark files once here, in the data stage, so a bad row in them
  stops the run before the model is built (the evaluator, which needs the model, reads them again)."""
  if not spec.eval.every:
    return
  prompt_pipeline(spec.data.prompts(heldout_files, prompts_per_batch=spec.eval.num_prompts, training=False),
                  spec.codec.tokenizer)
  try:
    load_benchmarks(spec.eval.benchmarks, field="eval.benchmarks")
  except (FileNotFoundError, ValueError) as e:
    raise DataFileError(str(e)) from None


def _print_data_counts(spec: RunSpec, train_data: GlobalPromptBatches, train_files) -> None:
  if jax.process_index() == 0:
    counts = train_data.counts
    print(f"data: {counts.kept} prompts from {counts.records} rows of {', '.join(train_files)}; "
          f"{counts.malformed} malformed rows skipped (data.skip_malformed), {counts.too_long} prompts over "
          f"data.max_prompt_length={spec.data.max_prompt_length} tokens dropped", flush=True)


def _rollout_config(spec: RunSpec) -> RolloutConfig:
  t = spec.train
  return RolloutConfig(
      prompts_per_step=spec.rollout.prompts_per_step, sampling=spec.rollout.sampling,
      advantage_estimator=spec.advantage.estimator, advantage_hparams=dict(spec.advantage.hparams),
      dynamic_sampling=t.dynamic_sampling, max_gen_batches=t.max_gen_batches, gen_cap=t.gen_cap,
      overlong_buffer=t.overlong_buffer, overlong_penalty=t.overlong_penalty, mask_truncated=t.mask_truncated,
      tis_cap=t.tis_cap, need_old_entropy="old_entropy" in spec.objective.required_inputs(),
      needs=estimator_needs(spec.advantage.estimator), kl_in_reward=spec.kl_in_reward)


def _rollout_extras(programs: Programs, state: TrainState) -> dict[str, Any]:
  """What the configured method adds to a rollout: the greedy sampler (ReMax), the critic's value pass,
  the in-reward KL coefficient; all read the state as it is at this step."""
  extras: dict[str, Any] = {}
  if programs.greedy is not None:
    extras["greedy_fn"] = lambda *args: programs.greedy(state.params, *args)
  if programs.values is not None:
    extras["value_fn"] = lambda *args: programs.values(state.critic.params, *args)
  if state.kl_controller is not None:
    extras["kl_coef"] = float(state.kl_controller.coef)
  return extras


def _with_total_steps(spec: RunSpec, optim, total_steps: int):
  """An optimizer config with its schedule's length in its own unit (rollout or optimizer steps)."""
  return dataclasses.replace(optim, total_steps=(
      total_steps if optim.schedule_unit == "rollout" else total_steps * spec.train.updates_per_step))


def _build_diagnostics(spec: RunSpec, graphdef, programs: Programs, mesh) -> Diagnostics | None:
  if spec.diagnostics is None:
    return None
  return Diagnostics(
      graphdef, spec.diagnostics, scoring_fn=programs.score, group_size=spec.rollout.sampling.num_samples,
      rows_per_chunk=programs.scoring_rows, clip=training_clip_range(spec.objective.config),
      temperature=spec.rollout.sampling.logprob_temperature, chunk_size=spec.train.chunk_size,
      mini_batches=spec.train.mini_batches, ppo_epochs=spec.train.ppo_epochs,
      constrain=sharding.ActivationSharding(mesh, "train").constrain)


def _placer(mesh) -> Callable[[np.ndarray], jax.Array]:
  acts = sharding.ActivationSharding(mesh, "train")

  def place(x: np.ndarray) -> jax.Array:
    """Host data identical on every process -> a global array in the training layout."""
    return jax.device_put(x, acts.sharding("act_bt" if x.ndim >= 2 else "act_b", x.shape) if x.ndim >= 1 else None)

  return place


def export_policy(graphdef, params, codec: TextCodec, path: str, dtype) -> None:
  """The policy as an HF directory (weights in `dtype` + config + tokenizer) for evaluation elsewhere;
  written whole or not at all (`disk_full.staged_directory`: a full disk leaves no half export)."""
  needed = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params)) * jnp.dtype(dtype).itemsize
  with staged_directory(path, what="the HF export", writer=jax.process_index() == 0, needed=needed) as staging:
    models.save_pretrained(nnx.merge(graphdef, params), staging, dtype=dtype)
    if jax.process_index() == 0:
      codec.save(staging)


def _check_some_update_applied(state: TrainState, checkpoints: RunCheckpoints) -> None:
  """A run whose every optimizer update was skipped (non-finite) has nothing to export: its parameters are
  the starting ones, and an hf/final would pass them off as trained."""
  steps, skipped = int(state.step), int(state.opt_state.total_notfinite)
  if steps and skipped >= steps:
    raise TrainingStopped(
        f"training stopped at step {int(state.rollout_step)}: all {steps} optimizer updates of the run had a "
        f"non-finite loss or gradient, so the parameters are the starting ones and hf/final is not written; the "
        f"checkpoints are in {checkpoints.directory}. Find the cause (learning rate, data, reward) first")


def _close_all(*closers: Callable[[], None]) -> None:
  """Calls every closer even when one fails (a full disk makes the checkpoint writer's close raise), then
  raises the first error: no writer thread or reward worker outlives the run."""
  errors = []
  for close in closers:
    try:
      close()
    except Exception as e:  # noqa: BLE001 - re-raised below, after the others are closed
      errors.append(e)
  if errors:
    raise errors[0]


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
