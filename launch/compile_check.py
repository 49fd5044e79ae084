"""Compiles a run's programs for a TPU slice from any machine, and says whether they fit and how fast they
can be: the check to run before spending a pod-day (MaxText's train_compile.py, for an RL step).

    python launch/compile_check.py --config configs/steer.py:model=qwen2.5-math-7b,mesh=v5p-128 \\
        --topology v5p:4x4x4                       # or --topology v5p-128; needs libtpu: pip install -e ".[tpu]"
    python launch/compile_check.py --config steer.py:model=qwen2.5-math-7b --topology v5e-64 \\
        --config.train.micro_batches=8 --config.model.remat=True      # the same overrides as a launch
    python launch/compile_check.py --config grpo.py                   # the local devices (a GPU: its figures)

The config is read as launch/tpu_pod.py reads it (`--config FILE[:model=...,mesh=...]`, `--config.a.b=v`);
model.path is not needed (the architecture comes from the `model=` variant). The programs are the
trainer's own (rlvr_jax/train/_programs.py, the sampler's prefill and decode), built from abstract shapes
at the shapes of one RL step and compiled for the named topology; the report has one row per program
(per-device arguments / temporaries / outputs / resident / total GiB against the chip's HBM, FLOPs and
HBM bytes per call, the roofline bound, compile seconds) and the predicted time of one RL step
(docs/scale.md explains every column and holds the table for the published configs).

Exit codes: 0 every program fits; 1 something does not fit (the message names the knobs to turn); 2 bad
config, or a config the slice cannot run (e.g. a batch that does not split over its devices).
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tpu_pod import resolve_config_path  # noqa: E402

# Set before anything loads libtpu or picks a backend: a topology check compiles for the slice's devices
# and computes nothing, so the process stays on the CPU and may run beside another libtpu process.
if any(arg == "--topology" or arg.startswith("--topology=") for arg in sys.argv):
  os.environ.setdefault("JAX_PLATFORMS", "cpu")
  for _key, _value in {"ALLOW_MULTIPLE_LIBTPU_LOAD": "1", "TPU_SKIP_MDS_QUERY": "1",
                       "TPU_WORKER_HOSTNAMES": "localhost"}.items():
    os.environ.setdefault(_key, _value)


def main(argv: list[str]) -> int:
  from absl import app, flags
  from ml_collections import config_flags

  config_flags.DEFINE_config_file("config", None, "a configs/<method>.py file, optionally ':model=...,mesh=...'",
                                  lock_config=True)
  flags.DEFINE_string("topology", None, "a TPU slice (v5p-128) or libtpu topology (v5p:4x4x4); default: the "
                      "local devices")
  flags.DEFINE_float("hbm_gib", None, "memory a program may use per device, in GiB (default: the chip's)")
  flags.DEFINE_list("programs", None, "compile only these: prefill, decode, score, score_reference, update")
  flags.DEFINE_string("cache_dir", None, "keep compile results here, keyed by program text and target")
  flags.DEFINE_string("json", None, "also write the report as JSON to this file")
  flags.mark_flags_as_required(["config"])
  argv = resolve_config_path(argv)
  from rlvr_jax.config import check_command_line
  from rlvr_jax.errors import ConfigError

  try:
    check_command_line(argv)
  except ConfigError as e:
    print(f"config error: {e}", file=sys.stderr)
    return 2
  status = {}

  def run(_):
    from absl import logging

    from rlvr_jax.scale import GIB, run_check

    logging.set_verbosity(logging.WARNING)
    f = flags.FLAGS
    try:
      report = run_check(f.config, topology=f.topology, programs=f.programs, cache_dir=f.cache_dir,
                         hbm_bytes=int(f.hbm_gib * GIB) if f.hbm_gib else None,
                         log=lambda line: print(line, file=sys.stderr, flush=True))
    except (ConfigError, ValueError) as e:
      print(f"config error: {e}", file=sys.stderr)
      status["code"] = 2
      return
    print(report.table())
    print(report.verdict())
    if f.json:
      with open(f.json, "w", encoding="utf-8") as out:
        json.dump(report.to_json(), out, indent=1)
    status["code"] = 0 if report.fits else 1

  try:
    app.run(run, argv=argv)
  except SystemExit as e:  # absl exits after the callback; keep the check's own code
    if e.code not in (None, 0):
      raise
  return status.get("code", 2)


if __name__ == "__main__":
  sys.exit(main(sys.argv))
