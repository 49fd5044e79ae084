"""Launches an RLVR run. The same command runs on a CPU, a GPU, and every host of a TPU pod slice.

    python launch/tpu_pod.py --config configs/steer.py                      # embedded default
    python launch/tpu_pod.py --config steer.py:model=qwen2.5-math-7b \\
        --config.model.path=/ckpt/Qwen2.5-Math-7B --config.data.train_files=/data/dapo17k.parquet
    python launch/tpu_pod.py --config configs/steer.py --config.optim.lr=1e-6 --config.train.steps=300

Multi-process: on a TPU VM slice `jax.distributed.initialize()` discovers the other hosts by itself
(every host runs this command, e.g. via `gcloud compute tpus tpu-vm ssh NAME --worker=all --command=...`).
Elsewhere (a GPU cluster, or several CPU processes) pass --coordinator_address, --num_processes and
--process_id, or set JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID. Two CPU processes of
four devices each on one machine (the test of the pod code path, tests/reliability/test_multiprocess.py):

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python launch/tpu_pod.py --config grpo.py \
        --coordinator_address=127.0.0.1:PORT --num_processes=2 --process_id=0   # and =1 in a second shell

A run directory remembers its config (RUN_DIR/config.json): resuming with a different one stops with a
diff of the fields (--resume_with_changes resumes anyway), and `--config RUN_DIR/config.json` relaunches it.

Exit codes (docs/errors.md, docs/reliability.md): 0 finished, or stopped by SIGTERM / SIGINT with a
checkpoint (rerun to resume); 1 an unexpected error (a bug, or a fault nothing names: one line, --debug
for the traceback); 2 bad input: a config value, a data file or row, a model directory, a run directory
that is unusable, of another config or in use by another run, or a damaged checkpoint; 3 stopped after
optim.max_consecutive_skips non-finite updates (with a checkpoint), with every update skipped (no
export), or at dynamic sampling's train.max_gen_batches cap; 4 a full disk (or quota): the message names
what was being written, where, and the committed checkpoint a rerun resumes from once there is space.

Every error is one line on stderr; --debug adds the traceback.
"""

from __future__ import annotations

import logging as std_logging
import os
import sys
import threading
import traceback

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resolve_config_path(argv: list[str]) -> list[str]:
  """`--config steer.py[:variant]` (a bare name) means configs/steer.py; `--config RUN_DIR/config.json`
  (a run's saved config) is read by rlvr_jax/config/_saved_config.py."""
  out = list(argv)
  for i, arg in enumerate(out):
    if arg == "--config" and i + 1 < len(out):
      index, prefix = i + 1, ""
    elif arg.startswith("--config="):
      index, prefix = i, "--config="
    else:
      continue
    value = out[index][len(prefix):]
    if value.endswith(".json"):
      out[index] = prefix + os.path.join(_ROOT, "rlvr_jax", "config", "_saved_config.py") + ":" + value
      continue
    path, sep, variant = value.partition(":")
    if not os.path.exists(path) and os.path.exists(os.path.join(_ROOT, "configs", path)):
      out[index] = prefix + os.path.join(_ROOT, "configs", path) + sep + variant
  return out


class _BackgroundErrors:
  """Errors Python ignores anyway (in finalizers and callbacks of library threads: a checkpoint writer
  whose disk filled up reports each pending write as a traceback) are counted instead of printed, and
  named in one clause of the last line; a thread that dies is reported in one line. --debug prints them
  as Python does."""

  def __init__(self, install: bool):
    self.count, self.first = 0, ""
    if install:
      sys.unraisablehook = self._unraisable
      threading.excepthook = self._thread

  def _unraisable(self, unraisable) -> None:
    self.count += 1
    if not self.first:
      self.first = f"{type(unraisable.exc_value).__name__}: {' '.join(str(unraisable.exc_value).split())[:200]}"

  @staticmethod
  def _thread(args) -> None:
    print(f"warning: thread {args.thread.name if args.thread else '?'} failed: {args.exc_type.__name__}: "
          f"{' '.join(str(args.exc_value).split())[:300]} (run with --debug for the traceback)", file=sys.stderr,
          flush=True)

  def summary(self) -> str:
    return (f" ({self.count} error(s) in background callbacks were ignored, the first {self.first}; --debug "
            f"shows them)" if self.count else "")


