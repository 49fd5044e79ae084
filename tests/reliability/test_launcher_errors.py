"""Every way a launch can end is one line on stderr and a documented exit code (launch/tpu_pod.py): 2 bad
input, 3 a run that stopped itself, 4 a full disk, 1 anything unexpected (with a pointer to --debug), 130
a second interrupt; --debug adds the traceback. The classification is tested on the errors themselves, one
bad row through a real launcher subprocess (with and without --debug)."""

import errno
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from rlvr_jax.data._record_readers import DataFileError
from rlvr_jax.errors import ConfigError
from rlvr_jax.models._pretrained import NonFiniteWeightsError
from rlvr_jax.train._checkpointing import CheckpointError
from rlvr_jax.train._disk_full import DiskFullError
from rlvr_jax.train._loop import TrainingStopped
from rlvr_jax.train._metrics_log import MetricsFileError
from rlvr_jax.train._run_dir import RunDirBusy
from tests.reliability.launcher_runs import LAUNCHER, ROOT, run_env, shared_cache_dir, small_run_args


def _launcher_module():
  spec = importlib.util.spec_from_file_location("tpu_pod", LAUNCHER)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
  outer.__cause__ = inner
  return outer


@pytest.mark.parametrize("error, code, line", [
    (ConfigError("optim.lr=-1.0 must be > 0"), 2, "config error: optim.lr=-1.0 must be > 0"),
    (DataFileError("d.jsonl:3: row has no field 'question'"), 2, "data error: d.jsonl:3: row has no field 'question'"),
    (RunDirBusy("train.run_dir='r' is in use by another run: pid 7 on host h"), 2,
     "run directory error: train.run_dir='r' is in use by another run: pid 7 on host h"),
    (MetricsFileError("r/metrics.jsonl:2: not a JSON metrics row"), 2,
     "run directory error: r/metrics.jsonl:2: not a JSON metrics row"),
    (CheckpointError("checkpoint r/checkpoints/2 cannot be restored: x"), 2,
     "checkpoint error: checkpoint r/checkpoints/2 cannot be restored: x"),
    (NonFiniteWeightsError("m: weight 'w' holds non-finite values"), 2, "model error: m: weight 'w' holds non-finite values"),
    (TrainingStopped("training stopped at step 4: ..."), 3, "training stopped at step 4: ..."),
    (DiskFullError("checkpoint 3", "r/checkpoints/3.orbax-checkpoint-tmp", "No space left on device"), 4,
     "disk full: writing checkpoint 3 (r/checkpoints/3.orbax-checkpoint-tmp) failed (No space left on device)"),
    (_chained(RuntimeError("save finalize failed"), OSError(errno.ENOSPC, "No space left on device", "r/x")), 4,
     "disk full: writing r/x failed (No space left on device)"),
    (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"), 4,
     "disk full: a write failed (No space left on device)"),
    (KeyboardInterrupt(), 130, "interrupted: a second signal abandoned the step; the last checkpoint is the resume point"),
    (RuntimeError("something\nnobody\nexpected"), 1,
     "error: RuntimeError: something nobody expected (an unexpected error; run with --debug for the traceback)"),
])
def test_every_error_is_one_line_and_an_exit_code(error, code, line):
  assert _launcher_module()._report(error) == (code, line)


def test_a_bad_row_is_one_line_with_exit_code_2_and_debug_adds_the_traceback(tmp_path, tmp_path_factory):
  path = tmp_path / "train.jsonl"
  path.write_text("".join(json.dumps({"question": f"Compute {i}+1.", "answer": str(i + 1)}) + "\n" for i in range(8))
                  + json.dumps({"answer": "1"}) + "\n")
  env = run_env(shared_cache_dir(tmp_path_factory), devices=1)
  args = small_run_args("grpo", tmp_path / "run", data__train_files=str(path))
  for debug in (False, True):
    result = subprocess.run([sys.executable, LAUNCHER, *args, *(["--debug"] if debug else [])], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if not line.startswith(("W0000", "I0000"))]
    assert lines[-1] == f"data error: {path}:9: row has no field 'question'"
    if debug:
      assert "Traceback (most recent call last)" in result.stderr
    else:
      assert lines == [lines[-1]], result.stderr
    assert not os.path.exists(tmp_path / "run" / "checkpoints" / "1")


def test_compilation_cache_dir_flag_then_jax_s_variable_then_beside_the_policies():
  resolve = _launcher_module().compilation_cache_dir
  assert resolve(None, {}, "/c") == "/c/xla"
  assert resolve(None, {"JAX_COMPILATION_CACHE_DIR": "/j"}, "/c") == "/j"
  assert resolve("/f", {"JAX_COMPILATION_CACHE_DIR": "/j"}, "/c") == "/f"
  assert resolve("", {"JAX_COMPILATION_CACHE_DIR": "/j"}, "/c") == ""  # off
