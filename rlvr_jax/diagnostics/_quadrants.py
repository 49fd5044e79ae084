"""Token statistics split by advantage sign x sampled-token probability (STEER Fig. 6, Cui et al.).

First-order theory (algorithms.md §5.1) predicts the direction of each quadrant's entropy change:
reinforcing a likely token (A > 0, high) concentrates mass and lowers entropy, reinforcing an unlikely
one (A > 0, low) spreads it; negative advantages reverse both. Clip-higher acts on (A > 0, low),
positive reweighting on both A > 0 quadrants. These statistics show where a method actually moves
entropy and where its clipping bites.

"High" probability. The default split is STEER's: a token is high-probability when its surprisal is
below the state's entropy, -log pi < H, i.e. pi > exp(-H). That is the sign of the entropy-change
indicator delta = -pi (1 - pi)(log pi + H), so the quadrants are exactly the four first-order
directions. A fixed threshold (e.g. 0.5) can be asked for instead; pi > 0.5 implies pi > exp(-H)
(a token above 1/2 is the mode, and H >= -log max pi), so the fixed split is the stricter one.
Tokens with A = 0 (zero-variance groups) belong to no quadrant: they carry no gradient.

An empty quadrant has no mean: its means are NaN (its count is 0).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rlvr_jax.objectives._batch import PPOClipParams
from rlvr_jax.objectives._config import ObjectiveConfig
from rlvr_jax.objectives._policy_loss import ppo_token_loss
from rlvr_jax.objectives.transforms.clip_higher import ClipHigher
from rlvr_jax.objectives.transforms._registry import PPO_PARAMS
from rlvr_jax.objectives._validation import check_optional_number

QUADRANTS = ("pos_high", "pos_low", "neg_high", "neg_low")
QUADRANT_STATISTICS = ("count", "entropy_change_mean", "entropy_mean", "clip_fraction")


def validate_prob_threshold(prob_threshold: float | None) -> None:
  check_optional_number("diagnostics", "prob_threshold", prob_threshold, low=0.0, high=1.0,
                        low_inclusive=False, high_inclusive=False)


def high_probability(logp: jax.Array, entropy: jax.Array, prob_threshold: float | None) -> jax.Array:
  """[B, T] bool: pi > exp(-H) (STEER's split, prob_threshold None) or pi > prob_threshold."""
  validate_prob_threshold(prob_threshold)
  logp = logp.astype(jnp.float32)
  if prob_threshold is None:
    return logp + entropy.astype(jnp.float32) > 0.0
  return logp > jnp.log(jnp.float32(prob_threshold))


def quadrant_masks(advantages: jax.Array, logp: jax.Array, entropy: jax.Array, mask: jax.Array,
                   prob_threshold: float | None = None) -> dict[str, jax.Array]:
  """Quadrant name -> [B, T] bool over the valid tokens (A = 0 in none of them)."""
  valid = mask > 0
  high = high_probability(logp, entropy, prob_threshold)
  positive = valid & (advantages > 0)
  negative = valid & (advantages < 0)
  return {"pos_high": positive & high, "pos_low": positive & ~high,
          "neg_high": negative & high, "neg_low": negative & ~high}


def training_clip_range(config: ObjectiveConfig) -> PPOClipParams | None:
  """The clip range the objective's token loss actually uses, or None when it has no clipping.

  None for GPG (-A log pi) and KL-Cov (unclipped -A r); Clip-Cov is single-clip PPO without the
  log-ratio clamp; clip_higher replaces eps_low / eps_high. A transform that writes the clip range in
  another way is rejected rather than ignored, so clip fractions never describe a range training did
  not use.
  """
  if config.policy_loss != "ppo":
    return None
  clip = config.ppo
  for transform in config.transforms:
    if transform.name == "kl_cov":
      return None
    if transform.name == "clip_cov":
      clip = dataclasses.replace(clip, dual_clip_c=None, clamp_log_ratio=False)
    if PPO_PARAMS in transform.writes():
      if not isinstance(transform, ClipHigher):
        raise ValueError(f"training_clip_range: transform {transform.name!r} writes the PPO clip range in a "
                         "way the diagnostics do not model")
      clip = dataclasses.replace(clip, eps_low=transform.eps_low, eps_high=transform.eps_high)
  return clip


def clipped_tokens(new_logp: jax.Array, old_logp: jax.Array, advantages: jax.Array,
                   clip: PPOClipParams) -> jax.Array:
  """[B, T] bool: the PPO gradient is zero at the post-update ratio (upper, lower or dual clip).

  Uses the training loss's own clip indicators, so the definition cannot drift from what the update did.
  """
  out = ppo_token_loss(new_logp, old_logp, advantages, eps_low=clip.eps_low, eps_high=clip.eps_high,
                       dual_clip_c=clip.dual_clip_c, clamp_log_ratio=clip.clamp_log_ratio)
  return ~out.gradient_active


def _masked_mean(values: jax.Array, selected: jax.Array, count: jax.Array) -> jax.Array:
  total = jnp.sum(jnp.where(selected, values.astype(jnp.float32), 0.0))
  return jnp.where(count > 0, total / jnp.maximum(count, 1.0), jnp.nan)


def quadrant_statistics(advantages: jax.Array, logp: jax.Array, entropy: jax.Array, mask: jax.Array, *,
                        entropy_change: jax.Array | None = None, clipped: jax.Array | None = None,
                        prob_threshold: float | None = None) -> dict[str, jax.Array]:
  """Per-quadrant count and means, as `diag/quadrant/<quadrant>/<statistic>` float32 scalars.

  Jit-able (prob_threshold static). Statistics whose input is not given are not returned.

  Args:
    advantages: [B, T] A.
    logp: [B, T] sampled-token log-prob before the update (pi = exp(logp)).
    entropy: [B, T] state entropy before the update.
    mask: [B, T] valid tokens.
    entropy_change: [B, T] measured H_new - H_old (-> entropy_change_mean).
    clipped: [B, T] bool, tokens whose gradient is clipped (-> clip_fraction), e.g. `clipped_tokens`.
    prob_threshold: None for STEER's pi > exp(-H) split, else a fixed probability in (0, 1).
  """
  metrics = {}
  for name, selected in quadrant_masks(advantages, logp, entropy, mask, prob_threshold).items():
    count = jnp.sum(selected, dtype=jnp.float32)
    prefix = f"diag/quadrant/{name}"
    metrics[f"{prefix}/count"] = count
    metrics[f"{prefix}/entropy_mean"] = _masked_mean(entropy, selected, count)
    if entropy_change is not None:
      metrics[f"{prefix}/entropy_change_mean"] = _masked_mean(entropy_change, selected, count)
    if clipped is not None:
      metrics[f"{prefix}/clip_fraction"] = _masked_mean(clipped, selected, count)
  return metrics
