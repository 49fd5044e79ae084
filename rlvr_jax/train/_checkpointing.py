"""Run checkpoints with orbax: the train state (params, optimizer, transform states, step, PRNG) and the
data iterator's state, saved together so a resume continues exactly where the run stopped.

Crash safety: orbax writes each checkpoint into `<step>.orbax-checkpoint-tmp` and renames it to `<step>`
only once every item is complete (atomic commit), and `latest_step` only sees committed names, so a crash
or kill during a save leaves the previous checkpoint as the latest (tests/reliability/
test_checkpoint_crash.py kills a writer mid-save). Old checkpoints beyond `keep` are deleted only after the
new one is committed. Leftover temporary directories of a killed save are removed (synchronously, by
process 0) when the run directory is opened again, so they do not hold disk space across restarts. Saves
are asynchronous: training continues while arrays are written.

Several processes: every process calls `save` and `restore` with the same global train state (orbax
coordinates them: each process writes and reads the shards its devices hold, and the commit happens once
all are written); the data item is the iterator state, which is the same on every host. The run
directory must be on storage every host sees (a shared disk, or a bucket path on a pod).

A full disk: before each save the free space is compared with the state's size (all processes agree on
the outcome), and an error of the write itself that says the disk is full is raised as a
`DiskFullError` naming the checkpoint (`rlvr_jax.train._disk_full`); the run directory then removes the
partial `<step>.orbax-checkpoint-tmp` and names the last committed step.

A restored state holding NaN or inf raises CheckpointError naming the array: updates with a non-finite
loss or gradient are skipped, so a trained state never holds one, and resuming would only skip every
update.

A committed checkpoint that cannot be read (files deleted or damaged afterwards, or written by a run with
another model or objective) raises CheckpointError naming its directory. It does not fall back to an older
step: a commit is atomic, so such damage is not the trace of a crash but of a storage problem or a changed
config that a person should look at, and on a multi-host run the hosts could disagree about which step
they fell back to.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from rlvr_jax.config._sections import CheckpointConfig
from rlvr_jax.train._agreement import any_process
from rlvr_jax.train._disk_full import DiskFullError, as_disk_full, free_bytes

ITEMS = ("state", "data")
TMP_SUFFIX = ".orbax-checkpoint-tmp"
_TMP_STEP = re.compile(r"(\d+)" + re.escape(TMP_SUFFIX))


def committed_steps(directory: str) -> list[int]:
  """Steps of the committed checkpoints in `directory` (orbax renames a checkpoint to its step on commit)."""
  if not os.path.isdir(directory):
    return []
  return sorted(int(name) for name in os.listdir(directory)
                if name.isdigit() and os.path.isdir(os.path.join(directory, name)))


def remove_partial_checkpoints(directory: str) -> list[str]:
  """Deletes the temporary directories of uncommitted saves; returns their names."""
  if not os.path.isdir(directory):
    return []
  removed = sorted(name for name in os.listdir(directory) if TMP_SUFFIX in name)
  for name in removed:
    shutil.rmtree(os.path.join(directory, name), ignore_errors=True)
  return removed


def state_bytes(state: Any) -> int:
  """Bytes of a (global) train state: what a checkpoint of it takes on disk, about."""
  return sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(state))


class CheckpointError(ValueError):
  """A checkpoint in the run directory that cannot be resumed from; the message names its directory."""


class RunCheckpoints:
  """`CheckpointManager` over <run_dir>/checkpoints with items 'state' (pytree) and 'data' (JSON)."""

  def __init__(self, run_dir: str, config: CheckpointConfig):
    self.directory = os.path.join(os.path.abspath(run_dir), "checkpoints")
    if os.path.exists(self.directory) and not os.path.isdir(self.directory):
      raise CheckpointError(f"train.run_dir={run_dir!r}: {self.directory} exists and is not a directory")
    if jax.process_index() == 0:  # synchronously: orbax's own cleanup runs in a thread a failed start leaves behind
      remove_partial_checkpoints(self.directory)
    options = ocp.CheckpointManagerOptions(max_to_keep=config.keep, create=True, enable_async_checkpointing=True,
                                           cleanup_tmp_directories=False)
    self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=ITEMS)
    self.config = config
    self._pending: int | None = None  # the step of the newest save, which may still be being written

  def latest_step(self) -> int | None:
    """The newest committed step (never one whose save was interrupted)."""
    return self._manager.latest_step()

  def step_directory(self, step: int) -> str:
    return os.path.join(self.directory, str(step))

  def check(self, step: int) -> dict:
    """Reads what is cheap to read of checkpoint `step` (both items present, the data state) and returns
    the data state; call it before building the model, so a damaged checkpoint fails before a weight
    load. Array contents are verified by `restore` itself."""
    path = self.step_directory(step)
    missing = [item for item in ITEMS if not os.path.isdir(os.path.join(path, item))]
    if missing:
      raise CheckpointError(self._cannot_restore(step, f"item(s) {missing} missing"))
    try:
      return self._manager.restore(step, args=ocp.args.Composite(data=ocp.args.JsonRestore())).data
    except Exception as e:  # noqa: BLE001 - orbax and tensorstore raise many types for damaged files
      raise CheckpointError(self._cannot_restore(step, _summary(e))) from e

  def save(self, step: int, state: Any, data_state: dict, *, force: bool = False) -> bool:
    """Starts writing checkpoint `step` (asynchronously); raises DiskFullError, before anything is written,
    if the state does not fit in the free space, or if an earlier asynchronous save ran out of it."""
    needed, free = state_bytes(state), free_bytes(self.directory)
    if any_process(free is not None and needed > free):
      raise DiskFullError(f"checkpoint {step}", self._tmp_path(step), f"it needs about {needed / (1 << 20):.1f} "
                          f"MiB, {(free or 0) / (1 << 20):.1f} MiB are free", predicted=True)
    with self._writing(step):
      saved = self._manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                                data=ocp.args.JsonSave(data_state)),
                                 force=force)
    self._pending = step
    return saved

  def _tmp_path(self, step: int) -> str:
    return os.path.join(self.directory, f"{step}{TMP_SUFFIX}")

  def _writing(self, step: int | None):
    """Translates a disk-full error of a save (this one's, or an earlier asynchronous one's: orbax reports
    it at the next call) into a DiskFullError naming the checkpoint whose write failed."""
    return _SaveErrors(self, step)

  def restore(self, step: int, abstract_state: Any) -> tuple[Any, dict]:
    """Restores into the shardings and dtypes of `abstract_state` (a pytree of ShapeDtypeStructs
    with shardings, or of arrays)."""
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_state)
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(target), data=ocp.args.JsonRestore()))
    except Exception as e:  # noqa: BLE001 - orbax and tensorstore raise many types for damaged files
      raise CheckpointError(self._cannot_restore(step, _summary(e))) from e
    bad = non_finite_leaves(restored.state)
    if bad:
      more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
      raise CheckpointError(self._cannot_restore(step, f"{', '.join(bad[:3])}{more} hold(s) NaN or inf"))
    return restored.state, restored.data

  def _cannot_restore(self, step: int, reason: str) -> str:
    earlier = [s for s in self._manager.all_steps() if s < step]
    then = (f"to resume from step {max(earlier)}, the previous checkpoint" if earlier
            else "to start the run again from step 0")
    return (f"checkpoint {self.step_directory(step)} cannot be restored: {reason}. It was damaged after it was "
            f"written, or written by a run with another model or objective; delete that directory {then}, "
            f"or set train.run_dir to a new directory")

  def wait(self) -> None:
    with self._writing(None):
      self._manager.wait_until_finished()

  def close(self) -> None:
    """Waits for the last save and closes the manager, even when that save failed (its error is raised
    after the close, so no writer thread outlives the run)."""
    try:
      self.wait()
    except BaseException:
      with contextlib.suppress(Exception):  # it re-raises the save's error, which wait() reported already
        self._manager.close()
      raise
    self._manager.close()


class _SaveErrors:
  """The context of `RunCheckpoints._writing`."""

  def __init__(self, checkpoints: RunCheckpoints, step: int | None):
    self._checkpoints, self._step = checkpoints, step

  def __enter__(self):
    return self

  def __exit__(self, kind, error, traceback):
    if error is None or not isinstance(error, Exception):
      return False
    match = _TMP_STEP.search(str(error))
    step = int(match.group(1)) if match else getattr(self._checkpoints, "_pending", None) or self._step
    full = as_disk_full(error, f"checkpoint {step}", self._checkpoints._tmp_path(step))
    if full is None or full is error:
      return False
    raise full from error


@jax.jit
def _all_finite(x: jax.Array) -> jax.Array:
  return jnp.all(jnp.isfinite(x))


def non_finite_leaves(state: Any) -> list[str]:
  """Paths of the floating arrays of `state` holding NaN or inf: one jitted reduction per array, where its
  shards live (arrays of one shape and sharding share the compiled reduction); every process must call it."""
  bad = []
  for path, x in jax.tree_util.tree_leaves_with_path(state):
    if jnp.issubdtype(x.dtype, jnp.floating) and not bool(np.asarray(_all_finite(x).addressable_data(0))):
      bad.append(f"state{jax.tree_util.keystr(path)}")
  return bad


def _summary(error: Exception) -> str:
  """The error's type and message on one line, without the kilobytes of JSON spec tensorstore appends."""
  text = " ".join(str(error).split())
  for tail in (" [tensorstore_spec", " See full TensorStore details"):
    text = text.split(tail, 1)[0]
  return f"{type(error).__name__}: {text[:600]}"
