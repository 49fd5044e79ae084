"""Per-token policy-gradient losses: PPO clipped surrogate (asymmetric clip, dual clip) and GPG.

The PPO loss returns its clip indicators next to the loss because several entropy-control methods need
them: STEER's I_clip, Clip-Cov's "already clipped" exclusion, and the clip-fraction metrics split by
side (clip-higher only acts on the upper side, so one merged fraction hides what it does).

Only `logp` carries gradient: `old_logp` and `advantages` are rollout data and are stop-gradiented
here, so a transform that builds advantages from differentiable quantities cannot leak a gradient path
into the surrogate by accident.
"""

from __future__ import annotations

import numbers

import flax.struct
import jax
import jax.numpy as jnp

from rlvr_jax.objectives._aggregation import aggregate

# verl >= v0.4.1 clamps logp - old_logp before exp so a stale token cannot overflow the ratio.
LOG_RATIO_CLAMP = 20.0


@flax.struct.dataclass
class PPOTokenLoss:
  """PPO surrogate per token plus the branch that produced it."""

  loss: jax.Array  # [B, T] per-token loss to minimize, NOT masked
  log_ratio: jax.Array  # [B, T] logp - old_logp (after the optional clamp)
  ratio: jax.Array  # [B, T]
  clipped_high: jax.Array  # [B, T] bool, A > 0 & r > 1 + eps_high: gradient zeroed by the upper clip
  clipped_low: jax.Array  # [B, T] bool, A < 0 & r < 1 - eps_low: gradient zeroed by the lower clip
  dual_clipped: jax.Array  # [B, T] bool, A < 0 & r > c: loss capped at -A * c

  @property
  def gradient_active(self) -> jax.Array:
    """[B, T] bool: the token's loss still depends on logp (STEER's I_clip)."""
    return ~(self.clipped_high | self.clipped_low | self.dual_clipped)


def validate_ppo_clip(*, eps_low: float, eps_high: float, dual_clip_c: float | None) -> None:
  """Raises ValueError naming the bad clip hyperparameter; config validation calls this too."""
  if isinstance(eps_low, numbers.Number) and not 0.0 <= eps_low <= 1.0:
    raise ValueError(f"PPO clip: eps_low must be in [0, 1] (ratio floor 1 - eps_low >= 0), got {eps_low!r}")
  if isinstance(eps_high, numbers.Number) and not eps_high >= 0.0:
    raise ValueError(f"PPO clip: eps_high must be >= 0, got {eps_high!r}")
  if dual_clip_c is not None and isinstance(dual_clip_c, numbers.Number) and not dual_clip_c > 1.0:
    raise ValueError(f"PPO clip: dual_clip_c must be > 1 (verl asserts clip_ratio_c > 1), got {dual_clip_c!r}")


def ppo_token_loss(logp: jax.Array, old_logp: jax.Array, advantages: jax.Array, *, eps_low: float = 0.2,
                   eps_high: float = 0.2, dual_clip_c: float | None = None,
                   clamp_log_ratio: bool = True) -> PPOTokenLoss:
  """verl's clipped surrogate per token (algorithms.md §1.3).

  loss = max(-A r, -A clip(r, 1 - eps_low, 1 + eps_high)), then for A < 0 capped at -A c (dual clip).
  The value equals verl's `max`/`min` form; it is written as a selection between branches so that a
  clipped token's gradient is exactly zero rather than relying on how `max` splits ties.

  Args:
    logp: [B, T] current-policy log-prob of the sampled tokens (carries gradient).
    old_logp: [B, T] behaviour-policy log-prob (constant).
    advantages: [B, T] (constant).
    eps_low, eps_high: ratio clip range [1 - eps_low, 1 + eps_high]; DAPO clip-higher: 0.2 / 0.28.
    dual_clip_c: dual-clip cap c > 1 (verl clip_ratio_c, default there 3.0); None disables it.
    clamp_log_ratio: clamp logp - old_logp to +-20 (verl >= v0.4.1 and STEER); False reproduces
      SIREN's older copy and the Clip-Cov / KL-Cov losses.
  """
  validate_ppo_clip(eps_low=eps_low, eps_high=eps_high, dual_clip_c=dual_clip_c)
  if not logp.shape == old_logp.shape == advantages.shape:
    raise ValueError(f"ppo_token_loss: logp {logp.shape}, old_logp {old_logp.shape} and advantages "
                     f"{advantages.shape} must have the same shape")
  logp = logp.astype(jnp.float32)
  old_logp = jax.lax.stop_gradient(old_logp.astype(jnp.float32))
  adv = jax.lax.stop_gradient(advantages.astype(jnp.float32))

  log_ratio = logp - old_logp  # [B, T]
  if clamp_log_ratio:
    log_ratio = jnp.clip(log_ratio, -LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
  ratio = jnp.exp(log_ratio)  # [B, T]

  clipped_high = (adv > 0) & (ratio > 1.0 + eps_high)
  clipped_low = (adv < 0) & (ratio < 1.0 - eps_low)
  unclipped_loss = -adv * ratio
  clipped_loss = -adv * jax.lax.stop_gradient(jnp.clip(ratio, 1.0 - eps_low, 1.0 + eps_high))
  loss = jnp.where(clipped_high | clipped_low, clipped_loss, unclipped_loss)  # [B, T]

  if dual_clip_c is None:
    dual_clipped = jnp.zeros_like(clipped_high)
  else:
    # For A < 0 the surrogate -A * max(r, clip(r)) exceeds -A * c exactly when r > c (c > 1).
    dual_clipped = (adv < 0) & (ratio > dual_clip_c)
    loss = jnp.where(dual_clipped, -adv * dual_clip_c, loss)

  return PPOTokenLoss(loss=loss, log_ratio=log_ratio, ratio=ratio, clipped_high=clipped_high,
                      clipped_low=clipped_low, dual_clipped=dual_clipped)


def gpg_token_loss(logp: jax.Array, advantages: jax.Array) -> jax.Array:
  """GPG / plain REINFORCE surrogate -A * logp per token (algorithms.md §3): no ratio, no clip.

  Returns:
    [B, T] float32, unmasked.
  """
  if logp.shape != advantages.shape:
    raise ValueError(f"gpg_token_loss: logp {logp.shape} and advantages {advantages.shape} differ in shape")
  return -jax.lax.stop_gradient(advantages.astype(jnp.float32)) * logp.astype(jnp.float32)


def clip_metrics(out: PPOTokenLoss, mask: jax.Array) -> dict[str, jax.Array]:
  """Token-mean clip statistics over valid tokens, named as verl logs them where verl has them.

  pg_clipfrac = verl's `pg_clipfrac` (either ratio clip active); pg_clipfrac_high / _low split it by
  side; pg_clipfrac_dual = verl's `pg_clipfrac_lower` (the dual-clip cap, despite verl's name);
  ppo_kl = masked mean of old_logp - logp (k1 estimate of KL(pi_old || pi)).
  """

  def mean(x: jax.Array) -> jax.Array:
    return aggregate(jax.lax.stop_gradient(x).astype(jnp.float32), mask, "token-mean")

  return {
      "pg_clipfrac": mean(out.clipped_high | out.clipped_low),
      "pg_clipfrac_high": mean(out.clipped_high),
      "pg_clipfrac_low": mean(out.clipped_low),
      "pg_clipfrac_dual": mean(out.dual_clipped),
      "ppo_kl": mean(-out.log_ratio),
  }
