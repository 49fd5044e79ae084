"""Prefill: run the prompts through the model once, fan the cache out to n samples, draw token 0.

The group of n samples per prompt shares its prompt, so the prompt's keys/values are computed once for
B rows and repeated to B * n rows, instead of running the prompt n times. Only the last prompt
position goes through the LM head ([B, V], never [B, P, V]).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlvr_jax.models import init_cache, positions_from_mask
from rlvr_jax.models._qwen import fan_out_cache
from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.models._qwen import Qwen
from rlvr_jax.sampling._draw import SamplerSpec
from rlvr_jax.sampling._loop import sample_step
from rlvr_jax.sampling._state import DecodeState, DecodeStats, FinishReason
from rlvr_jax.sampling._strategies import SamplingKnobs


def prefill(model: Qwen, prompt_ids: jax.Array, prompt_mask: jax.Array, row_keys: jax.Array,
            knobs: SamplingKnobs, spec: SamplerSpec, *, cache_dtype, constrain: Constrain = no_constraint
            ) -> DecodeState:
  """prompt_ids / prompt_mask [B, P] left-padded, row_keys [B * n] -> the decode state after token 0.

  The cache gets P + N - 1 slots: the prompt, then one slot per decode step (the last sampled token is
  never fed back, so it needs no slot).
  """
  batch, prompt_len = prompt_ids.shape
  n, new_tokens = spec.num_samples, spec.max_new_tokens
  positions = positions_from_mask(prompt_mask)  # [B, P]
  cache = init_cache(model.config, batch, prompt_len, cache_dtype, constrain, scan_layers=model.scan_layers)
  hidden, cache = model(prompt_ids, prompt_mask, positions, cache=cache, constrain=constrain)  # [B, P, D]
  # Left padding puts every row's last prompt token in the last column.
  logits = model.logits(hidden[:, -1:], constrain)[:, 0]  # [B, V]

  def fan_out(x: jax.Array) -> jax.Array:  # [B, ...] -> [B * n, ...], prompt-major
    return jnp.repeat(x, n, axis=0)

  cache = fan_out_cache(cache, n, new_tokens - 1, constrain, decode_block=spec.decode_block)
  # A write index per row (all equal here): decode steps then run the continuous sampler's model path
  # (one scatter per token), so both samplers compute a row the same way.
  cache = cache.replace(end_index=jnp.full((batch * n,), prompt_len, jnp.int32))
  rows = batch * n
  buffer = lambda dtype, fill: constrain(jnp.full((rows, new_tokens), fill, dtype), "act_bt")  # noqa: E731
  state = DecodeState(
      step=jnp.zeros((), jnp.int32),
      tokens=buffer(jnp.int32, spec.pad_id),
      logprobs=buffer(jnp.float32, 0.0),
      sampling_logprobs=buffer(jnp.float32, 0.0) if spec.sampling_logprobs else None,
      lengths=jnp.zeros((rows,), jnp.int32),
      done=jnp.zeros((rows,), jnp.bool_),
      finish_reason=jnp.full((rows,), FinishReason.LENGTH, jnp.int32),
      last_token=jnp.zeros((rows,), jnp.int32),
      last_position=fan_out(positions[:, -1]),
      row_keys=row_keys,
      cache=cache,
      stats=DecodeStats.zero(),
  )
  return sample_step(state, fan_out(logits), knobs, spec)
