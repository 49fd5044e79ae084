"""Group statistics and token-level return helpers shared by the advantage estimators.

Group statistics use segment reductions with B segments, so an estimator is one jit-able graph with no
Python loop over groups or tokens; group ids only need to lie in [0, B) (not contiguous, not sorted).
Token-level helpers reproduce how verl lays an outcome reward out over the response: the score sits on
the last response token (index sum(mask) - 1) and returns run backwards from there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlvr_jax.objectives.advantages._registry import AdvantageOutput

# verl `masked_whiten`: variance epsilon inside rsqrt, and `masked_mean`'s denominator epsilon.
WHITEN_EPS = 1e-8
MASKED_MEAN_EPS = 1e-8


def group_ids_from_size(num_responses: int, group_size: int) -> jax.Array:
  """[B] group ids for the usual layout: the `group_size` responses of each prompt are contiguous."""
  if not isinstance(group_size, int) or group_size <= 0:
    raise ValueError(f"group_size must be a positive int, got {group_size!r}")
  if not isinstance(num_responses, int) or num_responses <= 0 or num_responses % group_size:
    raise ValueError(
        f"num_responses={num_responses!r} must be a positive multiple of group_size={group_size}")
  return jnp.arange(num_responses, dtype=jnp.int32) // group_size


def broadcast(per_response: jax.Array, response_mask: jax.Array) -> jax.Array:
  """[B] -> [B, T], zero outside the response."""
  return jnp.where(response_mask, per_response[:, None], 0.0)


def group_count(group_ids: jax.Array) -> jax.Array:
  """[B] size of each response's group."""
  num = group_ids.shape[0]
  return jax.ops.segment_sum(jnp.ones((num,), jnp.float32), group_ids, num_segments=num)[group_ids]


def group_mean(values: jax.Array, group_ids: jax.Array) -> jax.Array:
  """[B] mean of each response's group.

  Accumulated relative to the group minimum so that a group of identical values has a mean equal to
  them bit for bit; otherwise a zero-variance group could get a tiny nonzero deviation, which GRPO's
  division by (std + 1e-6) would blow up.
  """
  num = group_ids.shape[0]
  shift = jax.ops.segment_min(values, group_ids, num_segments=num)[group_ids]
  total = jax.ops.segment_sum(values - shift, group_ids, num_segments=num)[group_ids]
  return shift + total / group_count(group_ids)


def group_std(values: jax.Array, group_ids: jax.Array, mean: jax.Array) -> jax.Array:
  """[B] unbiased (ddof=1, torch.std) standard deviation of each response's group; 0 for singletons."""
  num = group_ids.shape[0]
  count = group_count(group_ids)
  sq = jax.ops.segment_sum(jnp.square(values - mean), group_ids, num_segments=num)[group_ids]
  return jnp.sqrt(sq / jnp.maximum(count - 1.0, 1.0))


def masked_whiten(values: jax.Array, response_mask: jax.Array) -> jax.Array:
  """verl `masked_whiten` over every response token of the batch (longer responses weigh more).

  Unbiased variance (Bessel N / (N - 1)). verl raises for N <= 1 tokens; here N <= 1 skips the Bessel
  factor instead, since a traced count cannot raise. Zero outside the mask (verl leaves values there).
  """
  n = jnp.sum(response_mask, dtype=jnp.float32)
  mean = jnp.sum(jnp.where(response_mask, values, 0.0)) / (n + MASKED_MEAN_EPS)
  centered = values - mean
  var = jnp.sum(jnp.where(response_mask, jnp.square(centered), 0.0)) / (n + MASKED_MEAN_EPS)
  var = var * jnp.where(n > 1.0, n / jnp.maximum(n - 1.0, 1.0), 1.0)
  return jnp.where(response_mask, centered * jax.lax.rsqrt(var + WHITEN_EPS), 0.0)


def outcome_token_rewards(rewards: jax.Array, response_mask: jax.Array) -> jax.Array:
  """[B] scores -> [B, T] token rewards with the score on token sum(mask) - 1 (verl's reward managers).

  A row without response tokens gets no reward anywhere.
  """
  last = jnp.sum(response_mask, axis=-1) - 1  # [B]
  positions = jnp.arange(response_mask.shape[1])  # [T]
  return jnp.where(positions[None, :] == last[:, None], rewards[:, None], 0.0).astype(jnp.float32)


def discounted_returns(token_rewards: jax.Array, response_mask: jax.Array, gamma: float) -> jax.Array:
  """verl REINFORCE++ returns: G_t = r_t + gamma * G_{t+1}, the running return reset after masked positions.

  A reversed scan over T reproducing verl's loop (`running = running * mask[:, t]` after storing G_t),
  so a masked position inside a response cuts the return of the tokens before it.

  Returns:
    [B, T] float32 (not masked: verl whitens and masks afterwards).
  """
  mask = response_mask.astype(jnp.float32)

  def step(running: jax.Array, inputs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
    reward_t, mask_t = inputs  # [B], [B]
    ret = reward_t + gamma * running
    return ret * mask_t, ret

  _, returns = jax.lax.scan(step, jnp.zeros(mask.shape[:1], jnp.float32),
                            (token_rewards.T.astype(jnp.float32), mask.T), reverse=True)
  return returns.T  # [B, T]


def reward_to_go(token_rewards: jax.Array, response_mask: jax.Array) -> jax.Array:
  """verl ReMax / optimal-token-baseline returns: reversed cumulative sum of token_rewards * mask."""
  masked = jnp.where(response_mask, token_rewards.astype(jnp.float32), 0.0)
  return jnp.flip(jnp.cumsum(jnp.flip(masked, axis=-1), axis=-1), axis=-1)


def output(per_token: jax.Array, response_mask: jax.Array, keep: jax.Array | None = None,
           returns: jax.Array | None = None, **metrics: jax.Array) -> AdvantageOutput:
  """AdvantageOutput with advantages (and returns) zero outside the mask and for dropped responses."""
  if keep is None:
    keep = jnp.ones(per_token.shape[:1], bool)
  advantages = jnp.where(response_mask & keep[:, None], per_token, 0.0).astype(jnp.float32)
  returns = advantages if returns is None else jnp.where(response_mask, returns, 0.0).astype(jnp.float32)
  return AdvantageOutput(advantages=advantages, returns=returns, keep=keep, metrics=metrics)
