"""Estimators whose baseline is not the group's mean reward: ReMax and verl's optimal token baseline.

Both return A_t = G_t - b_t with G_t the reward-to-go of the token rewards (the score on the last
response token, minus the in-reward KL penalty when `token_rewards` are given). verl:
`verl/trainer/ppo/core_algos.py` (verl-project/verl 018f23b5: `compute_remax_outcome_advantage`,
`compute_optimal_token_baseline_advantage`; ReMax is unchanged since v0.4.1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlvr_jax.objectives.advantages._groups import group_count, outcome_token_rewards, output, reward_to_go
from rlvr_jax.objectives.advantages._registry import AdvantageOutput, check_range, register_estimator
from rlvr_jax.objectives._methods import register_method


def per_response_baseline(baseline_rewards: jax.Array, group_ids: jax.Array) -> jax.Array:
  """[B] baseline per row from a [B] per-response or a [G] per-prompt array (indexed by group_ids).

  A per-prompt array must have G < B entries, one per group id in [0, G); with one response per prompt
  pass the per-response form.
  """
  if baseline_rewards.shape == group_ids.shape:
    return baseline_rewards
  return baseline_rewards[group_ids]


@register_estimator("remax", inputs=("baseline_rewards",), optional_inputs=("token_rewards",))
def remax(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *, baseline_rewards: jax.Array,
          token_rewards: jax.Array | None = None) -> AdvantageOutput:
  """ReMax (Li et al., arXiv 2310.10505): A_t = G_t - r(greedy response of the prompt).

  The baseline is the reward of the response the policy gives with greedy decoding, one per prompt; the
  trainer samples it (temperature 0) and passes `baseline_rewards` as [B] (repeated over the prompt's
  responses) or [G]. G_t is the reward-to-go, i.e. R on every token up to the last one for an outcome
  reward. No group statistics, so any group size works.
  """
  if token_rewards is None:
    token_rewards = outcome_token_rewards(rewards, response_mask)
  returns = reward_to_go(token_rewards, response_mask)  # [B, T]
  baseline = per_response_baseline(baseline_rewards, group_ids)  # [B]
  adv = returns - baseline[:, None]
  return output(adv, response_mask, returns=returns,
                baseline_mean=jnp.mean(baseline), beats_greedy_fraction=jnp.mean(
                    (jnp.sum(token_rewards, axis=-1) > baseline).astype(jnp.float32)))


@register_estimator("optimal_token_baseline", inputs=("old_logp", "sum_pi_squared"),
                    optional_inputs=("token_rewards", "rollout_is_weights"), group_relative=True)
def optimal_token_baseline(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *,
                           old_logp: jax.Array, sum_pi_squared: jax.Array,
                           token_rewards: jax.Array | None = None,
                           rollout_is_weights: jax.Array | None = None, handle_zero_tail: bool = True,
                           eps: float = 1e-8) -> AdvantageOutput:
  """verl optimal token baseline (OTB): a baseline per position, weighted by path variance.

      w_t = 1 - 2 pi_t + sum_v pi(v)^2        (||score||^2 proxy of the sampled token, rollout policy)
      W_t = sum_{j <= t} w_j                  (times rho_j^2 when rollout_is_weights are given)
      b_t = sum_i G_{i,t} W_{i,t} m_{i,t} / (sum_i W_{i,t} m_{i,t} + eps)   over the prompt's responses
      A_t = (G_t - b_t) m_t

  A prompt with a single response gets b = 0. With `handle_zero_tail` (verl's default) the positions of
  the unique longest response beyond the second-longest length get b = 0 too (no other response
  estimates them). `sum_pi_squared` needs the full vocabulary in the rollout scoring pass
  (`token_stats.token_statistics(..., with_sum_pi_squared=True)` of the rollout policy).
  """
  check_range("optimal_token_baseline", "eps", eps, 0.0, float("inf"), low_open=True)
  num, num_tokens = response_mask.shape
  mask = response_mask.astype(jnp.float32)  # [B, T]
  if token_rewards is None:
    token_rewards = outcome_token_rewards(rewards, response_mask)
  returns = reward_to_go(token_rewards, response_mask)  # [B, T] G_t
  w = 1.0 - 2.0 * jnp.exp(old_logp) + sum_pi_squared  # [B, T]
  if rollout_is_weights is not None:
    w = w * jnp.square(rollout_is_weights)
  cumulative = jnp.cumsum(w * mask, axis=-1)  # [B, T] W_t
  numerator = jax.ops.segment_sum(returns * cumulative * mask, group_ids, num_segments=num)  # [G, T]
  denominator = jax.ops.segment_sum(cumulative * mask, group_ids, num_segments=num) + eps  # [G, T]
  baseline = (numerator / denominator)[group_ids]  # [B, T]
  multi = group_count(group_ids) > 1  # [B]
  baseline = jnp.where(multi[:, None], baseline, 0.0)
  if handle_zero_tail:
    lengths = jnp.sum(mask, axis=-1)  # [B]
    longest = jax.ops.segment_max(lengths, group_ids, num_segments=num)[group_ids]
    is_longest = lengths == longest
    unique = jax.ops.segment_sum(is_longest.astype(jnp.float32), group_ids, num_segments=num)[group_ids] == 1
    second = jax.ops.segment_max(jnp.where(is_longest, -1.0, lengths), group_ids,
                                 num_segments=num)[group_ids]  # [B] second-longest length of the group
    tail = jnp.arange(num_tokens)[None, :] >= second[:, None]  # [B, T]
    baseline = jnp.where((multi & is_longest & unique)[:, None] & tail, 0.0, baseline)
  return output((returns - baseline) * mask, response_mask, returns=returns,
                baseline_mean=jnp.sum(baseline * mask) / jnp.maximum(jnp.sum(mask), 1.0))


# Both need data the rollout must produce: greedy-response rewards (ReMax), sum pi^2 (OTB).
register_method("remax", estimator="remax", source="verl examples/remax_trainer (arXiv 2310.10505)")
register_method("optimal_token_baseline", estimator="optimal_token_baseline",
                source="verl-project/verl 018f23b5 core_algos.py compute_optimal_token_baseline_advantage")
