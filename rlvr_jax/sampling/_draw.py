"""What one sampler step draws: the sampler's static settings (`SamplerSpec`) and `draw_tokens`, which the
static and the continuous samplers both call, so a row's token depends only on its own logits, key and
step.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from rlvr_jax.sampling._state import FinishReason, step_keys
from rlvr_jax.sampling._strategies import Greedy, SamplingKnobs, Strategy, logprob_temperature, token_log_probs

# (logits [R, V], row ids [R], steps [R]) -> logits [R, V]: a hook that edits a step's logits before the
# draw (bench/sampler.py forces response lengths with one). Static: part of the compiled program.
LogitsProcessor = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


# Rows per tile: the continuous sampler allocates its slots in whole tiles, and the batch-invariant mode
# runs each decode step one tile at a time (`rlvr_jax.sampling._row_tiles`).
ROW_TILE = 8


@dataclasses.dataclass(frozen=True)
class SamplerSpec:
  """The static half of the sampler configuration: every field changes the compiled program.

  Attributes:
    max_new_tokens: N, the response buffer length.
    num_samples: n completions per prompt (the GRPO group).
    stop_token_ids: ids that end a row (EOS, <|im_end|>, ...); may be empty.
    strategy: `Greedy()` or `Sample(top_k, nucleus)`.
    pad_id: written after a row's end.
    context_limit: the model's `max_position_embeddings`; a row whose next position would reach it
      finishes with `FinishReason.TRUNCATED`.
    sampling_logprobs: also record log-probs under the truncated sampling distribution.
    decode_block: decode attention reads the cache in blocks of this many slots, only up to the highest
      filled one (0 = every slot, XLA's masked attention).
    slots: 0 = static batch (every row keeps its slot until the batch ends); S > 0 = continuous batching
      with S slots (`rlvr_jax.sampling._continuous`).
    batch_invariant: run each decode step tile by tile (`rlvr_jax.sampling._row_tiles`), so a row's
      arithmetic does not depend on the batch size.
    logits_processor: an optional `LogitsProcessor`.
    slot_groups: the continuous sampler's slots, rows and prompts split into this many groups, one per
      data-parallel shard (`rlvr_jax.sampling._continuous`); set from the mesh.
  """

  max_new_tokens: int
  num_samples: int
  stop_token_ids: tuple[int, ...]
  strategy: Strategy
  pad_id: int
  context_limit: int
  sampling_logprobs: bool = False
  decode_block: int = 0
  slots: int = 0
  batch_invariant: bool = False
  logits_processor: LogitsProcessor | None = None
  slot_groups: int = 1


class Draw(NamedTuple):
  """One sampled token per row and what it means for the row ([R] arrays)."""

  tokens: jax.Array  # int32, the pad id where the row was not active
  behaviour: jax.Array  # float32 behaviour log-probs (0 where not active)
  sampling: jax.Array  # float32 log-probs under the truncated distribution (0 where not active)
  finished: jax.Array  # bool: the row ends with this token
  reason: jax.Array  # int32 `FinishReason` (meaningful where finished)
  position: jax.Array  # int32 position of this token in its row's sequence


def draw_tokens(logits: jax.Array, keys: jax.Array, rows: jax.Array, step: jax.Array, last_position: jax.Array,
                active: jax.Array, knobs: SamplingKnobs, spec: SamplerSpec) -> Draw:
  """Draws response token `step` ([] or per row [R]) of rows `rows` [R] (their output row ids) from
  `logits` [R, V].

  Row r draws from fold_in(keys[r], step[r]) and from its own logits only, so its token does not depend
  on which other rows share the batch: the static and the continuous samplers call this same function.
  """
  if spec.logits_processor is not None:
    logits = spec.logits_processor(logits, rows, jnp.broadcast_to(step, rows.shape))
  tokens, sampling_logp = spec.strategy(logits, knobs, step_keys(keys, step))  # [R], [R]
  # Greedy has no temperature; its behaviour log-probs are taken at T = 1 (`logprob_temperature`).
  temperature = logprob_temperature(0.0) if isinstance(spec.strategy, Greedy) else knobs.temperature
  behaviour = token_log_probs(logits, tokens, temperature)  # [R]
  tokens = jnp.where(active, tokens, spec.pad_id)
  position = last_position + 1  # where this token sits in its row's sequence
  if spec.stop_token_ids:
    stopped = active & jnp.isin(tokens, jnp.asarray(spec.stop_token_ids, jnp.int32))
  else:
    stopped = jnp.zeros_like(active)
  out_of_budget = active & (step + 1 >= spec.max_new_tokens)
  out_of_context = active & (position + 1 >= spec.context_limit)
  reason = jnp.where(stopped, FinishReason.STOP,
                     jnp.where(out_of_budget, FinishReason.LENGTH, FinishReason.TRUNCATED)).astype(jnp.int32)
  return Draw(tokens=tokens, behaviour=jnp.where(active, behaviour, 0.0),
              sampling=jnp.where(active, sampling_logp, 0.0), finished=stopped | out_of_budget | out_of_context,
              reason=reason, position=position)
