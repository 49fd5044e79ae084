"""Policy losses with a sequence-level importance ratio: GSPO and GMPO.

Token-level PPO clips each token's ratio on its own, so a long response accumulates many noisy,
independently clipped corrections. GSPO and GMPO move the ratio to the sequence: GSPO uses the
length-normalized sequence likelihood ratio s_i = exp(mean_t log r_it) with a tiny clip range; GMPO
maximizes the geometric mean of token ratios (clipped per token in log space), which is insensitive to a
few outlier tokens. verl: `compute_policy_loss_gspo`, `compute_policy_loss_geo_mean` in
`verl/trainer/ppo/core_algos.py` (verl-project/verl 018f23b5; the same bodies at volcengine/verl
012be9d9). Einsum legend: B responses, T response positions.

Only `logp` carries gradient; `old_logp` and advantages are constants.
"""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp

# verl GSPO clamps the combined log-ratio at +10 "for numerical stability" (values and gradient).
GSPO_LOG_RATIO_CAP = 10.0
# verl GMPO's length denominators: sum(mask) + 1e-8.
_GMPO_EPS = 1e-8


@flax.struct.dataclass
class GSPOTokenLoss:
  loss: jax.Array  # [B, T] per-token loss, NOT masked
  seq_log_ratio: jax.Array  # [B] mean_t (logp - old_logp) over the response
  clipped: jax.Array  # [B, T] bool: the sequence ratio is clipped for this token's advantage sign


def gspo_token_loss(logp: jax.Array, old_logp: jax.Array, advantages: jax.Array, response_mask: jax.Array, *,
                    eps_low: float, eps_high: float) -> GSPOTokenLoss:
  """GSPO (Zheng et al., arXiv 2507.18071) in verl's token-level straight-through form.

      log s_i   = sum_t m_it (logp_it - logp_old_it) / max(1, sum_t m_it)
      log s_it  = min(sg(log s_i) + logp_it - sg(logp_it), 10)   (value s_i, gradient of logp_it)
      loss_it   = max(-A_it s_it, -A_it clip(s_it, 1 - eps_low, 1 + eps_high))

  The value of every token's ratio is the sequence ratio, so the clip decision is per sequence (and per
  advantage sign); the gradient is s_i A_it grad logp_it on unclipped sequences. verl pairs it with
  seq-mean-token-mean aggregation and clip range 3e-4 / 4e-4.

  Args:
    logp, old_logp, advantages, response_mask: [B, T]; the mask defines the sequence ratio.
    eps_low, eps_high: clip range around 1 of the sequence ratio.
  """
  _check_shapes("gspo_token_loss", logp, old_logp, advantages, response_mask)
  logp = logp.astype(jnp.float32)
  old_logp = jax.lax.stop_gradient(old_logp.astype(jnp.float32))
  adv = jax.lax.stop_gradient(advantages.astype(jnp.float32))
  valid = response_mask > 0
  log_ratio = logp - old_logp  # [B, T]
  lengths = jnp.maximum(jnp.sum(valid, axis=-1, dtype=jnp.float32), 1.0)  # [B]
  seq_log_ratio = jnp.sum(jnp.where(valid, log_ratio, 0.0), axis=-1) / lengths  # [B]
  token_log_ratio = jax.lax.stop_gradient(seq_log_ratio)[:, None] + logp - jax.lax.stop_gradient(logp)
  ratio = jnp.exp(jnp.minimum(token_log_ratio, GSPO_LOG_RATIO_CAP))  # [B, T]
  clipped = ((adv > 0) & (ratio > 1.0 + eps_high)) | ((adv < 0) & (ratio < 1.0 - eps_low))
  clipped_loss = -adv * jax.lax.stop_gradient(jnp.clip(ratio, 1.0 - eps_low, 1.0 + eps_high))
  loss = jnp.where(clipped, clipped_loss, -adv * ratio)
  return GSPOTokenLoss(loss=loss, seq_log_ratio=jax.lax.stop_gradient(seq_log_ratio), clipped=clipped)


@flax.struct.dataclass
class GMPOSequenceLoss:
  loss: jax.Array  # [B] per-response loss -A_i * exp(mean_t clipped log-ratio)
  clipped_high: jax.Array  # [B, T] bool: log-ratio clipped, A > 0
  clipped_low: jax.Array  # [B, T] bool: log-ratio clipped, A < 0


def gmpo_sequence_loss(logp: jax.Array, old_logp: jax.Array, advantages: jax.Array, mask: jax.Array, *,
                       eps_low: float, eps_high: float) -> GMPOSequenceLoss:
  """GMPO (Zhao et al., arXiv 2507.20673), verl `geo_mean`: the geometric mean of clipped token ratios.

      d_t      = logp_t - logp_old_t                         (no clamp)
      d~_t     = sign(A_t) min(sign(A_t) d_t, sign(A_t) clip(d_t, -eps_low, eps_high))
      ratio_i  = exp(sum_t m_t d~_t / (sum_t m_t + 1e-8))    (geometric mean of the token ratios)
      A_i      = sum_t m_t A_t / (sum_t m_t + 1e-8)
      loss_i   = -A_i ratio_i

  The clip is in log space per token, pessimistic like PPO's (a token clipped for its advantage sign
  stops contributing gradient); a token with A_t = 0 contributes d~ = 0. verl averages loss_i over all
  rows (torch.mean), i.e. seq-mean; `mask` decides which tokens enter the geometric mean.
  """
  _check_shapes("gmpo_sequence_loss", logp, old_logp, advantages, mask)
  logp = logp.astype(jnp.float32)
  old_logp = jax.lax.stop_gradient(old_logp.astype(jnp.float32))
  adv = jax.lax.stop_gradient(advantages.astype(jnp.float32))
  valid = mask > 0
  log_ratio = logp - old_logp  # [B, T]
  clipped_log_ratio = jnp.clip(log_ratio, -eps_low, eps_high)
  sign = jnp.sign(adv)
  # Pessimistic branch: for A > 0 the smaller of (d, clip d), for A < 0 the larger; the clipped branch is
  # selected where it binds, so a clipped token's gradient is exactly zero.
  binds = sign * clipped_log_ratio < sign * log_ratio  # [B, T]
  chosen = jnp.where(sign == 0, 0.0, jnp.where(binds, jax.lax.stop_gradient(clipped_log_ratio), log_ratio))
  lengths = jnp.sum(valid, axis=-1, dtype=jnp.float32) + _GMPO_EPS  # [B]
  ratio = jnp.exp(jnp.sum(jnp.where(valid, chosen, 0.0), axis=-1) / lengths)  # [B]
  seq_adv = jnp.sum(jnp.where(valid, adv, 0.0), axis=-1) / lengths  # [B]
  clipped = log_ratio != clipped_log_ratio
  return GMPOSequenceLoss(loss=-seq_adv * ratio, clipped_high=clipped & (adv > 0),
                          clipped_low=clipped & (adv < 0))


def _check_shapes(name: str, *arrays: jax.Array) -> None:
  shapes = {tuple(a.shape) for a in arrays}
  if len(shapes) != 1 or len(next(iter(shapes))) != 2:
    raise ValueError(f"{name}: logp, old_logp, advantages and mask must share one [B, T] shape, got "
                     f"{[tuple(a.shape) for a in arrays]}")
