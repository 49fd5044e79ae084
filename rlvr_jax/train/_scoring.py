"""Teacher-forced token statistics of completions: the "old log-prob" pass after a rollout (log-probs and
entropies of the rollout policy, sum_v pi(v)^2 for the optimal token baseline, and reference log-probs for
KL), computed chunk by chunk over tokens.
"""

from __future__ import annotations

import functools
from typing import Callable

import jax
from flax import nnx

from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.models._precision import merge_for_reading
from rlvr_jax.objectives._completion_stats import completion_statistics
from rlvr_jax.train._row_chunks import map_row_chunks


def make_scoring_fn(graphdef: nnx.GraphDef, *, temperature: float, chunk_size: int, with_entropy: bool,
                    rows_per_chunk: int, constrain: Constrain = no_constraint,
                    with_sum_pi_squared: bool = False, prompt_group_size: int = 1) -> Callable:
  """jit(params, prompt_ids, prompt_mask, completion_ids, completion_mask) -> (logp [R, N], entropy | None),
  or, `with_sum_pi_squared`, (logp, entropy | None, sum_pi_squared [R, N]).

  Rows are processed `rows_per_chunk` at a time with `lax.map`, bounding activation memory like the
  micro-batches of the update step. Parameters are arguments, so new weights never recompile.
  sum_v pi(v)^2 (the optimal token baseline's path-variance input) is computed in the same vocabulary
  pass as the log-probs, so it costs no second forward. With `prompt_group_size` = n > 1 the rows are
  groups of n responses to one prompt, chunks hold whole groups, and each prompt runs once
  (`completion_statistics`).
  """

  @functools.partial(jax.jit, static_argnums=())
  def score(params, prompt_ids, prompt_mask, completion_ids, completion_mask):
    model = merge_for_reading(graphdef, params)

    def one(*inputs):
      stats = completion_statistics(model, *inputs, temperature=temperature, chunk_size=chunk_size,
                                    constrain=constrain, with_entropy=with_entropy,
                                    with_sum_pi_squared=with_sum_pi_squared, prompt_group_size=prompt_group_size)
      return stats.logp, stats.entropy, stats.sum_pi_squared  # None for what was not requested

    logp, entropy, sum_pi_squared = map_row_chunks(
        one, (prompt_ids, prompt_mask, completion_ids, completion_mask), rows_per_chunk, prompt_group_size)
    return (logp, entropy, sum_pi_squared) if with_sum_pi_squared else (logp, entropy)

  return score
