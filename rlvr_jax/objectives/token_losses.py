"""Registry of the policy token losses an objective can be built on ("ppo", "gpg").

Each entry maps the (batch, objective state) after all transforms to the [B, T] token loss and its
metrics. PPO reads the advantages and clip parameters the transforms left in the state; GPG ignores
the clip parameters (config validation rejects transforms that act on the PPO clip with it).
"""

from __future__ import annotations

from typing import Callable

import jax

from rlvr_jax.objectives.batch import ObjectiveState, TokenBatch
from rlvr_jax.objectives.policy_loss import clip_metrics, gpg_token_loss, ppo_token_loss
from rlvr_jax.registry import Registry

TokenLossFn = Callable[[TokenBatch, ObjectiveState], tuple[jax.Array, dict[str, jax.Array]]]

POLICY_LOSSES: Registry[TokenLossFn] = Registry("policy loss")


@POLICY_LOSSES.register("ppo")
def ppo(batch: TokenBatch, state: ObjectiveState) -> tuple[jax.Array, dict[str, jax.Array]]:
  out = ppo_token_loss(batch.logp, batch.old_logp, state.advantages, eps_low=state.ppo.eps_low,
                       eps_high=state.ppo.eps_high, dual_clip_c=state.ppo.dual_clip_c,
                       clamp_log_ratio=state.ppo.clamp_log_ratio)
  return out.loss, clip_metrics(out, state.loss_mask)


@POLICY_LOSSES.register("gpg")
def gpg(batch: TokenBatch, state: ObjectiveState) -> tuple[jax.Array, dict[str, jax.Array]]:
  return gpg_token_loss(batch.logp, state.advantages), {}
