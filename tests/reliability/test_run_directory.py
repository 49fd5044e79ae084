"""The run directory, checked before anything is built (`rlvr_jax.train._run_dir`, the first thing `train`
does; the path itself in `validate`): it can be made, it is writable, what the run writes there has the
right kind, metrics.jsonl is intact, and one run holds it at a time (an flock the kernel releases when the
holder dies, kill -9 included)."""

import errno
import fcntl
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from rlvr_jax import models
from rlvr_jax.config import ConfigError, validate
from rlvr_jax.models._pretrained import expected_hf_shapes
from rlvr_jax.train._disk_full import DiskFullError
from rlvr_jax.train._metrics_log import MetricsFileError
from rlvr_jax.train._run_dir import LOCK_FILE, RunDirBusy, RunDirectory, RunDirError, checkpoint_estimate
from tests.reliability.conftest import config_with
from tests.reliability.launcher_runs import ROOT, LauncherRun, run_env, shared_cache_dir, small_run_args


def _file(path):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("x")


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / "metrics.jsonl").mkdir(), r"metrics\.jsonl is a directory; the run writes a file there"),
    (lambda d: (d / "config.json").mkdir(), r"config\.json is a directory"),
    (lambda d: _file(d / "tensorboard"), r"tensorboard exists and is not a directory; the run writes a directory"),
    (lambda d: _file(d / "checkpoints"), r"checkpoints exists and is not a directory"),
    (lambda d: _file(d / "hf"), r"/hf exists and is not a directory"),
    (lambda d: _file(d / "hf" / "final"), r"hf/final exists and is not a directory"),
    (lambda d: _file(d / "hf" / "step_20"), r"hf/step_20 exists and is not a directory"),
    (lambda d: _file(d / "eval"), r"/eval exists and is not a directory"),
])
def test_what_the_run_writes_must_have_its_kind(tmp_path, make, message):
  run = tmp_path / "run"
  run.mkdir()
  make(run)
  with pytest.raises(RunDirError, match=rf"train\.run_dir='.*run': .*{message}"):
    with RunDirectory(str(run)):
      pass
  assert not (run / LOCK_FILE).exists()  # nothing was taken


@pytest.mark.parametrize("content, line", [
    ('{"step": 1}\ngarbage\n{"step": 2}\n', 2),
    (b'{"step": 1}\n{"step": \xff}\n{"step": 2}\n', 2),
    (b'{"step": 1}\n' + b"\x00" * (3 << 20) + b'\n{"step": 2}\n', 2),  # a huge binary line, not read whole
    ('{"step": 1}\n[1, 2]\n{"step": 2}', 2),
])
def test_damaged_metrics_line_is_named_before_anything_is_built(tmp_path, content, line):
  """Only the last line of metrics.jsonl can be torn by a kill; a damaged earlier line stops the run at
  once naming file and line (the launcher: one line, exit code 2), not after the warm start."""
  run = tmp_path / "run"
  run.mkdir()
  (run / "metrics.jsonl").write_bytes(content.encode() if isinstance(content, str) else content)
  with pytest.raises(MetricsFileError, match=rf"metrics\.jsonl:{line}: not a JSON metrics row; only the last line "
                                             rf"can be torn"):
    with RunDirectory(str(run)):
      pass


def test_torn_last_metrics_line_is_accepted(tmp_path):
  (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2, "rew')
  with RunDirectory(str(tmp_path)):
    pass


@pytest.fixture
def read_only_dir(tmp_path):
  """A directory writes fail in: a read-only tmpfs when running as root (root ignores permission bits),
  else a directory without write permission."""
  path = tmp_path / "ro"
  path.mkdir()
  if os.geteuid() != 0:
    path.chmod(0o555)
    yield path
    path.chmod(0o755)
    return
  if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True).returncode:
    pytest.skip("running as root without permission to mount a read-only tmpfs")
  try:
    yield path
  finally:
    subprocess.run(["umount", str(path)], check=True)


def test_read_only_run_directory(read_only_dir):
  with pytest.raises(RunDirError, match=rf"train\.run_dir='{read_only_dir}': {read_only_dir} is not writable "
                                        rf"\((OSError|PermissionError): (Read-only file system|Permission denied)\)"):
    with RunDirectory(str(read_only_dir)):
      pass
  with pytest.raises(RunDirError, match=rf"train\.run_dir='{read_only_dir}/run' cannot be created \((OSError|"
                                        rf"PermissionError): (Read-only file system|Permission denied)\)"):
    with RunDirectory(str(read_only_dir / "run")):
      pass


