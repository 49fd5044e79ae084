"""In-graph decode: one `lax.while_loop` over `DecodeState`, one token per row per iteration.

The loop stops as soon as every row has finished (or at `max_new_tokens`), with no host round trip:
a host-driven loop that checks for early stopping costs a device->host sync per token. Rows that
finished keep stepping with the rest of the batch (shapes are static) but write only padding, masked
in the cache and in the outputs.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.models._qwen import Qwen
from rlvr_jax.sampling._state import DecodeState, FinishReason, step_keys
from rlvr_jax.sampling._strategies import Greedy, SamplingKnobs, Strategy, logprob_temperature, token_log_probs


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
  """

  max_new_tokens: int
  num_samples: int
  stop_token_ids: tuple[int, ...]
  strategy: Strategy
  pad_id: int
  context_limit: int
  sampling_logprobs: bool = False


def sample_step(state: DecodeState, logits: jax.Array, knobs: SamplingKnobs, spec: SamplerSpec) -> DecodeState:
  """Draws response token `state.step` of every row from `logits` [R, V] and records it."""
  t = state.step
  tokens, sampling_logp = spec.strategy(logits, knobs, step_keys(state.row_keys, t))  # [R], [R]
  # Greedy has no temperature; its behaviour log-probs are taken at T = 1 (`logprob_temperature`).
  temperature = logprob_temperature(0.0) if isinstance(spec.strategy, Greedy) else knobs.temperature
  behaviour = token_log_probs(logits, tokens, temperature)  # [R]

  active = ~state.done
  tokens = jnp.where(active, tokens, spec.pad_id)
  position = state.last_position + 1  # where this token sits in its row's sequence
  if spec.stop_token_ids:
    stopped = active & jnp.isin(tokens, jnp.asarray(spec.stop_token_ids, jnp.int32))
  else:
    stopped = jnp.zeros_like(active)
  out_of_budget = active & (t + 1 >= spec.max_new_tokens)
  out_of_context = active & (position + 1 >= spec.context_limit)
  finished = stopped | out_of_budget | out_of_context
  reason = jnp.where(stopped, FinishReason.STOP,
                     jnp.where(out_of_budget, FinishReason.LENGTH, FinishReason.TRUNCATED)).astype(jnp.int32)

  def write(buffer: jax.Array, column: jax.Array) -> jax.Array:  # [R, N] <- [R] at column t, in place
    return jax.lax.dynamic_update_index_in_dim(buffer, column.astype(buffer.dtype), t, axis=1)

  sampling_logprobs = state.sampling_logprobs
  if sampling_logprobs is not None:
    sampling_logprobs = write(sampling_logprobs, jnp.where(active, sampling_logp, 0.0))
  return state.replace(
      step=t + 1,
      tokens=write(state.tokens, tokens),
      logprobs=write(state.logprobs, jnp.where(active, behaviour, 0.0)),
      sampling_logprobs=sampling_logprobs,
      lengths=state.lengths + active.astype(jnp.int32),
      done=state.done | finished,
      finish_reason=jnp.where(finished, reason, state.finish_reason),
      last_token=tokens,
      last_position=position,
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
    hidden, cache = model(s.last_token[:, None], ~s.done[:, None], s.last_position[:, None], cache=s.cache,
                          constrain=constrain)  # [R, 1, D]
    logits = model.logits(hidden, constrain)[:, 0]  # [R, V] float32
    return sample_step(s.replace(cache=cache), logits, knobs, spec)

  return jax.lax.while_loop(keep_going, step, state)