class _OneLineLogs(std_logging.Filter):
  """Library log records (orbax's background writers) as one line each, without their tracebacks; the
  ones that say the disk is full are dropped, since the launcher's last line says it with what it means
  for the run. --debug keeps them whole."""

  def filter(self, record: std_logging.LogRecord) -> bool:
    from rlvr_jax.train import disk_full_cause

    error = record.exc_info[1] if record.exc_info else None
    if error is not None and disk_full_cause(error) is not None:
      return False
    record.exc_info, record.exc_text, record.stack_info = None, None, None
    message = record.getMessage()
    record.msg, record.args = (message.splitlines()[0] if message else message), None
    return True


def _report(error: BaseException) -> tuple[int, str]:
  """(exit code, the one line to print) for an error that ended the launch."""
  if isinstance(error, SystemExit):
    raise error
  try:
    return _classify(error)
  except Exception:  # noqa: BLE001 - e.g. the package itself failed to import: still one line
    return 1, _unexpected(error)


def _unexpected(error: BaseException) -> str:
  text = " ".join(str(error).split())
  return f"error: {type(error).__name__}: {text[:800]} (an unexpected error; run with --debug for the traceback)"


def _classify(error: BaseException) -> tuple[int, str]:
  from rlvr_jax.data import DataFileError
  from rlvr_jax.errors import ConfigError
  from rlvr_jax.models import CheckpointMismatchError
  from rlvr_jax.train import CheckpointError, MetricsFileError, RunDirError, TrainingStopped, disk_full_error

  full = disk_full_error(error) if isinstance(error, Exception) else None
  if full is not None:
    return 4, str(full)
  for kind, prefix in ((DataFileError, "data error"), ((RunDirError, MetricsFileError), "run directory error"),
                       (ConfigError, "config error"), (CheckpointError, "checkpoint error"),
                       (CheckpointMismatchError, "model error")):
    if isinstance(error, kind):
      return 2, f"{prefix}: {error}"
  if isinstance(error, TrainingStopped):
    return 3, str(error)
  if isinstance(error, KeyboardInterrupt):
    return 130, "interrupted: a second signal abandoned the step; the last checkpoint is the resume point"
  return 1, _unexpected(error)


def compilation_cache_dir(flag_value: str | None, environ: dict[str, str], default_root: str) -> str:
  """Where XLA's persistent compilation cache lives ('' = off): --compilation_cache_dir if given, else jax's own
  JAX_COMPILATION_CACHE_DIR, else <default_root>/xla (default_root: RLVR_JAX_CACHE or ~/.cache/rlvr_jax, beside the
  warm-started policies). A rerun, a resume or a study's next run with the same shapes then loads its programs
  from disk instead of compiling them again (MaxText's jax_cache_dir does the same); on a pod, point it at storage
  every host sees to share it. Unbounded: a size bound would turn on jax's LRU eviction, which rescans the
  directory on every write; runs sharing it in parallel are safe, as jax recompiles an entry it cannot read."""
  if flag_value is not None:
    return flag_value
  return environ.get("JAX_COMPILATION_CACHE_DIR", os.path.join(default_root, "xla"))