def test_run_directory_paths_that_cannot_be_made_fail_in_validate(tmp_path):
  notes = tmp_path / "notes.txt"
  notes.write_text("x")
  os.symlink(tmp_path / "unmounted" / "runs", tmp_path / "link")
  cases = [
      (str(notes), r"train\.run_dir='.*notes\.txt' exists and is not a directory"),
      (str(notes / "run"), r"train\.run_dir='.*notes\.txt/run': '.*notes\.txt' is a file, so the run directory "
                           r"cannot be made under it"),
      (str(tmp_path / "link"), r"train\.run_dir='.*link': '.*link' is a symbolic link to '.*unmounted/runs', which "
                               r"does not exist; create the target or fix the link"),
      (str(tmp_path / "link" / "run"), r"train\.run_dir='.*link/run': '.*link', on its path, is a symbolic link"),
  ]
  for run_dir, message in cases:
    with pytest.raises(ConfigError, match=message):
      validate(config_with(**{"train.run_dir": run_dir}), num_devices=1)


def test_a_second_run_is_refused_naming_the_holder(tmp_path):
  """The lock file records pid, host, start and command; a second open (any process: flock locks belong to
  the open file) is refused at once with them. Another process of the same run (process_index > 0) does
  not take the lock. Leaving the context releases it."""
  with RunDirectory(str(tmp_path)):
    record = json.loads((tmp_path / LOCK_FILE).read_text())
    assert (record["pid"], record["host"]) == (os.getpid(), socket.gethostname())
    started = time.monotonic()
    with pytest.raises(RunDirBusy, match=rf"train\.run_dir='{tmp_path}' is in use by another run: pid {os.getpid()} "
                                         rf"on host {socket.gethostname()} \(started .*\) holds the lock "
                                         rf"{tmp_path}/run\.lock\. Wait for that run to end"):
      with RunDirectory(str(tmp_path)):
        pass
    assert time.monotonic() - started < 1
    with RunDirectory(str(tmp_path), process_index=1, process_count=1):
      pass
  with RunDirectory(str(tmp_path)):
    pass


def test_kill_9_releases_the_lock(tmp_path):
  holder = subprocess.Popen(
      [sys.executable, "-c", "import sys, time\nfrom rlvr_jax.train._run_dir import RunDirectory\n"
                             "with RunDirectory(sys.argv[1]):\n  print('locked', flush=True)\n  time.sleep(600)\n",
       str(tmp_path)], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"})
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(RunDirBusy, match=rf"pid {holder.pid} on host"):
      with RunDirectory(str(tmp_path)):
        pass
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
  with RunDirectory(str(tmp_path)):
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_a_filesystem_without_locks_warns_and_goes_on(tmp_path, monkeypatch):
  def no_locks(fd, operation):
    raise OSError(errno.ENOLCK, "No locks available")

  monkeypatch.setattr(fcntl, "flock", no_locks)
  warnings = []
  with RunDirectory(str(tmp_path), warn=warnings.append):
    pass
  assert len(warnings) == 1 and "does not support flock (OSError: No locks available)" in warnings[0]


def test_no_room_for_one_checkpoint_fails_at_the_start(tmp_path, monkeypatch):
  """The tiny policy's checkpoint (float32 parameters and two Adam moments) on a disk with 5 MiB free."""
  needed = checkpoint_estimate(models.preset("tiny"))
  assert needed == 12 * sum(math.prod(s) for s in expected_hf_shapes(models.preset("tiny")).values())
  monkeypatch.setattr("rlvr_jax.train._disk_full.free_bytes", lambda path: 5 << 20)
  with pytest.raises(DiskFullError, match=rf"disk full: a checkpoint \(.*/checkpoints\) does not fit \(it needs about "
                                          rf"{needed / 2 ** 20:.1f} MiB, 5\.0 MiB are free\)"):
    with RunDirectory(str(tmp_path), checkpoint_bytes=needed):
      pass


def test_the_launcher_refuses_a_run_directory_in_use(tmp_path, tmp_path_factory):
  """A second launcher exits with code 2 in seconds (no warm start, no compile), naming the holder, and
  leaves the run directory as it was."""
  run = tmp_path / "run"
  with RunDirectory(str(run)):
    before = sorted(os.listdir(run))
    launcher = LauncherRun(small_run_args("grpo", run), run_env(shared_cache_dir(tmp_path_factory), devices=1))
    assert launcher.finish(timeout=120) == 2, launcher.output[-3000:]
    assert sorted(os.listdir(run)) == before
  last = launcher.output.strip().splitlines()[-1]
  assert last.startswith(f"run directory error: train.run_dir='{run}' is in use by another run: pid {os.getpid()} on "
                         f"host {socket.gethostname()}"), launcher.output[-3000:]
  assert "Traceback" not in launcher.output and "warm start" not in launcher.output
