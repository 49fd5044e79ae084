"""In-graph decode: one `lax.while_loop` over `DecodeState`, one token per row per iteration.

The loop stops as soon as every row has finished (or at `max_new_tokens`), with no host round trip:
a host-driven loop that checks for early stopping costs a device->host sync per token. Rows that
finished keep stepping with the rest of the batch (shapes are static) but write only padding, masked
in the cache and in the outputs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlvr_jax.models._decode_attention import slots_read
from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.models._qwen import Qwen
from rlvr_jax.sampling._draw import SamplerSpec
from rlvr_jax.sampling._row_tiles import decode_logits, draw_rows
from rlvr_jax.sampling._state import DecodeState
from rlvr_jax.sampling._strategies import SamplingKnobs


def sample_step(state: DecodeState, logits: jax.Array, knobs: SamplingKnobs, spec: SamplerSpec) -> DecodeState:
  """Draws response token `state.step` of every row from `logits` [R, V] and records it."""
  t = state.step
  active = ~state.done
  draw = draw_rows(logits, state.row_keys, jnp.arange(active.shape[0]), t, state.last_position, active, knobs, spec)

  def write(buffer: jax.Array, column: jax.Array) -> jax.Array:  # [R, N] <- [R] at column t, in place
    return jax.lax.dynamic_update_index_in_dim(buffer, column.astype(buffer.dtype), t, axis=1)

  sampling_logprobs = state.sampling_logprobs
  if sampling_logprobs is not None:
    sampling_logprobs = write(sampling_logprobs, draw.sampling)
  return state.replace(
      step=t + 1,
      tokens=write(state.tokens, draw.tokens),
      logprobs=write(state.logprobs, draw.behaviour),
      sampling_logprobs=sampling_logprobs,
      lengths=state.lengths + active.astype(jnp.int32),
      done=state.done | draw.finished,
      finish_reason=jnp.where(draw.finished, draw.reason, state.finish_reason),
      last_token=draw.tokens,
      last_position=draw.position,
  )


def decode(model: Qwen, state: DecodeState, knobs: SamplingKnobs, spec: SamplerSpec, *,
           constrain: Constrain = no_constraint) -> DecodeState:
  """Runs decode steps until every row is done or `max_new_tokens` tokens were sampled.

  Each iteration feeds the previous token of every row through the model against the cache (one new
  slot per row, all rows writing the same slot) and samples the next one. Finished rows feed padding
  with a 0 attention mask, so their slots stay masked.
  """

  def keep_going(s: DecodeState) -> jax.Array:
    return (s.step < spec.max_new_tokens) & ~jnp.all(s.done)

  def step(s: DecodeState) -> DecodeState:
    logits, cache = decode_logits(model, s.last_token, ~s.done, s.last_position, s.cache, spec,
                                  constrain)  # [R, V] float32
    read = slots_read(jnp.max(cache.end_index), cache.max_length, spec.decode_block) * s.done.shape[0]
    stats = s.stats.count(~s.done, read, read)  # every row writes the same slot: its own bound is the batch's
    return sample_step(s.replace(cache=cache, stats=stats), logits, knobs, spec)

  return jax.lax.while_loop(keep_going, step, state)
