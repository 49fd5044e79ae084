"""The command line: unknown `--config.*` fields and unloadable config files are named before absl and
ml_collections parse them (which would end in an AttributeError traceback); a bad value stops the
launcher with exit code 2 before any model work."""

import os
import subprocess
import sys
import time

import pytest

from rlvr_jax.config import ConfigError
from rlvr_jax.config._command_line import check_command_line

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEER = os.path.join(ROOT, "configs", "steer.py")


@pytest.mark.parametrize("override, message", [
    ("--config.optim.lrr=1e-4", r"--config\.optim\.lrr: optim has no field 'lrr'; fields: .*\blr\b"),
    ("--config.objective.steer.w_mn=0.5", r"--config\.objective\.steer\.w_mn: objective\.steer has no field 'w_mn'"),
    ("--config.optimizer.lr=1e-4", r"--config\.optimizer\.lr: the config has no field 'optimizer'"),
    ("--config.optim.lr.peak=1e-4", r"--config\.optim\.lr\.peak: optim\.lr has no field 'peak' \(optim\.lr is a "
                                    r"value\)"),
])
def test_unknown_override_names_its_path(override, message):
  with pytest.raises(ConfigError, match=message):
    check_command_line(["tpu_pod.py", "--config", STEER, override])


def test_known_overrides_pass_in_either_flag_form():
  check_command_line(["tpu_pod.py", f"--config={STEER}:model=qwen2.5-math-7b", "--config.optim.lr=1e-6",
                      "--config.objective.steer.w_min", "0.7", "--tpu_pod"])


def test_config_file_that_does_not_load():
  with pytest.raises(ConfigError, match=r"--config='configs/stear\.py': config file 'configs/stear\.py' does not "
                                        r"exist"):
    check_command_line(["tpu_pod.py", "--config=configs/stear.py"])
  with pytest.raises(ConfigError, match=r"--config='.*steer\.py:model=qwen9': config variant model='qwen9'; "
                                        r"known for steer\.py: tiny, "):
    check_command_line(["tpu_pod.py", "--config", f"{STEER}:model=qwen9"])


@pytest.mark.parametrize("override, exit_code, message", [
    ("--config.data.train_files=/data/missing.jsonl", 2,
     "config error: data.train_files='/data/missing.jsonl': '/data/missing.jsonl' does not exist"),
    ("--config.optim.lr=abc", 1, "Flags parsing error: flag --config.optim.lr=abc: could not convert string to "
                                 "float: 'abc'"),
])
def test_launcher_rejects_bad_input_before_any_model_work(tmp_path, override, exit_code, message):
  """End to end through launch/tpu_pod.py: a non-zero exit and the message, in seconds, with nothing built
  (no warm start, no run directory)."""
  env = {**os.environ, "JAX_PLATFORMS": "cpu", "RLVR_JAX_CACHE": str(tmp_path / "cache")}
  start = time.monotonic()
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "launch", "tpu_pod.py"), "--config", STEER, override,
       f"--config.train.run_dir={tmp_path / 'run'}"],
      capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
  assert result.returncode == exit_code, result.stderr[-2000:]
  assert message in result.stderr, result.stderr[-2000:]
  assert time.monotonic() - start < 60
  assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()
