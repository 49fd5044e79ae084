"""Clip-Cov and KL-Cov (Cui et al., "The Entropy Mechanism of RL for Reasoning LMs", arXiv 2505.22617).

Under a softmax policy the one-step entropy change is about -Cov(log pi(a), pi(a) A(a)): tokens that are
both likely and advantaged drive entropy down. Both methods score each token by the centered product
cov = (A - mean A)(log pi - mean log pi) over the valid tokens of its group and restrain a tiny fraction
of the highest-covariance tokens: Clip-Cov removes the gradient of a random subset of tokens whose cov
lies in (lower, upper); KL-Cov adds coef |log pi - log pi_old| to the top-k cov tokens.

Both replace the PPO token loss (the `token_loss` channel): Clip-Cov is single-clip PPO without the
log-ratio clamp or dual clip, KL-Cov is the unclipped -A r (algorithms.md §2). The clip range that
Clip-Cov uses, and its "already clipped" exclusion, come from the objective's PPO parameters (PRIME's
recipe sets eps_low = eps_high = 1).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rlvr_jax.objectives._batch import NORM_SCOPES, ObjectiveState, TokenBatch
from rlvr_jax.objectives._methods import DAPO_DUAL_CLIP, register_method
from rlvr_jax.objectives._policy_loss import ppo_token_loss
from rlvr_jax.objectives.transforms import _group_stats as group_stats
from rlvr_jax.objectives.transforms._registry import (ADVANTAGES, PPO_PARAMS, TOKEN_LOSS, Transform,
                                                     register_transform)
from rlvr_jax.objectives._validation import check_choice, check_number


def token_covariance(advantages: jax.Array, logp: jax.Array, valid: jax.Array, row_groups: jax.Array,
                     num_groups: int) -> jax.Array:
  """[B, T] float32 (A - mean A)(log pi - mean log pi), means over the valid tokens of each group."""
  advantages = jax.lax.stop_gradient(advantages).astype(jnp.float32)
  logp = jax.lax.stop_gradient(logp).astype(jnp.float32)
  num_tokens = valid.shape[-1]
  mean_adv = group_stats.per_token(group_stats.group_mean(advantages, valid, row_groups, num_groups),
                                   row_groups, num_tokens)
  mean_logp = group_stats.per_token(group_stats.group_mean(logp, valid, row_groups, num_groups),
                                    row_groups, num_tokens)
  return (advantages - mean_adv) * (logp - mean_logp)


def _budget(valid: jax.Array, row_groups: jax.Array, num_groups: int, ratio: float) -> jax.Array:
  """[G] int max(1, floor(ratio * #valid)) per group, the reference's count rule."""
  counts = group_stats.group_count(valid, row_groups, num_groups)
  return jnp.maximum(jnp.floor(counts * ratio), 1.0).astype(jnp.int32)


@register_transform("clip_cov")
@dataclasses.dataclass(frozen=True)
class ClipCov(Transform):
  """Zero the loss of a random subset of tokens with lower < cov < upper (not already clipped).

  Attributes:
    ratio: budget max(1, floor(ratio * #valid)) of clipped tokens per group (clip_cov_ratio).
    lower: clip_cov_lb.
    upper: clip_cov_ub.
    norm_scope: "mini_batch" or "micro_batch" (means, budget and subset per norm group).
  """

  ratio: float = 2e-4
  lower: float = 1.0
  upper: float = 5.0
  norm_scope: str = "mini_batch"

  needs_ppo_loss = True
  needs_key = True

  def __post_init__(self) -> None:
    check_number("clip_cov", "ratio", self.ratio, low=0.0, high=1.0, low_inclusive=False)
    check_number("clip_cov", "lower", self.lower)
    check_number("clip_cov", "upper", self.upper)
    if not self.lower < self.upper:
      raise ValueError(f"clip_cov.lower={self.lower!r} must be < clip_cov.upper={self.upper!r}")
    check_choice("clip_cov", "norm_scope", self.norm_scope, NORM_SCOPES)

  def reads(self) -> frozenset[str]:
    return frozenset({ADVANTAGES, PPO_PARAMS})

  def writes(self) -> frozenset[str]:
    return frozenset({TOKEN_LOSS})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del transform_state
    valid = batch.response_mask > 0  # [B, T]
    out = ppo_token_loss(batch.logp, batch.old_logp, state.advantages, eps_low=state.ppo.eps_low,
                         eps_high=state.upper_clip, dual_clip_c=None, clamp_log_ratio=False)
    row_groups, num_groups = batch.group_ids(self.norm_scope)
    cov = token_covariance(state.advantages, batch.logp, valid, row_groups, num_groups)  # [B, T]
    already_clipped = out.clipped_high | out.clipped_low
    candidates = valid & ~already_clipped & (cov > self.lower) & (cov < self.upper)
    chosen = group_stats.group_random_subset(key, candidates, row_groups, num_groups,
                                             _budget(valid, row_groups, num_groups, self.ratio))
    state = state.replace(token_loss=jnp.where(chosen, 0.0, out.loss))
    return state.add_metrics("clip_cov", {
        "clipfrac": group_stats.masked_mean(chosen, valid),
        "candidate_frac": group_stats.masked_mean(candidates, valid),
        "ppo_clipfrac": group_stats.masked_mean(already_clipped, valid),
    })


@register_transform("kl_cov")
@dataclasses.dataclass(frozen=True)
class KLCov(Transform):
  """Add coef |log pi - log pi_old| to the top-k covariance tokens of an unclipped -A r loss.

  Attributes:
    ratio: k = max(1, floor(ratio * #valid)) per group (kl_cov_ratio; PRIME's 7B recipe: 0.002).
    coef: KL coefficient (ppo_kl_coef; function default 1.0, verl yaml 0.1).
    norm_scope: "mini_batch" or "micro_batch".
  """

  ratio: float = 2e-4
  coef: float = 1.0
  norm_scope: str = "mini_batch"

  needs_ppo_loss = True

  def __post_init__(self) -> None:
    check_number("kl_cov", "ratio", self.ratio, low=0.0, high=1.0, low_inclusive=False)
    check_number("kl_cov", "coef", self.coef, low=0.0)
    check_choice("kl_cov", "norm_scope", self.norm_scope, NORM_SCOPES)

  def reads(self) -> frozenset[str]:
    return frozenset({ADVANTAGES})

  def writes(self) -> frozenset[str]:
    return frozenset({TOKEN_LOSS})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del transform_state, key
    valid = batch.response_mask > 0  # [B, T]
    advantages = jax.lax.stop_gradient(state.advantages)
    log_ratio = batch.logp.astype(jnp.float32) - jax.lax.stop_gradient(batch.old_logp).astype(jnp.float32)
    policy_loss = -advantages * jnp.exp(log_ratio)  # [B, T]
    row_groups, num_groups = batch.group_ids(self.norm_scope)
    cov = token_covariance(advantages, batch.logp, valid, row_groups, num_groups)
    chosen = group_stats.group_top_k(cov, valid, row_groups, num_groups,
                                     _budget(valid, row_groups, num_groups, self.ratio))
    token_loss = policy_loss + jnp.where(chosen, self.coef * jnp.abs(log_ratio), 0.0)
    state = state.replace(token_loss=token_loss)
    return state.add_metrics("kl_cov", {
        "selected_frac": group_stats.masked_mean(chosen, valid),
        "ppo_kl": group_stats.masked_mean(jax.lax.stop_gradient(jnp.abs(log_ratio)), valid),
    })


# PRIME-RL recipe/dapo/7b_clip_cov.sh: clip range [0, 2], c = 10 (unused by the loss); ClipCov defaults.
register_method("clip_cov", objective={"eps_low": 1.0, "eps_high": 1.0, "dual_clip_c": DAPO_DUAL_CLIP,
                                       "transforms": ("clip_cov",)},
                source="PRIME-RL/Entropy-Mechanism-of-RL 8850579 recipe/dapo/7b_clip_cov.sh")
# PRIME-RL recipe/dapo/7b_kl_cov.sh: k_percent 0.2 (%) -> ratio 0.002, beta 1 (the KLCov default).
register_method("kl_cov", objective={"dual_clip_c": DAPO_DUAL_CLIP, "transforms": ("kl_cov",),
                                     "kl_cov": {"ratio": 0.002}},
                source="PRIME-RL/Entropy-Mechanism-of-RL 8850579 recipe/dapo/7b_kl_cov.sh")
