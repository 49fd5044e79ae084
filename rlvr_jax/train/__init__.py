"""Training: `train(spec)` runs (or resumes) a validated run (`rlvr_jax.config.validate`).

Public API:
  train(spec, devices=None, *, allow_config_change=False) -> TrainResult
  TrainResult, TrainingStopped
  build_programs, Programs        the run's compiled programs (also what launch/compile_check.py measures)
"""

from rlvr_jax.train._checkpointing import CheckpointError
from rlvr_jax.train._disk_full import disk_full_cause, disk_full_error
from rlvr_jax.train._loop import TrainingStopped, TrainResult, train
from rlvr_jax.train._metrics_log import MetricsFileError
from rlvr_jax.train._optimizer import OptimConfig, make_optimizer
from rlvr_jax.train._programs import Programs, build_programs
from rlvr_jax.train._run_dir import RunDirError
from rlvr_jax.train._state import create_train_state
from rlvr_jax.train._update import UpdateConfig, make_update_step

__all__ = [
    "CheckpointError", "MetricsFileError", "OptimConfig", "Programs", "RunDirError", "TrainResult",
    "TrainingStopped", "UpdateConfig", "build_programs", "create_train_state", "disk_full_cause",
    "disk_full_error", "make_optimizer", "make_update_step", "train",
]
