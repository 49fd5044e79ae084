"""Teacher-forced token statistics of completions under a model: prompt + completion through the policy,
then the chunked LM head on the positions that predict the completion tokens.

Shared by everything that scores completions (the update step, the old / reference log-prob pass, the
warm start, diagnostics), so "position P + t - 1 predicts completion token t" is written once.

RL batches come in groups of n samples of one prompt (prompt-major rows). With `prompt_group_size` = n
the prompt goes through the model once per group and each sample attends to its group's cached prompt
keys / values, as the sampler's prefill does: the same function (the prompt's cotangents from the n
samples are summed by the fan-out), with (G * P + R * N) instead of R * (P + N) token positions, so it
saves the most where prompts are long next to the responses. The responses then use the XLA attention
path against the cache ([R, heads, N, P + N] scores), not a fused kernel.
"""

from __future__ import annotations

import jax.numpy as jnp

from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.models._qwen import fan_out_cache, init_cache, positions_from_mask
from rlvr_jax.objectives._token_stats import TokenStats, token_statistics


def sequence_inputs(prompt_ids, prompt_mask, completion_ids, completion_mask):
  """Concatenated [R, P + N] ids and attention mask of prompt + completion."""
  ids = jnp.concatenate([prompt_ids, completion_ids], axis=1)
  mask = jnp.concatenate([prompt_mask.astype(jnp.int32), completion_mask.astype(jnp.int32)], axis=1)
  return ids, mask


def completion_hidden(model, prompt_ids, prompt_mask, completion_ids, completion_mask, *,
                      constrain: Constrain = no_constraint, remat: bool = False, prompt_group_size: int = 1):
  """[R, N, D] final hidden states at the positions that predict the N completion tokens (P + t - 1)."""
  prompt_len, new_tokens = prompt_ids.shape[1], completion_ids.shape[1]
  if prompt_group_size == 1:
    ids, mask = sequence_inputs(prompt_ids, prompt_mask, completion_ids, completion_mask)
    hidden, _ = model(ids, mask, constrain=constrain, remat=remat)  # [R, P + N, D]
    return hidden[:, prompt_len - 1: prompt_len - 1 + new_tokens]
  rows = prompt_ids.shape[0]
  if rows % prompt_group_size:
    raise ValueError(f"{rows} rows do not split into groups of prompt_group_size={prompt_group_size}")
  # Row g * n of each group stands for the group's prompt (the rows of a group share it).
  group_ids, group_mask = prompt_ids[::prompt_group_size], prompt_mask[::prompt_group_size]  # [G, P]
  cache = init_cache(model.config, rows // prompt_group_size, prompt_len, model.dtype, constrain,
                     scan_layers=model.scan_layers)
  prompt_hidden, cache = model(group_ids, group_mask, positions_from_mask(group_mask), cache=cache,
                               constrain=constrain, remat=remat)  # [G, P, D]
  cache = fan_out_cache(cache, prompt_group_size, new_tokens, constrain)  # [R, P + N] slots
  _, mask = sequence_inputs(prompt_ids, prompt_mask, completion_ids, completion_mask)
  positions = positions_from_mask(mask)[:, prompt_len:]  # [R, N], as in the whole-sequence forward
  completion_hidden_, _ = model(completion_ids, completion_mask, positions, cache=cache, constrain=constrain,
                                remat=remat)  # [R, N, D]
  # Left padding puts every prompt's last token in the last column: it predicts completion token 0.
  last_prompt = jnp.repeat(prompt_hidden[:, -1:], prompt_group_size, axis=0)  # [R, 1, D]
  return jnp.concatenate([last_prompt, completion_hidden_[:, :-1]], axis=1)


def completion_statistics(model, prompt_ids, prompt_mask, completion_ids, completion_mask, *, temperature: float,
                          chunk_size: int, constrain: Constrain = no_constraint, remat: bool = False,
                          prompt_group_size: int = 1, **stats_kwargs) -> TokenStats:
  """TokenStats [R, N] of the completion tokens under `model` (with gradient, if the caller takes one).

  `prompt_group_size` = n > 1: rows are consecutive groups of n that share one (left-padded) prompt,
  which then runs once per group (module docstring).
  """
  predicting = completion_hidden(model, prompt_ids, prompt_mask, completion_ids, completion_mask,
                                 constrain=constrain, remat=remat, prompt_group_size=prompt_group_size)
  return token_statistics(predicting, model.unembed, completion_ids, temperature=temperature,
                          chunk_size=chunk_size, **stats_kwargs)
