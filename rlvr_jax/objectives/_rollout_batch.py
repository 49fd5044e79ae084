"""The batch of scored responses that the update steps (and diagnostics) consume.

A leaf module: the trainer builds it, the update step and the diagnostics read it, and neither imports
the other to get the type.
"""

from __future__ import annotations

import jax
from flax import struct


@struct.dataclass
class RolloutBatch:
  """One batch of scored responses, rows = responses (prompt-major: prompt p's samples are adjacent).

  Prompts are left-padded to a common bucket P, completions right-padded to N, so response token t of
  every row sits at sequence position P + t and is predicted by position P + t - 1.

  Attributes:
    prompt_ids, prompt_mask: [R, P].
    completion_ids: [R, N].
    response_mask: [R, N] float32, tokens that enter the loss (real tokens, minus masked truncations).
    advantages: [R, N] float32.
    old_logp: [R, N] float32, log-probs under the parameters that generated the rollout (recomputed).
    old_entropy: [R, N] float32 entropy under those parameters, or None when nothing needs it.
    ref_logp: [R, N] float32 reference-policy log-probs, or None without a KL loss.
  """

  prompt_ids: jax.Array
  prompt_mask: jax.Array
  completion_ids: jax.Array
  response_mask: jax.Array
  advantages: jax.Array
  old_logp: jax.Array
  old_entropy: jax.Array | None = None
  ref_logp: jax.Array | None = None

  @property
  def num_rows(self) -> int:
    return self.prompt_ids.shape[0]

  def take(self, rows: jax.Array) -> "RolloutBatch":
    return jax.tree.map(lambda x: x[rows], self)
