"""Generalized advantage estimation (Schulman et al., arXiv 1506.02438) for PPO with a critic.

verl `compute_gae_advantage_return` (verl-project/verl 018f23b5 `verl/trainer/ppo/core_algos.py`; the
same loop since v0.4.1), run backwards over the response:

    delta_t    = r_t + gamma * V_next - V_t
    gae_t      = delta_t + gamma * lam * gae_next
    V_next     <- V_t     where m_t, else unchanged     (masked positions are skipped, not ends)
    gae_next   <- gae_t   where m_t, else unchanged
    returns    = gae + V                                  (the critic's target, before whitening)
    advantages = masked_whiten(gae, m)                    (batch-global, Bessel-corrected)

Skipping masked positions (instead of resetting at them) is what lets a multi-turn mask with holes
(observation tokens) pass values and advantages across the hole.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlvr_jax.objectives.advantages._groups import masked_whiten, outcome_token_rewards, output
from rlvr_jax.objectives.advantages._registry import AdvantageOutput, check_range, register_estimator
from rlvr_jax.objectives._methods import register_method


def gae_advantages_returns(token_rewards: jax.Array, values: jax.Array, response_mask: jax.Array, *,
                           gamma: float, lam: float) -> tuple[jax.Array, jax.Array]:
  """GAE advantages (whitened over the batch's response tokens) and returns.

  Args:
    token_rewards: [B, T] rewards per position (score on the last token, minus any KL-in-reward penalty).
    values: [B, T] critic values V(s_t) of the rollout (no gradient is taken through them).
    response_mask: [B, T] 1 on response tokens.
    gamma: discount; lam: GAE lambda.

  Returns:
    (advantages, returns), [B, T] float32 each, zero outside the mask.
  """
  mask = response_mask.astype(jnp.float32)
  rewards = token_rewards.astype(jnp.float32)
  values = jax.lax.stop_gradient(values.astype(jnp.float32))

  def step(carry: tuple[jax.Array, jax.Array], inputs: tuple[jax.Array, jax.Array, jax.Array]):
    next_value, next_gae = carry  # [B], [B]
    reward_t, value_t, mask_t = inputs  # [B] each
    delta = reward_t + gamma * next_value - value_t
    gae = delta + gamma * lam * next_gae
    next_value = value_t * mask_t + (1.0 - mask_t) * next_value
    next_gae = gae * mask_t + (1.0 - mask_t) * next_gae
    return (next_value, next_gae), next_gae

  zeros = jnp.zeros(mask.shape[:1], jnp.float32)
  _, gae = jax.lax.scan(step, (zeros, zeros), (rewards.T, values.T, mask.T), reverse=True)
  gae = gae.T  # [B, T]
  valid = mask > 0
  returns = jnp.where(valid, gae + values, 0.0)
  return masked_whiten(gae, valid), returns


@register_estimator("gae", inputs=("values",), optional_inputs=("token_rewards",))
def gae(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *, values: jax.Array,
        token_rewards: jax.Array | None = None, gamma: float = 1.0, lam: float = 1.0) -> AdvantageOutput:
  """PPO's critic-based estimator (verl `adv_estimator=gae`; defaults algorithm.gamma = lam = 1.0).

  Without `token_rewards` the score sits on the last response token. Group ids are unused.
  """
  del group_ids
  check_range("gae", "gamma", gamma, 0.0, 1.0)
  check_range("gae", "lam", lam, 0.0, 1.0)
  if token_rewards is None:
    token_rewards = outcome_token_rewards(rewards, response_mask)
  advantages, returns = gae_advantages_returns(token_rewards, values, response_mask, gamma=gamma, lam=lam)
  return output(advantages, response_mask, returns=returns)


# PPO with a critic (verl adv_estimator=gae with the PPO loss defaults); needs the trainer's value model.
register_method("ppo", estimator="gae", source="verl examples/ppo_trainer; core_algos compute_gae_advantage_return")
