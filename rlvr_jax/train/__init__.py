"""Training: `train(spec)` runs (or resumes) a validated run (`rlvr_jax.config.validate`).

Public API:
  train(spec, devices=None, *, allow_config_change=False) -> TrainResult
  TrainResult, TrainingStopped
  build_programs, Programs        the run's compiled programs (also what launch/compile_check.py measures)
"""

from rlvr_jax.train.loop import TrainingStopped, TrainResult, train
from rlvr_jax.train.programs import Programs, build_programs

__all__ = ["Programs", "TrainResult", "TrainingStopped", "build_programs", "train"]
