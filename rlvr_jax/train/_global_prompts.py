"""The global prompt batch on every host of a multi-process run.

Each host's `PromptIterator` yields only its share of a rollout step's prompts (position i of host h's
batch is position h + n i of the global batch; `rlvr_jax.data._pipeline`). The rest of the step wants the
global batch on every host: the sampler's inputs are global arrays that every process must describe
identically, and the host work after sampling (decoding, rewards, group advantages, dynamic sampling's
refill decision) must come out the same everywhere, or the hosts would diverge and deadlock in the next
collective. So only the row ids cross hosts (P int32 per step, one all-gather), and every host re-collates
the global batch from its own copy of the tokenized prompt table. The result is the batch a single
process would have drawn, so a run's numbers do not depend on how many processes it has.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils

from rlvr_jax.data import PromptBatch
from rlvr_jax.data._pipeline import PromptIterator


def global_order(per_host: np.ndarray) -> np.ndarray:
  """[hosts, P / hosts] row ids, host h's row i at global position h + hosts * i -> [P] in global order."""
  return np.asarray(per_host).T.reshape(-1)


class GlobalPromptBatches:
  """Iterator of global `PromptBatch`es over a host's `PromptIterator`; its state is the host iterator's
  (the same on every host), so checkpoints do not change with the process count."""

  def __init__(self, local: PromptIterator):
    if local.process_count != jax.process_count():
      raise ValueError(f"the prompt iterator was built for process_count={local.process_count}, but the run "
                       f"has {jax.process_count()} processes")
    self.local = local
    self.num_prompts = local.num_prompts
    self.counts = local.counts

  def __iter__(self) -> GlobalPromptBatches:
    return self

  def __next__(self) -> PromptBatch:
    batch = next(self.local)
    if jax.process_count() == 1:
      return batch
    per_host = np.asarray(multihost_utils.process_allgather(batch.row_ids))  # [hosts, P / hosts]
    return self.local.collate_rows(global_order(per_host))

  def state(self) -> dict:
    return self.local.state()

  def restore(self, state: dict) -> None:
    self.local.restore(state)
