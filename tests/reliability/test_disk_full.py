"""A full disk, said plainly: every write of a run (checkpoint, metrics row, tensorboard events, HF export,
saved config) that finds its disk full ends in one `DiskFullError` naming what was being written, where,
and the last committed checkpoint; the partial checkpoint (or export) is removed; the launcher prints that
line alone with exit code 4; and a rerun with space resumes exactly.

Each writer is tested on a real full disk, a small tmpfs filled to the last byte (where this machine lets
the tests mount one: root), and with a simulated ENOSPC (the writer's own file object, or the library call
below it, fails the way a full disk makes it fail) everywhere. The launcher test runs on a tmpfs.
"""

import contextlib
import errno
import os
import re
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlvr_jax import models
from rlvr_jax.config import _run_identity as run_identity
from rlvr_jax.config._sections import CheckpointConfig
from rlvr_jax.data._text_codec import TextCodec
from rlvr_jax.embedded import builtin_tokenizer
from rlvr_jax.train import _checkpointing as checkpointing, _loop as loop, _metrics_log as metrics_log
from rlvr_jax.train._checkpointing import RunCheckpoints
from rlvr_jax.train._disk_full import DiskFullError, as_disk_full
from rlvr_jax.train._run_dir import RunDirectory
from tests.reliability.launcher_runs import (ROOT, LauncherRun, exported_params, metrics_rows, run_env, run_to_end,
                                             shared_cache_dir, small_run_args, without_timings)

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@contextlib.contextmanager
def tmpfs(path, size: str):
  """A tmpfs of `size` mounted at `path` (skips the test where mounting is not allowed)."""
  path.mkdir(parents=True, exist_ok=True)
  if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                         capture_output=True).returncode:
    pytest.skip("mounting a tmpfs needs root")
  try:
    yield path
  finally:
    subprocess.run(["umount", "-l", str(path)], check=True)


def leave_free(directory, free: int) -> None:
  """Takes all but `free` bytes of the filesystem of `directory` (a file named filler)."""
  stat = os.statvfs(directory)
  with open(os.path.join(directory, "filler"), "wb") as f:
    f.write(b"\0" * max(stat.f_bavail * stat.f_frsize - free, 0))


def fill(directory) -> None:
  """Takes every free byte of the filesystem of `directory`."""
  with open(os.path.join(directory, "filler"), "wb") as f:
    try:
      while True:
        f.write(b"\0" * (1 << 16))
        f.flush()
    except OSError as e:
      assert e.errno == errno.ENOSPC
  os.truncate(os.path.join(directory, "filler"), os.path.getsize(os.path.join(directory, "filler")))


class _FullFile:
  """A file object of a full disk: writes (or the flush that carries them) raise ENOSPC."""

  def __init__(self, real):
    self._real = real

  def write(self, data):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

  flush = write

  def __getattr__(self, name):
    return getattr(self._real, name)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self._real.close()


def _full_open(module, monkeypatch, name="open"):
  real = getattr(module, name, open)
  monkeypatch.setattr(module, name, lambda *args, **kwargs: _FullFile(real(*args, **kwargs)), raising=False)


# ---- each writer, on a full disk: (what the message names, the write) ----


def _metrics(run_dir, monkeypatch, simulate):
  logger = metrics_log.MetricsLogger(str(run_dir), 10, tensorboard=False, resume_step=1)
  if simulate:
    logger._jsonl = _FullFile(logger._jsonl)
  try:
    logger.log(2, {"reward/mean": 0.5})
  finally:
    logger._jsonl = getattr(logger._jsonl, "_real", logger._jsonl)
    with contextlib.suppress(DiskFullError):
      logger.close()


def _tensorboard(run_dir, monkeypatch, simulate):
  """The events file is opened and its first record written when the logger starts."""
  if simulate:
    from tensorboardX import record_writer
    _full_open(record_writer, monkeypatch)
  logger = metrics_log.MetricsLogger(str(run_dir), 10, tensorboard=True, resume_step=1)
  logger.log(2, {"reward/mean": 0.5})


def _saved_config(run_dir, monkeypatch, simulate):
  if simulate:
    _full_open(run_identity.os, monkeypatch, "fdopen")
  run_identity.write_saved_config(str(run_dir), {"name": "x", "big": ["y" * 1000] * 2000})


