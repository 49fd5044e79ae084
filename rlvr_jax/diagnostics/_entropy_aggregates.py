"""The batch entropy each method watches or regularizes, side by side on the same rollout batch.

Methods disagree on which entropy matters: GRPO/Clip-Cov/Positive-Advantage logs the full-distribution
token entropy; SIREN regularizes the top-p (nucleus) entropy, and only at each response's peak-entropy
positions. Logging all three for every method shows, e.g., whether a run whose full entropy "explodes"
is only inflating the vocabulary tail (top-p entropy flat) — the failure SIREN is built around.

Definitions (docs/methods.md, algorithms.md §6), over the valid response tokens of the batch:
  diag/entropy/full         token-mean of H (full vocabulary).
  diag/entropy/top_p        token-mean of SIREN's top-p entropy H_p (`token_stats`, exact code semantics:
                            the token whose cumulative mass reaches p is excluded, so a top-1 mass >= p
                            gives H_p = 0).
  diag/entropy/peak_masked  SIREN's Hbar: seq-mean-token-mean of H_p over the tokens strictly above their
                            row's mask_ratio quantile of H_p (`siren.peak_entropy_mask`); a row with no
                            such token counts as 0. On a SIREN run with the same top_p / mask_ratio this
                            equals its `siren/entropy` on the same parameters.
  diag/entropy/peak_fraction  selected tokens / valid tokens (how many positions SIREN's mask keeps).

The scoring pass never builds a [B, T, V] tensor: rows go `rows_per_chunk` at a time through
`lax.map`, and within a chunk `token_statistics` computes the LM head `chunk_size` tokens at a time.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.models._precision import merge_for_reading
from rlvr_jax.objectives._token_stats import validate_topp
from rlvr_jax.objectives.transforms.siren import grouped_seq_mean_token_mean, peak_entropy_mask
from rlvr_jax.objectives._validation import check_int, check_number
from rlvr_jax.objectives._completion_stats import completion_statistics


def entropy_aggregates(entropy: jax.Array, topp_entropy: jax.Array, mask: jax.Array, *,
                       mask_ratio: float = 0.8) -> dict[str, jax.Array]:
  """The `diag/entropy/*` scalars (float32) from per-token entropies; jit-able (mask_ratio static).

  Args:
    entropy: [B, T] full-vocabulary entropy.
    topp_entropy: [B, T] SIREN top-p entropy.
    mask: [B, T] valid tokens.
    mask_ratio: SIREN's per-row quantile level of the peak-entropy mask.
  """
  check_number("diagnostics", "mask_ratio", mask_ratio, low=0.0, high=1.0)
  valid = mask > 0
  count = jnp.maximum(jnp.sum(valid, dtype=jnp.float32), 1.0)

  def token_mean(values):
    return jnp.sum(jnp.where(valid, values.astype(jnp.float32), 0.0)) / count

  selected = peak_entropy_mask(topp_entropy, valid, mask_ratio)  # [B, T]
  rows = jnp.zeros((mask.shape[0],), jnp.int32)  # one group: the whole batch
  peak, _ = grouped_seq_mean_token_mean(topp_entropy, selected, rows, 1)
  return {
      "diag/entropy/full": token_mean(entropy),
      "diag/entropy/top_p": token_mean(topp_entropy),
      "diag/entropy/peak_masked": peak[0],
      "diag/entropy/peak_fraction": jnp.sum(selected, dtype=jnp.float32) / count,
  }


def make_entropy_aggregates_fn(graphdef: nnx.GraphDef, *, temperature: float, chunk_size: int,
                               rows_per_chunk: int, top_p: float = 0.8, top_k: int = 10000,
                               mask_ratio: float = 0.8, constrain: Constrain = no_constraint) -> Callable:
  """jit(params, prompt_ids, prompt_mask, completion_ids, completion_mask) -> `diag/entropy/*` scalars.

  Args:
    graphdef: the policy's graph definition (parameters are arguments, so new weights never recompile).
    temperature: rollout temperature (logits are divided by it, as in the old-log-prob pass).
    chunk_size: tokens per LM-head chunk.
    rows_per_chunk: rows scored together; the row count must split into chunks of this size.
    top_p, top_k: SIREN's nucleus (defaults: exp_scripts/siren.sh).
    mask_ratio: SIREN's peak-mask quantile.
    constrain: activation sharding constraint of the model call.
  """
  validate_topp(top_p=top_p, top_k=top_k)
  check_number("diagnostics", "mask_ratio", mask_ratio, low=0.0, high=1.0)
  check_int("diagnostics", "rows_per_chunk", rows_per_chunk, low=1)
  check_int("diagnostics", "chunk_size", chunk_size, low=1)

  @jax.jit
  def aggregates(params, prompt_ids, prompt_mask, completion_ids, completion_mask):
    model = merge_for_reading(graphdef, params)
    rows = prompt_ids.shape[0]
    chunks = max(rows // rows_per_chunk, 1)
    if rows % chunks:
      raise ValueError(f"entropy aggregates: {rows} rows do not split into chunks of "
                       f"rows_per_chunk={rows_per_chunk}")

    def split(x):  # [R, ...] -> [chunks, R / chunks, ...], chunk c = rows c, c + chunks, ...
      return jnp.swapaxes(x.reshape((rows // chunks, chunks) + x.shape[1:]), 0, 1)

    def one(inputs):
      stats = completion_statistics(model, *inputs, temperature=temperature, chunk_size=chunk_size,
                                    constrain=constrain, with_entropy=True, top_p=top_p, top_k=top_k)
      return stats.entropy, stats.topp_entropy

    entropy, topp = jax.lax.map(one, tuple(split(x) for x in (prompt_ids, prompt_mask, completion_ids,
                                                              completion_mask)))
    unsplit = lambda x: jnp.swapaxes(x, 0, 1).reshape((rows,) + x.shape[2:])  # noqa: E731
    return entropy_aggregates(unsplit(entropy), unsplit(topp), completion_mask, mask_ratio=mask_ratio)

  return aggregates
