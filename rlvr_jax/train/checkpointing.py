"""Run checkpoints with orbax: the train state (params, optimizer, transform states, step, PRNG) and the
data iterator's state, saved together so a resume continues exactly where the run stopped.

Crash safety: orbax writes each checkpoint into `<step>.orbax-checkpoint-tmp` and renames it to `<step>`
only once every item is complete (atomic commit), and `latest_step` only sees committed names, so a crash
or kill during a save leaves the previous checkpoint as the latest (tests/reliability/
test_checkpoint_crash.py kills a writer mid-save). Old checkpoints beyond `keep` are deleted only after the
new one is committed. The manager removes leftover temporary directories when it opens, so a killed save
does not hold disk space across restarts. Saves are asynchronous: training continues while arrays are
written.

Several processes: every process calls `save` and `restore` with the same global train state (orbax
coordinates them: each process writes and reads the shards its devices hold, and the commit happens once
all are written); the data item is the iterator state, which is the same on every host. The run
directory must be on storage every host sees (a shared disk, or a bucket path on a pod).

A committed checkpoint that cannot be read (files deleted or damaged afterwards, or written by a run with
another model or objective) raises CheckpointError naming its directory. It does not fall back to an older
step: a commit is atomic, so such damage is not the trace of a crash but of a storage problem or a changed
config that a person should look at, and on a multi-host run the hosts could disagree about which step
they fell back to.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from rlvr_jax.config.sections import CheckpointConfig

ITEMS = ("state", "data")


class CheckpointError(ValueError):
  """A checkpoint in the run directory that cannot be resumed from; the message names its directory."""


class RunCheckpoints:
  """`CheckpointManager` over <run_dir>/checkpoints with items 'state' (pytree) and 'data' (JSON)."""

  def __init__(self, run_dir: str, config: CheckpointConfig):
    self.directory = os.path.join(os.path.abspath(run_dir), "checkpoints")
    if os.path.exists(self.directory) and not os.path.isdir(self.directory):
      raise CheckpointError(f"train.run_dir={run_dir!r}: {self.directory} exists and is not a directory")
    options = ocp.CheckpointManagerOptions(max_to_keep=config.keep, create=True, enable_async_checkpointing=True,
                                           cleanup_tmp_directories=True)
    self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=ITEMS)
    self.config = config

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
    return self._manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                             data=ocp.args.JsonSave(data_state)),
                              force=force)

  def restore(self, step: int, abstract_state: Any) -> tuple[Any, dict]:
    """Restores into the shardings and dtypes of `abstract_state` (a pytree of ShapeDtypeStructs
    with shardings, or of arrays)."""
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_state)
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(target), data=ocp.args.JsonRestore()))
    except Exception as e:  # noqa: BLE001 - orbax and tensorstore raise many types for damaged files
      raise CheckpointError(self._cannot_restore(step, _summary(e))) from e
    return restored.state, restored.data

  def _cannot_restore(self, step: int, reason: str) -> str:
    earlier = [s for s in self._manager.all_steps() if s < step]
    then = (f"to resume from step {max(earlier)}, the previous checkpoint" if earlier
            else "to start the run again from step 0")
    return (f"checkpoint {self.step_directory(step)} cannot be restored: {reason}. It was damaged after it was "
            f"written, or written by a run with another model or objective; delete that directory {then}, "
            f"or set train.run_dir to a new directory")

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def _summary(error: Exception) -> str:
  """The error's type and message on one line, without the kilobytes of JSON spec tensorstore appends."""
  text = " ".join(str(error).split())
  for tail in (" [tensorstore_spec", " See full TensorStore details"):
    text = text.split(tail, 1)[0]
  return f"{type(error).__name__}: {text[:600]}"