def _hf_export(run_dir, monkeypatch, simulate):
  """On the tmpfs the free-space check before the export is bypassed, so safetensors meets the full disk."""
  from rlvr_jax.train import _disk_full as disk_full

  monkeypatch.setattr(disk_full, "free_bytes", lambda path: None)
  if simulate:
    import safetensors.numpy

    def full_save_file(*args, **kwargs):
      raise RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")
    monkeypatch.setattr(safetensors.numpy, "save_file", full_save_file)
  model = models.init(models.preset("tiny"), key=jax.random.key(0), dtype=jnp.float32)
  graphdef, params = nnx.split(model, nnx.Param)
  codec = TextCodec.create(builtin_tokenizer(), ("<|im_end|>",), where="test", vocab_size=512)
  loop.export_policy(graphdef, params, codec, str(run_dir / "hf" / "final"), jnp.float32)


def _checkpoint(run_dir, monkeypatch, simulate):
  """The real orbax writer; the free-space check before the save is bypassed, so the write itself meets
  the full disk (as when another job fills it between the check and the write). Simulated: the check
  sees a small disk and refuses the save before anything is written."""
  monkeypatch.setattr(checkpointing, "free_bytes", (lambda path: 1 << 10) if simulate else (lambda path: None))
  checkpoints = RunCheckpoints(str(run_dir), CheckpointConfig(every=1, keep=3))
  try:
    checkpoints.save(2, {"w": jnp.ones((64, 1024))}, {"position": 2}, force=True)
  finally:
    checkpoints.close()


WRITERS = {
    "metrics": (_metrics, r"writing the metrics row of step 2 \(.*metrics\.jsonl\) failed \(No space left on device\)"),
    "tensorboard": (_tensorboard, r"writing tensorboard events \(.*/run/tensorboard\) failed \(No space left on "
                                  r"device\)"),
    "saved config": (_saved_config, r"writing .*/config\.json failed \(No space left on device\)"),
    "hf export": (_hf_export, r"writing the HF export \(.*hf/final\) failed \(No space left on device\)"),
    "checkpoint": (_checkpoint, r"checkpoint 2 \(.*checkpoints/2\.orbax-checkpoint-tmp\) (does not fit \(it needs "
                                r"about 0\.2 MiB, 0\.0 MiB are free\)|failed \(No space left on device\))"),
}


@pytest.mark.parametrize("disk", ["tmpfs", "simulated"])
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_every_writer_names_what_where_and_the_resume_point(tmp_path, monkeypatch, writer, disk):
  """Checkpoint 1 is committed, then the disk is full: the write fails as one DiskFullError naming what was
  written and where, the last committed checkpoint (1), and the partial checkpoint or export is gone."""
  write, message = WRITERS[writer]
  with (tmpfs(tmp_path / "disk", "4m") if disk == "tmpfs" else contextlib.nullcontext(tmp_path / "disk")) as root:
    run_dir = root / "run"
    with pytest.raises(DiskFullError) as error:
      with RunDirectory(str(run_dir)):
        checkpoints = RunCheckpoints(str(run_dir), CheckpointConfig(every=1, keep=3))
        checkpoints.save(1, {"w": jnp.ones((4, 4))}, {"position": 1}, force=True)
        checkpoints.close()
        if disk == "tmpfs":
          fill(root)
        write(run_dir, monkeypatch, disk == "simulated")
    text = str(error.value)
    assert text.startswith("disk full: ") and "\n" not in text, text
    assert error.value.last_step == 1
    assert f"the last committed checkpoint is step 1 ({run_dir}/checkpoints/1), where a rerun resumes" in text, text
    assert text.endswith("Free space on that disk (or raise the quota) and rerun the same command"), text
    assert re.search(message, text), text
    assert sorted(os.listdir(run_dir / "checkpoints")) == ["1"]  # no partial checkpoint left
    assert not (run_dir / "hf" / "final").exists() and not (run_dir / "hf" / "final.partial").exists()
    assert [p for p in os.listdir(run_dir) if p.startswith(".config.")] == []  # no staging file of the config


