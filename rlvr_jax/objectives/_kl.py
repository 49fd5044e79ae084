"""Per-token KL estimators between the policy and a frozen reference (algorithms.md §1.5).

Only the sampled token's log-probs are available at train time, so KL(pi || pi_ref) is estimated from
d = logp - ref_logp. The estimators trade bias for variance (Schulman's k1/k2/k3); the `+` variants are
straight-through: they report the k1/k3 value but differentiate like k2, whose gradient d * grad(logp)
is the unbiased gradient of KL(pi || pi_ref) for on-policy samples (verl >= v0.6).

Every estimator is a pure function (logp, ref_logp) -> [B, T] in float32; `ref_logp` is treated as a
constant (stop-gradient), because the reference model is frozen.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from rlvr_jax._registry import Registry

KLEstimator = Callable[[jax.Array], jax.Array]  # d = logp - ref_logp [B, T] -> per-token KL [B, T]

KL_ESTIMATORS: Registry[KLEstimator] = Registry("KL estimator")

# verl `low_var_kl` clamps: the log-ratio before exp, the result after.
_K3_LOG_RATIO_CLAMP = 20.0
_K3_VALUE_CLAMP = 10.0


@KL_ESTIMATORS.register("k1")
@KL_ESTIMATORS.register("kl")
def _k1(d: jax.Array) -> jax.Array:
  return d


@KL_ESTIMATORS.register("abs")
def _abs(d: jax.Array) -> jax.Array:
  return jnp.abs(d)


@KL_ESTIMATORS.register("k2")
@KL_ESTIMATORS.register("mse")
def _k2(d: jax.Array) -> jax.Array:
  return 0.5 * jnp.square(d)


@KL_ESTIMATORS.register("k3")
@KL_ESTIMATORS.register("low_var_kl")
def _k3(d: jax.Array) -> jax.Array:
  """exp(u) - u - 1 with u = log(pi_ref / pi); non-negative, low variance, clamped as verl does."""
  u = jnp.clip(-d, -_K3_LOG_RATIO_CLAMP, _K3_LOG_RATIO_CLAMP)
  return jnp.clip(jnp.exp(u) - u - 1.0, -_K3_VALUE_CLAMP, _K3_VALUE_CLAMP)


def _straight_through(value_fn: KLEstimator) -> KLEstimator:
  """Value of `value_fn`, gradient of k2: k2 + sg(value - k2)."""

  def estimator(d: jax.Array) -> jax.Array:
    surrogate = _k2(d)
    return surrogate + jax.lax.stop_gradient(value_fn(d) - surrogate)

  return estimator


KL_ESTIMATORS.register("k1+")(_straight_through(_k1))
KL_ESTIMATORS.register("k3+")(_straight_through(_k3))


def kl_penalty(logp: jax.Array, ref_logp: jax.Array, kind: str) -> jax.Array:
  """Per-token KL estimate of `kind` (a KL_ESTIMATORS name), differentiable w.r.t. `logp` only.

  Args:
    logp: [B, T] current-policy log-prob of the sampled tokens.
    ref_logp: [B, T] reference-policy log-prob of the same tokens.
    kind: estimator name, e.g. "low_var_kl" (verl's default kl_loss_type).

  Returns:
    [B, T] float32, unmasked; aggregate with the policy loss's mode.
  """
  estimator = KL_ESTIMATORS.get(kind, field="kl_loss_type")
  if logp.shape != ref_logp.shape:
    raise ValueError(f"kl_penalty: logp {logp.shape} and ref_logp {ref_logp.shape} differ in shape")
  d = logp.astype(jnp.float32) - jax.lax.stop_gradient(ref_logp.astype(jnp.float32))  # [B, T]
  return estimator(d)
