"""First-order estimate of how one policy-gradient step changes the entropy at each token (STEER's Omega).

Under the tabular-softmax view (each state's logits are free parameters), a gradient-ascent step on the
token-mean surrogate moves the logits of state s by Delta z = c (e_a - pi) with c = (eta / L) I_clip r A.
Since dH/dz_v = -pi_v (log pi_v + H), the exact first-order entropy change is

  Delta H(s) ~= -c [ pi_a (1 - pi_a)(log pi_a + H) - sum_{k != a} pi_k^2 (log pi_k + H) ]   (§5.1)

STEER keeps only the sampled token's term, which needs nothing beyond the sampled token's probability and
the scalar entropy H: that is what makes the estimate affordable at LLM scale. Its sign tells whether
the token pushes entropy up or down; its magnitude is what STEER's weights attenuate.

Sign convention here: the estimate is the predicted entropy change itself (positive = entropy goes up),
up to the positive step factor eta / L. The released STEER code's `Omega` is the negative of the "code"
form below; only |Omega| matters for its default symmetric mode.

Every function is a diagnostic or a weight input: results are stop-gradient constants.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

ENTROPY_CHANGE_FORMS = ("code", "theorem")

# Probability clamps of the released STEER code (`compute_token_weights`).
_PROB_FLOOR = 1e-8
_LOG_RATIO_CLAMP = 20.0


def sampled_token_factor(logp: jax.Array, entropy: jax.Array) -> jax.Array:
  """pi (1 - pi)(log pi + H) of the sampled token; float32, constant.

  Positive when the token is more likely than typical (surprisal -log pi below the entropy H):
  reinforcing it (A > 0) concentrates mass and lowers entropy. Negative for unusually unlikely tokens,
  whose reinforcement spreads mass and raises entropy.
  """
  prob = jnp.clip(jnp.exp(jax.lax.stop_gradient(logp).astype(jnp.float32)), _PROB_FLOOR, 1.0 - _PROB_FLOOR)
  entropy = jax.lax.stop_gradient(entropy).astype(jnp.float32)
  return prob * (1.0 - prob) * (jnp.log(prob) + entropy)


def entropy_change_estimate(advantages: jax.Array, logp: jax.Array, old_logp: jax.Array,
                            entropy: jax.Array, *, form: str = "theorem",
                            gradient_active: jax.Array | None = None,
                            clamp_log_ratio: bool = True) -> jax.Array:
  """Per-token first-order entropy change (positive = up), up to the positive factor eta / L.

  Forms:
    "theorem": -r A I_clip pi (1 - pi)(log pi + H)   — the paper's estimator (§5.1).
    "code":    -(A / pi_old) pi (1 - pi)(log pi + H) — the released STEER code (§5.2): no I_clip, and
               r A (1 - pi) in place of r A pi (1 - pi), i.e. the theorem form divided by pi.

  Args:
    advantages: [B, T] advantages A.
    logp: [B, T] current log-prob of the sampled token (pi).
    old_logp: [B, T] rollout-time log-prob (pi_old; the ratio r = pi / pi_old).
    entropy: [B, T] entropy H of the state (STEER uses the rollout-time entropy).
    form: "theorem" or "code".
    gradient_active: [B, T] bool I_clip (tokens whose PPO gradient is not clipped); None = all active.
      Only the theorem form uses it.
    clamp_log_ratio: clamp log r to [-20, 20] as the PPO loss does.

  Returns:
    [B, T] float32 stop-gradient estimate, unmasked.
  """
  if form not in ENTROPY_CHANGE_FORMS:
    raise ValueError(f"form={form!r} is not one of: {', '.join(ENTROPY_CHANGE_FORMS)}")
  advantages = jax.lax.stop_gradient(advantages).astype(jnp.float32)
  logp = jax.lax.stop_gradient(logp).astype(jnp.float32)
  old_logp = jax.lax.stop_gradient(old_logp).astype(jnp.float32)
  factor = sampled_token_factor(logp, entropy)  # [B, T]
  if form == "code":
    old_prob = jnp.clip(jnp.exp(old_logp), _PROB_FLOOR, 1.0)
    return -(advantages / old_prob) * factor
  log_ratio = logp - old_logp
  if clamp_log_ratio:
    log_ratio = jnp.clip(log_ratio, -_LOG_RATIO_CLAMP, _LOG_RATIO_CLAMP)
  coefficient = jnp.exp(log_ratio) * advantages
  if gradient_active is not None:
    coefficient = jnp.where(gradient_active, coefficient, 0.0)
  return -coefficient * factor


def tabular_first_order_entropy_change(logits: jax.Array, actions: jax.Array,
                                       step_coefficient: jax.Array) -> jax.Array:
  """Exact first-order entropy change of a softmax when its logits move by c (e_a - pi).

  The full-vocabulary reference the sampled-token estimate is tested against: it includes the
  sum_{k != a} pi_k^2 (log pi_k + H) term that STEER drops.

  Args:
    logits: [..., V] free logits of each state.
    actions: [...] int sampled action per state.
    step_coefficient: [...] c = (eta / L) I_clip r A per state (ascent direction).

  Returns:
    [...] float32 first-order Delta H.
  """
  logits = logits.astype(jnp.float32)
  log_probs = jax.nn.log_softmax(logits, axis=-1)  # [..., V]
  probs = jnp.exp(log_probs)
  entropy = -jnp.sum(probs * log_probs, axis=-1, keepdims=True)  # [..., 1]
  entropy_gradient = -probs * (log_probs + entropy)  # [..., V] dH/dz
  logit_step = step_coefficient[..., None] * (
      jax.nn.one_hot(actions, logits.shape[-1], dtype=jnp.float32) - probs)  # [..., V]
  return jnp.sum(entropy_gradient * logit_step, axis=-1)
