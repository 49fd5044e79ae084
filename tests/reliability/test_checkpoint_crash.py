"""A process killed while it writes a checkpoint never leaves one that resume picks up half-written.

A child process (checkpoint_writer.py) saves step 1 with keep=1, then is SIGKILLed during the save of
step 2: once while the arrays are being written, once with every byte written but the commit (orbax's
atomic rename) not yet done. The directory listing at the kill shows step 2's temporary directory and no
step 2; a new RunCheckpoints then resumes from step 1 with step 1's exact values, removes the temporary
directory, and can write step 2 again.
"""

import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.train._checkpointing import CheckpointConfig, RunCheckpoints
from tests.reliability import checkpoint_writer

WRITER = os.path.join(os.path.dirname(__file__), "checkpoint_writer.py")
KILL_AFTER_BYTES = 4 << 20  # of step 2 on disk: well inside the write, far from its end


def _bytes_under(path: str) -> int:
  total = 0
  for root, _, files in os.walk(path):
    for name in files:
      try:
        total += os.path.getsize(os.path.join(root, name))
      except FileNotFoundError:  # orbax renames item directories while we walk
        pass
  return total


def _wait_mid_write(proc: subprocess.Popen, directory: str) -> list[str]:
  """Polls until step 2's temporary directory holds array data, then kills; returns the listing."""
  deadline = time.monotonic() + 120
  while time.monotonic() < deadline and proc.poll() is None:
    pending = [name for name in os.listdir(directory) if name.startswith("2.")]
    if pending and _bytes_under(os.path.join(directory, pending[0])) > KILL_AFTER_BYTES:
      listing = sorted(os.listdir(directory))
      proc.send_signal(signal.SIGKILL)
      return listing
    time.sleep(0.002)
  raise AssertionError(f"step 2 never reached {KILL_AFTER_BYTES} bytes of temporary data "
                       f"(writer exit code {proc.poll()}, directory {sorted(os.listdir(directory))})")


def _kill_during_save(run_dir: str, mode: str) -> list[str]:
  """Runs the writer until it is killed during the save of step 2; the listing at the kill."""
  proc = subprocess.Popen([sys.executable, WRITER, run_dir, mode], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  try:
    first = proc.stdout.readline()
    assert first == "saved 1\n", f"writer failed before step 2: {first!r} {proc.stderr.read()}"
    directory = os.path.join(run_dir, "checkpoints")
    if mode == "mid_write":
      listing = _wait_mid_write(proc, directory)
    else:
      assert proc.stdout.readline() == "committing 2\n", proc.stderr.read()
      proc.wait(timeout=60)
      listing = sorted(os.listdir(directory))
    proc.wait(timeout=60)
    rest = proc.stdout.read()
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  assert proc.returncode == -signal.SIGKILL, f"writer exited with {proc.returncode}, not by the kill"
  assert "saved 2" not in rest, "the kill came after the save finished; raise checkpoint_writer.STATE_MB"
  return listing


@pytest.mark.parametrize("mode", ["mid_write", "before_commit"])
def test_killed_save_resumes_from_the_previous_checkpoint(tmp_path, mode):
  run_dir = str(tmp_path / "run")
  listing = _kill_during_save(run_dir, mode)
  assert "1" in listing and "2" not in listing, listing
  assert [name for name in listing if name.startswith("2.") and "tmp" in name], listing
  directory = os.path.join(run_dir, "checkpoints")
  assert "2" not in os.listdir(directory)  # nothing committed it after the listing either

  checkpoints = RunCheckpoints(run_dir, CheckpointConfig(every=1, keep=checkpoint_writer.KEEP))
  assert checkpoints.latest_step() == 1
  assert checkpoints.check(1) == {"step": 1}
  expected = checkpoint_writer.state(1)
  restored, data = checkpoints.restore(1, jax.tree.map(jnp.zeros_like, expected))
  assert data == {"step": 1}
  for name in expected:
    np.testing.assert_array_equal(np.asarray(restored[name]), np.asarray(expected[name]), err_msg=name)

  _wait_for_listing(directory, ["1"])  # opening the manager removes the killed save's temporary directory

  checkpoints.save(2, {"step": jnp.asarray(2, jnp.int32)}, {"step": 2}, force=True)
  checkpoints.wait()
  assert checkpoints.latest_step() == 2
  assert sorted(os.listdir(directory)) == ["2"]
  checkpoints.close()


def _wait_for_listing(directory: str, expected: list[str], timeout_s: float = 30.0) -> None:
  """orbax removes temporary directories in a background thread; wait for it, within a bound."""
  deadline = time.monotonic() + timeout_s
  while sorted(os.listdir(directory)) != expected and time.monotonic() < deadline:
    time.sleep(0.05)
  assert sorted(os.listdir(directory)) == expected
