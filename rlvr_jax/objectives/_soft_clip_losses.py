"""Token losses that keep every token's gradient instead of PPO's hard clip: CISPO and SAPO.

PPO's clip zeroes the gradient of a token whose ratio left the trust region, which for low-probability
tokens with A > 0 (often the exploratory "forking" tokens) means they stop learning. CISPO clips the
importance weight but keeps the REINFORCE gradient of every token; SAPO replaces the clip by a smooth
gate whose gradient decays with the distance from r = 1, more steeply for A <= 0. verl:
`compute_policy_loss_cispo`, `compute_policy_loss_sapo` in `verl/trainer/ppo/core_algos.py`
(verl-project/verl 018f23b5). Einsum legend: B responses, T response positions.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

# Both clamp log r to +-20 before exp, as verl's vanilla PPO loss does.
LOG_RATIO_CLAMP = 20.0


@flax.struct.dataclass
class CISPOTokenLoss:
  loss: jax.Array  # [B, T] per-token loss, NOT masked
  ratio: jax.Array  # [B, T] r = exp(clamp(logp - old_logp))
  clipped: jax.Array  # [B, T] bool: the importance weight was clipped (gradient kept, weight capped)


def cispo_token_loss(logp: jax.Array, old_logp: jax.Array, advantages: jax.Array, *, eps_low: float | None,
                     eps_high: float) -> CISPOTokenLoss:
  """CISPO (MiniMax-M1, arXiv 2506.13585): loss = -sg(clip(r, 1 - eps_low, 1 + eps_high)) A log pi.

  The weight is a constant, so every token keeps the REINFORCE gradient -w A grad log pi, w <= 1 +
  eps_high. eps_low=None leaves the weight unbounded below (MiniMax's large eps_low; verl's example sets
  clip_ratio_low = 10, which never binds since r >= 0).
  """
  if not logp.shape == old_logp.shape == advantages.shape:
    raise ValueError(f"cispo_token_loss: logp {logp.shape}, old_logp {old_logp.shape} and advantages "
                     f"{advantages.shape} must have the same shape")
  logp = logp.astype(jnp.float32)
  old_logp = jax.lax.stop_gradient(old_logp.astype(jnp.float32))
  adv = jax.lax.stop_gradient(advantages.astype(jnp.float32))
  ratio = jnp.exp(jnp.clip(logp - old_logp, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP))
  low = -jnp.inf if eps_low is None else 1.0 - eps_low
  weight = jnp.clip(ratio, low, 1.0 + eps_high)
  loss = -jax.lax.stop_gradient(weight) * adv * logp
  return CISPOTokenLoss(loss=loss, ratio=jax.lax.stop_gradient(ratio),
                        clipped=jax.lax.stop_gradient(ratio != weight))


@flax.struct.dataclass
class SAPOTokenLoss:
  loss: jax.Array  # [B, T] per-token loss, NOT masked
  ratio: jax.Array  # [B, T]
  gate_slope: jax.Array  # [B, T] d gate / d r = 4 sigmoid(x)(1 - sigmoid(x)), x = tau (r - 1); 1 at r = 1


def sapo_token_loss(logp: jax.Array, old_logp: jax.Array, advantages: jax.Array, *, tau_pos: float,
                    tau_neg: float) -> SAPOTokenLoss:
  """SAPO (Gao et al., arXiv 2511.20347): loss = -f_tau(r) A with the soft gate f_tau(r) = sigmoid(tau
  (r - 1)) * 4 / tau, tau = tau_pos if A > 0 else tau_neg.

  At r = 1 the gate has value 2 / tau and slope 1, so near the behaviour policy the gradient is PPO's
  r A grad log pi; away from it the slope 4 s (1 - s) decays smoothly instead of dropping to 0 at the
  clip boundary. A larger tau_neg attenuates negative-advantage updates faster (verl defaults 1.0 /
  1.05).
  """
  if not logp.shape == old_logp.shape == advantages.shape:
    raise ValueError(f"sapo_token_loss: logp {logp.shape}, old_logp {old_logp.shape} and advantages "
                     f"{advantages.shape} must have the same shape")
  logp = logp.astype(jnp.float32)
  old_logp = jax.lax.stop_gradient(old_logp.astype(jnp.float32))
  adv = jax.lax.stop_gradient(advantages.astype(jnp.float32))
  ratio = jnp.exp(jnp.clip(logp - old_logp, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP))
  tau = jnp.where(adv > 0, jnp.float32(tau_pos), jnp.float32(tau_neg))
  gate_arg = tau * (ratio - 1.0)
  gate = jax.nn.sigmoid(gate_arg) * (4.0 / tau)
  sig = jax.lax.stop_gradient(jax.nn.sigmoid(gate_arg))
  return SAPOTokenLoss(loss=-gate * adv, ratio=jax.lax.stop_gradient(ratio), gate_slope=4.0 * sig * (1.0 - sig))
