"""Run checkpoints with orbax: the train state (params, optimizer, transform states, step, PRNG) and the
data iterator's state, saved together so a resume continues exactly where the run stopped.

orbax writes each checkpoint to a temporary directory and renames it when complete (atomic commit), so
a crash or kill during a save never leaves a checkpoint that `latest_step` would pick up half-written.
Saves are asynchronous: training continues while the arrays are written.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax
import orbax.checkpoint as ocp


@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
  """Attributes:
    every: save every N rollout steps (0: only at the end).
    keep: number of checkpoints kept.
    export_hf_every: also export the policy as an HF directory every N rollout steps (0: only at the end).
  """

  every: int = 50
  keep: int = 3
  export_hf_every: int = 0

  def __post_init__(self):
    if self.every < 0 or self.keep < 1 or self.export_hf_every < 0:
      raise ValueError(f"checkpoint config every={self.every}, keep={self.keep}, "
                       f"export_hf_every={self.export_hf_every}: need every >= 0, keep >= 1")


class RunCheckpoints:
  """`CheckpointManager` over <run_dir>/checkpoints with items 'state' (pytree) and 'data' (JSON)."""

  def __init__(self, run_dir: str, config: CheckpointConfig):
    self.directory = os.path.join(os.path.abspath(run_dir), "checkpoints")
    options = ocp.CheckpointManagerOptions(max_to_keep=config.keep, create=True,
                                           enable_async_checkpointing=True)
    self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "data"))
    self.config = config

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: Any, data_state: dict, *, force: bool = False) -> bool:
    return self._manager.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                             data=ocp.args.JsonSave(data_state)),
                              force=force)

  def restore(self, step: int, abstract_state: Any) -> tuple[Any, dict]:
    """Restores into the shardings and dtypes of `abstract_state` (a pytree of ShapeDtypeStructs
    with shardings, or of arrays)."""
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_state)
    restored = self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target),
                                                                    data=ocp.args.JsonRestore()))
    return restored.state, restored.data

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
