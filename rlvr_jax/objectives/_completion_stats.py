"""Teacher-forced token statistics of completions under a model: prompt + completion through the policy,
then the chunked LM head on the positions that predict the completion tokens.

Shared by everything that scores completions (the update step, the old / reference log-prob pass, the
warm start, diagnostics), so "position P + t - 1 predicts completion token t" is written once.
"""

from __future__ import annotations

import jax.numpy as jnp

from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.objectives._token_stats import TokenStats, token_statistics


def sequence_inputs(prompt_ids, prompt_mask, completion_ids, completion_mask):
  """Concatenated [R, P + N] ids and attention mask of prompt + completion."""
  ids = jnp.concatenate([prompt_ids, completion_ids], axis=1)
  mask = jnp.concatenate([prompt_mask.astype(jnp.int32), completion_mask.astype(jnp.int32)], axis=1)
  return ids, mask


def completion_statistics(model, prompt_ids, prompt_mask, completion_ids, completion_mask, *, temperature: float,
                          chunk_size: int, constrain: Constrain = no_constraint, remat: bool = False,
                          **stats_kwargs) -> TokenStats:
  """TokenStats [R, N] of the completion tokens under `model` (with gradient, if the caller takes one)."""
  ids, mask = sequence_inputs(prompt_ids, prompt_mask, completion_ids, completion_mask)
  hidden, _ = model(ids, mask, constrain=constrain, remat=remat)  # [R, P + N, D]
  prompt_len = prompt_ids.shape[1]
  # Position P + t - 1 predicts completion token t.
  predicting = hidden[:, prompt_len - 1: prompt_len - 1 + completion_ids.shape[1]]
  return token_statistics(predicting, model.unembed, completion_ids, temperature=temperature,
                          chunk_size=chunk_size, **stats_kwargs)
