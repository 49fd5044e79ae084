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

Exit codes: 0 finished, or stopped by SIGTERM / SIGINT with a checkpoint (rerun to resume); 2 bad config,
a run directory of another config, or a damaged checkpoint; 3 stopped after optim.max_consecutive_skips
non-finite updates (with a checkpoint) or at dynamic sampling's train.max_gen_batches cap.
"""

from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resolve_config_path(argv: list[str]) -> list[str]:
  """`--config steer.py[:variant]` (a bare name) means configs/steer.py; `--config RUN_DIR/config.json`
  (a run's saved config) is read by rlvr_jax/config/saved_config.py."""
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
      out[index] = prefix + os.path.join(_ROOT, "rlvr_jax", "config", "saved_config.py") + ":" + value
      continue
    path, sep, variant = value.partition(":")
    if not os.path.exists(path) and os.path.exists(os.path.join(_ROOT, "configs", path)):
      out[index] = prefix + os.path.join(_ROOT, "configs", path) + sep + variant
  return out


def main(argv: list[str]) -> int:
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
  flags.mark_flags_as_required(["config"])
  argv = resolve_config_path(argv)
  from rlvr_jax.config.command_line import check_command_line
  from rlvr_jax.errors import ConfigError

  try:  # unknown --config.a.b keys, before absl turns them into an AttributeError traceback
    check_command_line(argv)
  except ConfigError as e:
    print(f"config error: {e}", file=sys.stderr)
    return 2

  def run(_):
    import jax
    from absl import logging

    logging.set_verbosity(logging.WARNING)  # orbax logs every file it writes at INFO

    if flags.FLAGS.tpu_pod:
      jax.distributed.initialize()
    elif flags.FLAGS.num_processes > 1:
      jax.distributed.initialize(coordinator_address=flags.FLAGS.coordinator_address,
                                 num_processes=flags.FLAGS.num_processes, process_id=flags.FLAGS.process_id)
    from rlvr_jax.config import validate
    from rlvr_jax.train.checkpointing import CheckpointError
    from rlvr_jax.train.loop import TrainingStopped, train

    try:
      spec = validate(flags.FLAGS.config, jax.device_count(), num_processes=jax.process_count())
    except (ConfigError, ValueError) as e:
      print(f"config error: {e}", file=sys.stderr)
      return 2
    if jax.process_index() == 0:
      print(f"{spec.name} ({spec.method}): {jax.process_count()} process(es), {jax.device_count()} "
            f"{jax.devices()[0].platform} device(s), run dir {spec.run_dir}", flush=True)
    try:
      result = train(spec, allow_config_change=flags.FLAGS.resume_with_changes)
    except ConfigError as e:  # the run directory belongs to another config
      print(f"config error: {e}", file=sys.stderr)
      return 2
    except CheckpointError as e:
      print(f"checkpoint error: {e}", file=sys.stderr)
      return 2
    except TrainingStopped as e:
      print(f"{e}", file=sys.stderr)
      return 3
    if jax.process_index() == 0:
      final = {k: round(v, 4) for k, v in result.last_metrics.items()
               if k in ("reward/accuracy", "eval/accuracy", "rollout/entropy", "response/length_mean")}
      print(f"done: {result.steps_done} steps{' (stopped by signal)' if result.stopped_by_signal else ''}; "
            f"{final}; logs and checkpoints in {result.run_dir}", flush=True)
    return 0

  app.run(run, argv=argv)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
