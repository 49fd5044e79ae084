"""A run's sampling settings and the generate function built from them, shared by the trainer's rollouts
and the evaluator, so both sample the same way from live parameters."""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rlvr_jax.sampling._sampler import DEFAULT_DECODE_BLOCK, generate
from rlvr_jax.sampling._strategies import logprob_temperature


@dataclasses.dataclass(frozen=True)
class SamplingSettings:
  """How responses are drawn (static: each distinct value compiles its own sampler).

  Attributes:
    num_samples: responses per prompt (the GRPO group).
    max_new_tokens: response budget.
    temperature: 0 = greedy.
    top_p, top_k: truncation (1.0 / 0 = off).
    stop_token_ids: ids that end a response.
    slots: 0 = the static batch; S > 0 = continuous batching with S decode slots (`generate`'s `slots`).
    decode_block: cache slots decode attention reads at a time (`generate`'s `decode_block`).
  """

  num_samples: int
  max_new_tokens: int
  temperature: float
  top_p: float
  top_k: int
  stop_token_ids: tuple[int, ...]
  slots: int = 0
  decode_block: int = DEFAULT_DECODE_BLOCK

  @property
  def logprob_temperature(self) -> float:
    """The temperature behaviour log-probs (and the trainer's recomputed ones) are taken at."""
    return logprob_temperature(self.temperature)


def make_generate_fn(graphdef: nnx.GraphDef, settings: SamplingSettings, mesh, *, calls: int = 1) -> Callable:
  """(params, prompt_ids, prompt_mask, prompt_row_ids, key) -> sampler output, from live parameters.

  Parameters are passed in (not captured), so new weights after each update never recompile; each
  prompt's samples draw from keys folded with its dataset row id, so they do not depend on the batch.
  That is what lets `calls` > 1 split a batch into that many equal sampler calls run one after another
  (`rollout.prompts_per_call`: the KV cache of a whole generation batch need not fit at once) with the
  same responses as one call, through one compiled program.
  """
  def call(params, prompt_ids, prompt_mask, prompt_row_ids, key):
    # Host (numpy) prompts: the sampler validates their left padding before placing them.
    return generate(nnx.merge(graphdef, params), prompt_ids, prompt_mask, key=key,
                    prompt_ids_for_rng=prompt_row_ids, max_new_tokens=settings.max_new_tokens,
                    temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
                    stop_token_ids=settings.stop_token_ids, num_samples=settings.num_samples, mesh=mesh,
                    slots=settings.slots, decode_block=settings.decode_block)

  def run(params, prompt_ids, prompt_mask, prompt_row_ids, key):
    ids, mask, row_ids = np.asarray(prompt_ids), np.asarray(prompt_mask), np.asarray(prompt_row_ids)
    if calls == 1:
      return call(params, ids, mask, row_ids, key)
    if ids.shape[0] % calls:
      raise ValueError(f"{ids.shape[0]} prompts do not split into {calls} equal sampler calls")
    parts = [call(params, *(np.array_split(x, calls)[i] for x in (ids, mask, row_ids)), key) for i in range(calls)]
    stats = jax.tree.map(lambda *xs: sum(xs), *(p.stats for p in parts))  # the calls' counters add up
    rows = jax.tree.map(lambda *xs: jnp.concatenate(xs), *(p.replace(stats=None) for p in parts))
    return rows.replace(stats=stats)

  return run
