"""KL in the reward (verl `use_kl_in_reward`) and its fixed / adaptive coefficient controllers.

Instead of (or beside) the KL loss term, the KL to the reference policy can be charged as a per-token
reward, so it enters the returns and the advantages (and, with a critic, the value target):

    token_rewards[i, t] = score_i * 1[t = last response token] - beta * kl(logp_old, logp_ref)[i, t]

verl `apply_kl_penalty` (verl-project/verl 0094eb20 `verl/trainer/ppo/ray_trainer.py`; the same at
v0.4.1) with `algorithm.kl_penalty` choosing the estimator (default "kl" = k1 = logp_old - logp_ref).
The controllers are verl's `FixedKLController` / `AdaptiveKLController(init_kl_coef, target_kl,
horizon)` (`core_algos.py`, 018f23b5), here pure state updates on a one-scalar pytree, so the trainer can
jit them and checkpoint the coefficient:

    fixed:    beta' = beta
    adaptive: beta' = beta * (1 + clip(kl / target_kl - 1, -0.2, 0.2) * n_steps / horizon)

verl calls `update(current_kl, n_steps=batch_size)` once per rollout batch, with current_kl the batch
mean of the per-response token-mean KL; `kl_penalized_rewards` returns exactly that `current_kl`.
Outcome estimators then take rewards = token_rewards.sum(-1); GAE, ReMax, REINFORCE++ and the optimal
token baseline take `token_rewards` themselves.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import flax.struct
import jax
import jax.numpy as jnp

from rlvr_jax.objectives.advantages._groups import outcome_token_rewards
from rlvr_jax.objectives._kl import KL_ESTIMATORS, kl_penalty
from rlvr_jax.objectives._validation import check_number
from rlvr_jax._registry import Registry

# verl masked_mean's denominator epsilon (per-response token mean of the KL).
_MASKED_MEAN_EPS = 1e-8
# verl AdaptiveKLController clips the proportional error to +-0.2.
_ADAPTIVE_ERROR_CLIP = 0.2


@flax.struct.dataclass
class KLControllerState:
  """The in-reward KL coefficient beta (float32 scalar)."""

  coef: jax.Array


@dataclasses.dataclass(frozen=True)
class KLInRewardConfig:
  """KL-in-reward settings (verl algorithm.kl_penalty and algorithm.kl_ctrl; defaults are verl's).

  Attributes:
    kind: KL estimator (a KL_ESTIMATORS name; verl algorithm.kl_penalty, default "kl" = k1).
    controller: "fixed" or "adaptive" (a KL_CONTROLLERS name; verl kl_ctrl.type).
    coef: initial beta (verl kl_ctrl.kl_coef).
    target_kl: adaptive controller's target KL (verl kl_ctrl.target_kl).
    horizon: adaptive controller's horizon in samples (verl kl_ctrl.horizon).
  """

  kind: str = "kl"
  controller: str = "fixed"
  coef: float = 0.001
  target_kl: float = 0.1
  horizon: int = 10000

  def __post_init__(self) -> None:
    KL_ESTIMATORS.get(self.kind, field="kl_in_reward.kind")
    KL_CONTROLLERS.get(self.controller, field="kl_in_reward.controller")
    check_number("kl_in_reward", "coef", self.coef, low=0.0)
    check_number("kl_in_reward", "target_kl", self.target_kl, low=0.0, low_inclusive=False)
    check_number("kl_in_reward", "horizon", self.horizon, low=0.0, low_inclusive=False)

  @classmethod
  def from_mapping(cls, section: Mapping[str, Any] | Any) -> KLInRewardConfig:
    """From a config section (dict or ml_collections ConfigDict); unknown keys are named."""
    section = dict(section.to_dict() if hasattr(section, "to_dict") else section)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(section) - known)
    if unknown:
      raise ValueError(f"unknown kl_in_reward keys {unknown}; known: {', '.join(sorted(known))}")
    return cls(**section)

  def init_state(self) -> KLControllerState:
    return KLControllerState(coef=jnp.asarray(self.coef, jnp.float32))

  def update(self, state: KLControllerState, current_kl: jax.Array, n_steps: int | jax.Array) -> KLControllerState:
    """The controller's update after one rollout batch (verl passes n_steps = batch size)."""
    return KL_CONTROLLERS.get(self.controller)(self, state, current_kl, n_steps)


KLControllerUpdate = Callable[[KLInRewardConfig, KLControllerState, jax.Array, Any], KLControllerState]

KL_CONTROLLERS: Registry[KLControllerUpdate] = Registry("KL controller")


@KL_CONTROLLERS.register("fixed")
def fixed_controller(config: KLInRewardConfig, state: KLControllerState, current_kl: jax.Array,
                     n_steps: Any) -> KLControllerState:
  """verl FixedKLController: beta never moves."""
  del config, current_kl, n_steps
  return state


@KL_CONTROLLERS.register("adaptive")
def adaptive_controller(config: KLInRewardConfig, state: KLControllerState, current_kl: jax.Array,
                        n_steps: Any) -> KLControllerState:
  """verl AdaptiveKLController (Ziegler et al. 2019): beta grows while the KL is above target."""
  error = jnp.clip(jnp.asarray(current_kl, jnp.float32) / config.target_kl - 1.0, -_ADAPTIVE_ERROR_CLIP,
                   _ADAPTIVE_ERROR_CLIP)
  multiplier = 1.0 + error * jnp.asarray(n_steps, jnp.float32) / config.horizon
  return KLControllerState(coef=state.coef * multiplier)


def kl_penalized_rewards(scores: jax.Array, response_mask: jax.Array, old_logp: jax.Array,
                         ref_logp: jax.Array, *, coef: jax.Array | float,
                         kind: str = "kl") -> tuple[jax.Array, dict[str, jax.Array]]:
  """verl `apply_kl_penalty`: token rewards = score on the last token - beta * kl per response token.

  Args:
    scores: [B] outcome rewards.
    response_mask: [B, T].
    old_logp: [B, T] rollout-policy log-probs (verl uses old_log_probs, not the current policy).
    ref_logp: [B, T] reference-policy log-probs.
    coef: beta (KLControllerState.coef).
    kind: KL estimator name (verl algorithm.kl_penalty).

  Returns:
    (token_rewards [B, T] float32, metrics): "kl_in_reward/kl" = mean over responses of the per-response
    token-mean KL (the controller's current_kl), "kl_in_reward/coef" = beta.
  """
  if not old_logp.shape == ref_logp.shape == response_mask.shape or scores.shape != response_mask.shape[:1]:
    raise ValueError(f"kl_penalized_rewards: scores {scores.shape} must be [B] and old_logp {old_logp.shape}, "
                     f"ref_logp {ref_logp.shape}, response_mask {response_mask.shape} [B, T]")
  valid = response_mask > 0
  mask = valid.astype(jnp.float32)
  kl = jax.lax.stop_gradient(kl_penalty(old_logp, ref_logp, kind)) * mask  # [B, T]
  coef = jnp.asarray(coef, jnp.float32)
  token_rewards = outcome_token_rewards(scores.astype(jnp.float32), valid) - coef * kl
  per_response = jnp.sum(kl, axis=-1) / (jnp.sum(mask, axis=-1) + _MASKED_MEAN_EPS)  # [B]
  current_kl = jnp.mean(per_response)
  return token_rewards, {"kl_in_reward/kl": current_kl, "kl_in_reward/coef": coef}
