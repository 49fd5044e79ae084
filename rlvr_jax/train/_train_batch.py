"""The trainer's rollout batch: the objective's `RolloutBatch` plus what PPO's critic trains on.

`RolloutBatch` (rlvr_jax.objectives._rollout_batch) is what the policy update and the diagnostics read;
the critic's targets are the trainer's business, so they extend it here rather than there. Mini-batches
are gathered with one `jax.tree.map`, so the critic's rows stay aligned with the actor's.
"""

from __future__ import annotations

import jax
from flax import struct

from rlvr_jax.objectives._rollout_batch import RolloutBatch


@struct.dataclass
class TrainBatch(RolloutBatch):
  """Attributes (besides `RolloutBatch`'s):
    returns: [R, N] float32 value targets (the GAE returns), or None without a critic.
    old_values: [R, N] float32 values of the rollout pass (the value clip's centre), or None.
  """

  returns: jax.Array | None = None
  old_values: jax.Array | None = None
