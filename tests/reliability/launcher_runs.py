"""Training runs as real `launch/tpu_pod.py` subprocesses, for the tests of signals, kills and several
processes: the path a preempted VM or a pod host takes, flags, exit codes and all.

Runs use the embedded default shrunk like `tests/train/conftest.small_config` (4 prompts x 4 samples, 8
new tokens, 40 warm-start steps), with the warm-started policy and XLA's compilation cache in one
directory per test session, so only the first run of a shape pays for compiling.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCHER = os.path.join(ROOT, "launch", "tpu_pod.py")
# Metrics that measure the machine, not the run: they differ between two runs of the same steps.
TIMING_PREFIXES = ("time/", "perf/")

_SHARED: dict[str, str] = {}


def shared_cache_dir(tmp_path_factory) -> str:
  """One cache directory per session (warm-started policy, built-in data, XLA compilation cache)."""
  if "cache" not in _SHARED:
    _SHARED["cache"] = str(tmp_path_factory.mktemp("rlvr_cache"))
  return _SHARED["cache"]


def small_run_args(method: str, run_dir, **fields) -> list[str]:
  """Launcher arguments of a seconds-per-step run; `fields` are dotted overrides with '__' for '.'."""
  values = {
      "train.run_dir": str(run_dir), "rollout.prompts_per_step": 4, "rollout.num_samples": 4,
      "rollout.max_new_tokens": 8, "train.steps": 2, "train.mini_batches": 2, "eval.every": 0,
      "eval.num_prompts": 8, "eval.max_new_tokens": 8, "warm_start.steps": 40, "checkpoint.every": 1,
      "log.tensorboard": False, "reward.name": "format", "diagnostics.every": 0,
  }
  values.update({key.replace("__", "."): value for key, value in fields.items()})
  return [f"--config={os.path.join(ROOT, 'configs', method + '.py')}",
          *(f"--config.{key}={value}" for key, value in values.items())]


def run_env(cache_dir: str, devices: int) -> dict[str, str]:
  """The environment of a launcher subprocess with `devices` fake CPU devices."""
  env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
  env.update({
      "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
      "JAX_PLATFORMS": "cpu",
      "RLVR_JAX_CACHE": cache_dir,  # and the launcher's compilation cache is cache_dir/xla by default
      "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
      "PYTHONPATH": ROOT,
      "PYTHONUNBUFFERED": "1",
  })
  return env


class LauncherRun:
  """A running `launch/tpu_pod.py`; its stdout and stderr are collected line by line as they come."""

  def __init__(self, args: list[str], env: dict[str, str], launcher: str = LAUNCHER):
    self.process = subprocess.Popen([sys.executable, launcher, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
    self.lines: list[str] = []
    self._reader = threading.Thread(target=self._read, daemon=True)
    self._reader.start()

  def _read(self) -> None:
    for line in self.process.stdout:
      self.lines.append(line.rstrip("\n"))

  @property
  def output(self) -> str:
    return "\n".join(line for line in self.lines if not line.startswith(("W0000", "I0000", "[Gloo]")))

  def wait_for(self, pattern: str, timeout: float) -> re.Match:
    """The first output line matching `pattern`; fails if the process ends or the time runs out first."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
      lines = list(self.lines)
      for line in lines[seen:]:
        match = regex.search(line)
        if match:
          return match
      seen = len(lines)
      if self.process.poll() is not None and not self._reader.is_alive():
        raise AssertionError(f"the run exited with {self.process.returncode} before printing /{pattern}/:\n"
                             f"{self.output[-4000:]}")
      time.sleep(0.05)
    self.process.kill()
    raise AssertionError(f"no /{pattern}/ within {timeout} s:\n{self.output[-4000:]}")

  def finish(self, timeout: float) -> int:
    """Waits for the exit (killing the process after `timeout` s) and returns the exit code."""
    try:
      self.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
      self.process.kill()
      self.process.wait()
      raise AssertionError(f"the run did not finish within {timeout} s:\n{self.output[-4000:]}")
    self._reader.join(timeout=10)
    return self.process.returncode


def run_to_end(args: list[str], env: dict[str, str], timeout: float = 600) -> LauncherRun:
  run = LauncherRun(args, env)
  code = run.finish(timeout)
  assert code == 0, f"exit code {code}:\n{run.output[-4000:]}"
  return run


def metrics_rows(run_dir) -> list[dict]:
  with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def without_timings(row: dict) -> dict:
  return {k: v for k, v in row.items() if not k.startswith(TIMING_PREFIXES)}


def exported_params(run_dir) -> dict[str, np.ndarray]:
  """The final policy's tensors as the run exported them (RUN_DIR/hf/final, HF names)."""
  from safetensors.numpy import load_file

  path = os.path.join(run_dir, "hf", "final")
  files = sorted(f for f in os.listdir(path) if f.endswith(".safetensors"))
  assert files, f"no safetensors in {path}"
  tensors = {}
  for name in files:
    tensors.update(load_file(os.path.join(path, name)))
  return tensors


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]