@pytest.mark.parametrize("error, reason", [
    (OSError(errno.ENOSPC, "No space left on device", "/x/metrics.jsonl"), "No space left on device"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "Disk quota exceeded"),
    (ValueError('RESOURCE_EXHAUSTED: Error writing local file "/r/checkpoints/2.orbax-checkpoint-tmp/x": Failed to '
                "write 786394 bytes to file 5: No space left on device [os_error_code='28']"), "No space left on device"),
    (ValueError("tensorstore: Failed to write [os_error_code='122']"), "Disk quota exceeded"),
    (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"),
     "No space left on device"),
])
def test_disk_full_is_recognised_in_any_library_s_words(error, reason):
  """OSError's errno, tensorstore's os_error_code and safetensors' os error; through causes and contexts."""
  assert as_disk_full(error, "x", "/p").reason == reason
  try:
    try:
      raise error
    except Exception as e:
      raise RuntimeError("the save finalize thread failed") from e
  except RuntimeError as wrapped:
    assert as_disk_full(wrapped, "checkpoint 2", "/p").reason == reason
  assert as_disk_full(OSError(errno.EACCES, "Permission denied"), "x", "/p") is None
  assert as_disk_full(ValueError("no space for the answer"), "x", "/p") is None


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
  return shared_cache_dir(tmp_path_factory)


def _stderr_lines(run: LauncherRun) -> list[str]:
  """The output but the progress lines and the notes of a normal (resumed) start."""
  return [line for line in run.output.splitlines()
          if not line.startswith(("[", "grpo (", "data:", "resumed from")) and " row(s) logged after step " not in line]


@pytest.mark.slow
def test_launcher_on_a_full_disk_says_it_in_one_line_and_resumes_exactly(tmp_path, cache_dir):
  """A 12 MiB tmpfs holds checkpoint 1 but not checkpoint 2 by the launcher's estimate (~9.8 MiB, the
  uncompressed state). (1) The launcher sees that before
  writing it: exit code 4, one line. (2) Without that check (tests/reliability/no_space_check.py: the disk
  fills between check and write: orbax compresses, checkpoint 1 took ~3.3 MiB, so all but 1 MiB of the
  free space is taken first), orbax's write meets ENOSPC: exit code 4, one line (orbax's writer threads
  report every pending write; the launcher counts them instead of printing them; the write that fails first
  may be step 3's metrics row, while checkpoint 2 is still being written), the partial checkpoint removed.
  (3) With space (the tmpfs grown to 64 MiB) the same command resumes from checkpoint 1 and ends bitwise
  where a run without the full disk ends."""
  env = run_env(cache_dir, devices=1)
  args = lambda run_dir: small_run_args("grpo", run_dir, train__steps=4)  # noqa: E731
  run_to_end(args(tmp_path / "reference"), env)
  with tmpfs(tmp_path / "disk", "12m") as disk:
    run_dir = disk / "run"
    for wrapper, expected in ((None, r"checkpoint 2 \(.*\) does not fit \(it needs about 9\.\d MiB, \d\.\d MiB are free\)"),
                              # The asynchronous write of checkpoint 2 takes the last free space; whichever
                              # write meets ENOSPC first (its own, or step 3's metrics row) is the one named.
                              ("no_space_check.py", r"writing (checkpoint 2 \(.*2\.orbax-checkpoint-tmp\)|the metrics "
                                                    r"row of step 3 \(.*metrics\.jsonl\)) failed \(No space left on "
                                                    r"device\)")):
      if wrapper is not None:
        leave_free(disk, 1 << 20)
      launch = LauncherRun(args(run_dir), env, **({} if wrapper is None else {
          "launcher": os.path.join(ROOT, "tests", "reliability", wrapper)}))
      assert launch.finish(timeout=300) == 4, launch.output[-3000:]
      lines = _stderr_lines(launch)
      assert len(lines) == 1 and lines[0].startswith("disk full: "), launch.output[-3000:]
      assert re.search(expected, lines[0]), lines[0]
      assert "the last committed checkpoint is step 1" in lines[0]
      assert sorted(os.listdir(run_dir / "checkpoints")) == ["1"]
    os.remove(disk / "filler")
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
    resumed = run_to_end(args(run_dir), env)
    assert "resumed from" in resumed.output and "at step 1" in resumed.output
    reference, rows = metrics_rows(tmp_path / "reference"), metrics_rows(run_dir)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert [without_timings(r) for r in rows] == [without_timings(r) for r in reference]
    ref_params, params = exported_params(tmp_path / "reference"), exported_params(run_dir)
    assert sorted(params) == sorted(ref_params)
    for name, value in ref_params.items():
      np.testing.assert_array_equal(params[name], value, err_msg=name)
