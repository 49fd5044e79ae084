"""The pytrees that cross the sampler's jit boundaries: the decode loop state and the output.

Rows are prompt-major: row r = p * num_samples + j holds sample j of prompt p, so a GRPO group is a
contiguous block of rows.
"""

from __future__ import annotations

import enum

import jax
import jax.numpy as jnp
from flax import struct

from rlvr_jax.models import KVCache


class FinishReason(enum.IntEnum):
  """Why a row stopped (values of `SamplerOutput.finish_reason`).

  STOP: it emitted one of the stop token ids (kept, unmasked, as the last response token).
  LENGTH: it used all `max_new_tokens` without a stop token.
  TRUNCATED: the model's context window (`max_position_embeddings`) filled up before either.
  """

  STOP = 0
  LENGTH = 1
  TRUNCATED = 2


@struct.dataclass
class DecodeStats:
  """Counters of a decode loop, for utilization and bytes-per-token reports (bench/sampler.py).

  Attributes:
    steps: [] int32, decode iterations run (each runs the model once on every slot; token 0 of each
      row comes from the prefill's logits, not from a decode step).
    slot_steps: [] int32, slots summed over the decode iterations (the continuous sampler's tail runs
      fewer slots).
    busy_slot_steps: [] int32, slot-steps that decoded a live row (= useful tokens from decode steps).
    kv_slots_read: [] float32, cache slots read by decode attention, summed over steps and slots.
    kv_slots_row_bound: [] float32, the same for a decode kernel that bounds each row by its own fill
      (the TPU ragged kernel; what this run read when it ran that kernel), for comparison on any backend.
  """

  steps: jax.Array
  slot_steps: jax.Array
  busy_slot_steps: jax.Array
  kv_slots_read: jax.Array
  kv_slots_row_bound: jax.Array

  @classmethod
  def zero(cls) -> "DecodeStats":
    count = jnp.zeros((), jnp.int32)
    slots = jnp.zeros((), jnp.float32)
    return cls(steps=count, slot_steps=count, busy_slot_steps=count, kv_slots_read=slots, kv_slots_row_bound=slots)

  def count(self, busy: jax.Array, kv_slots_read: jax.Array, kv_slots_row_bound: jax.Array) -> "DecodeStats":
    """After one decode step with slots `busy` [S] bool that read `kv_slots_read` slots in all (and would
    have read `kv_slots_row_bound` with each row bounded by its own fill)."""
    return DecodeStats(steps=self.steps + 1, slot_steps=self.slot_steps + busy.shape[0],
                       busy_slot_steps=self.busy_slot_steps + jnp.sum(busy.astype(jnp.int32)),
                       kv_slots_read=self.kv_slots_read + kv_slots_read.astype(jnp.float32),
                       kv_slots_row_bound=self.kv_slots_row_bound + kv_slots_row_bound.astype(jnp.float32))


@struct.dataclass
class DecodeState:
  """Everything the decode loop carries; donated into the decode program, updated in place.

  Attributes:
    step: [] int32, index of the next response token to sample.
    tokens: [R, N] int32 response tokens so far (pad id after a row finished).
    logprobs: [R, N] float32 behaviour log-probs (0 where masked).
    sampling_logprobs: [R, N] float32 log-probs under the truncated sampling distribution, or None.
    lengths: [R] int32 real response tokens so far.
    done: [R] bool.
    finish_reason: [R] int32 `FinishReason`.
    last_token: [R] int32, the token the next decode step feeds to the model.
    last_position: [R] int32, its position (padding skipped: prompt length + step - 1).
    row_keys: [R] PRNG keys, one stream per (prompt id, sample index).
    cache: the KV cache, R rows.
    stats: `DecodeStats` counters.
  """

  step: jax.Array
  tokens: jax.Array
  logprobs: jax.Array
  sampling_logprobs: jax.Array | None
  lengths: jax.Array
  done: jax.Array
  finish_reason: jax.Array
  last_token: jax.Array
  last_position: jax.Array
  row_keys: jax.Array
  cache: KVCache
  stats: DecodeStats


@struct.dataclass
class SamplerOutput:
  """What the objective needs from a rollout (rows prompt-major, R = prompts x num_samples).

  Attributes:
    tokens: [R, N] int32 completion tokens; pad id after the end of each row.
    response_mask: [R, N] bool, True on real response tokens (the stop token included).
    lengths: [R] int32 number of real response tokens.
    finish_reason: [R] int32 `FinishReason`.
    logprobs: [R, N] float32 behaviour log-probs log_softmax(logits / T)[token] under the sampling
      parameters, before top-k / top-p / min-p truncation (T = 1 for greedy); 0 where masked.
    sampling_logprobs: [R, N] float32 log-probs under the truncated distribution actually sampled from
      (0 for greedy), or None when not requested.
    stats: the decode loop's `DecodeStats` (None once outputs of several calls are concatenated).
  """

  tokens: jax.Array
  response_mask: jax.Array
  lengths: jax.Array
  finish_reason: jax.Array
  logprobs: jax.Array
  sampling_logprobs: jax.Array | None = None
  stats: DecodeStats | None = None

  @property
  def truncated(self) -> jax.Array:
    """[R] bool: the row ended without a stop token (LENGTH or TRUNCATED), e.g. for overlong masking."""
    return self.finish_reason != FinishReason.STOP

  @classmethod
  def from_state(cls, state: DecodeState) -> "SamplerOutput":
    positions = jnp.arange(state.tokens.shape[1])
    return cls(tokens=state.tokens, response_mask=positions[None, :] < state.lengths[:, None],
               lengths=state.lengths, finish_reason=state.finish_reason, logprobs=state.logprobs,
               sampling_logprobs=state.sampling_logprobs, stats=state.stats)


def row_keys(key: jax.Array, prompt_rng_ids: jax.Array, num_samples: int) -> jax.Array:
  """[B * n] keys: fold_in(fold_in(key, prompt id), sample index), prompt-major.

  Derived from the prompt's own id rather than its row number, so a prompt's samples are the same
  whatever else is in the batch and however the rows are sharded.
  """
  per_prompt = jax.vmap(lambda i: jax.random.fold_in(key, i))(prompt_rng_ids)  # [B]
  samples = jnp.arange(num_samples)
  per_row = jax.vmap(lambda k: jax.vmap(lambda j: jax.random.fold_in(k, j))(samples))(per_prompt)  # [B, n]
  return per_row.reshape(-1)


def step_keys(keys: jax.Array, step: jax.Array) -> jax.Array:
  """[R] keys for decode step `step` ([] or per row [R]): each row's stream folded with its step index."""
  return jax.vmap(jax.random.fold_in)(keys, jnp.broadcast_to(step, keys.shape))