def main(argv: list[str]) -> int:
  from rlvr_jax import host_heap

  # Before jax starts its threads: XLA:CPU's per-call temporaries are then reused from the heap instead of
  # being faulted in anew each call (rlvr_jax/host_heap.py); undone below once the platform is a TPU / GPU.
  try:
    host_heap.apply_mode(os.environ.get(host_heap.ENVIRONMENT_VARIABLE, "retain"))
  except ValueError as e:
    print(f"config error: {e}", file=sys.stderr)
    return 2
  from absl import app, flags
  from ml_collections import config_flags

  config_flags.DEFINE_config_file("config", None, "a configs/<method>.py file, optionally ':model=...,mesh=...'",
                                  lock_config=True)
  flags.DEFINE_string("coordinator_address", os.environ.get("JAX_COORDINATOR_ADDRESS"),
                      "host:port of process 0 (multi-process runs outside a TPU slice)")
  flags.DEFINE_integer("num_processes", int(os.environ.get("JAX_NUM_PROCESSES", "1")), "processes in the run")
  flags.DEFINE_integer("process_id", int(os.environ.get("JAX_PROCESS_ID", "0")), "this process's index")
  flags.DEFINE_bool("tpu_pod", False, "initialize jax.distributed from the TPU slice metadata")
  flags.DEFINE_bool("resume_with_changes", False, "resume a run directory whose saved config differs from this "
                    "one (the change is recorded in RUN_DIR/config_changes.jsonl)")
  flags.DEFINE_bool("debug", False, "print the traceback of an error (by default an error is one line)")
  flags.DEFINE_string("compilation_cache_dir", None, "XLA's persistent compilation cache; default "
                      "JAX_COMPILATION_CACHE_DIR, else <RLVR_JAX_CACHE or ~/.cache/rlvr_jax>/xla; '' turns it off")
  flags.mark_flags_as_required(["config"])
  argv = resolve_config_path(argv)
  from rlvr_jax.config import check_command_line
  from rlvr_jax.errors import ConfigError

  try:  # unknown --config.a.b keys, before absl turns them into an AttributeError traceback
    check_command_line(argv)
  except ConfigError as e:
    print(f"config error: {e}", file=sys.stderr)
    return 2

  def run(_):
    background = _BackgroundErrors(install=not flags.FLAGS.debug)
    try:
      code = _train()
    except BaseException as e:  # noqa: BLE001 - every error becomes one line and an exit code
      code, message = _report(e)
      if flags.FLAGS.debug:
        traceback.print_exc()
      if code != 4:  # a full disk explains its writer threads' failures
        message += background.summary()
      print(message, file=sys.stderr, flush=True)
      return code
    if background.summary():
      print(f"note:{background.summary()}", file=sys.stderr, flush=True)
    return code

  def _train() -> int:
    import jax
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # orbax logs every file it writes at INFO
    if not flags.FLAGS.debug:
      logging.get_absl_handler().addFilter(_OneLineLogs())

    from rlvr_jax.embedded import default_cache_dir

    cache = compilation_cache_dir(flags.FLAGS.compilation_cache_dir, dict(os.environ), default_cache_dir())
    jax.config.update("jax_enable_compilation_cache", bool(cache))
    if cache:
      jax.config.update("jax_compilation_cache_dir", cache)
      if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:  # jax's default (1 s) skips the many
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)  # sub-second programs of a small run
    if flags.FLAGS.tpu_pod:
      jax.distributed.initialize()
    elif flags.FLAGS.num_processes > 1:
      jax.distributed.initialize(coordinator_address=flags.FLAGS.coordinator_address,
                                 num_processes=flags.FLAGS.num_processes, process_id=flags.FLAGS.process_id)
    if jax.devices()[0].platform != "cpu":  # XLA's temporaries live in device memory: glibc's defaults
      host_heap.restore_defaults()
    from rlvr_jax.config import validate
    from rlvr_jax.train import train

    try:
      spec = validate(flags.FLAGS.config, jax.device_count(), num_processes=jax.process_count())
    except ValueError as e:  # ConfigError, and the ValueErrors of the sections' own checks
      raise ConfigError(str(e)) from e
    if jax.process_index() == 0:
      print(f"{spec.name} ({spec.method}): {jax.process_count()} process(es), {jax.device_count()} "
            f"{jax.devices()[0].platform} device(s), run dir {spec.run_dir}", flush=True)
    result = train(spec, allow_config_change=flags.FLAGS.resume_with_changes)
    if jax.process_index() == 0:
      final = {k: round(v, 4) for k, v in result.last_metrics.items()
               if k in ("reward/accuracy", "eval/accuracy", "rollout/entropy", "response/length_mean")}
      print(f"done: {result.steps_done} steps{' (stopped by signal)' if result.stopped_by_signal else ''}; "
            f"{final}; logs and checkpoints in {result.run_dir}", flush=True)
      if result.heldout_change:  # the run's last line: what RL did to held-out accuracy, start -> end
        print(result.heldout_change, flush=True)
    return 0

  app.run(run, argv=argv)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
