"""PPO critic pieces as pure functions: the clipped value loss and the explained-variance metric.

The value model, its optimizer and warm-up live in the trainer; these take arrays only. GAE (the
advantages and the value target) is the `gae` advantage estimator, `advantages/_gae.py`. Einsum legend:
B responses, T response positions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlvr_jax.objectives._aggregation import aggregate
from rlvr_jax.objectives._batch import AggregationSpec
from rlvr_jax.objectives._validation import check_number

# verl compute_data_metrics: 1 - Var(R - V) / (Var(R) + 1e-5).
_EXPLAINED_VARIANCE_EPS = 1e-5


def value_loss(values: jax.Array, returns: jax.Array, old_values: jax.Array, response_mask: jax.Array, *,
               cliprange_value: float, aggregation: AggregationSpec | str = "token-mean",
               global_tokens: jax.Array | None = None,
               global_sequences: jax.Array | None = None) -> tuple[jax.Array, dict[str, jax.Array]]:
  """verl `compute_value_loss`: 0.5 * agg(max((V - R)^2, (clip(V, V_old - c, V_old + c) - R)^2)).

  The clip keeps one update from moving a value further than c from the rollout-time value, unless that
  lowers the loss (the max is pessimistic, as PPO's policy clip). Only `values` carries gradient.

  Args:
    values: [B, T] current critic predictions (with gradient).
    returns: [B, T] targets (GAE returns), constant.
    old_values: [B, T] critic predictions at rollout time, constant.
    response_mask: [B, T].
    cliprange_value: c > 0 (verl critic.cliprange_value, default 0.5).
    aggregation: loss aggregation mode or spec (verl passes the critic's loss_agg_mode, token-mean).
    global_tokens, global_sequences: mini-batch counts for micro-batch-invariant aggregation.

  Returns:
    (loss scalar, {"critic/vf_loss", "critic/vf_clipfrac"}): clipfrac = token-mean of "clipped loss used".
  """
  check_number("value_loss", "cliprange_value", cliprange_value, low=0.0, low_inclusive=False)
  if not values.shape == returns.shape == old_values.shape == response_mask.shape:
    raise ValueError(f"value_loss: values {values.shape}, returns {returns.shape}, old_values "
                     f"{old_values.shape} and response_mask {response_mask.shape} must have the same shape")
  if isinstance(aggregation, str):
    aggregation = AggregationSpec(mode=aggregation)
  values = values.astype(jnp.float32)
  returns = jax.lax.stop_gradient(returns.astype(jnp.float32))
  old_values = jax.lax.stop_gradient(old_values.astype(jnp.float32))
  clipped = jnp.clip(values, old_values - cliprange_value, old_values + cliprange_value)
  unclipped_loss = jnp.square(values - returns)  # [B, T]
  clipped_loss = jnp.square(clipped - returns)  # [B, T]
  loss = 0.5 * aggregation(jnp.maximum(unclipped_loss, clipped_loss), response_mask,
                           global_tokens=global_tokens, global_sequences=global_sequences)
  clipfrac = aggregate(jax.lax.stop_gradient(clipped_loss > unclipped_loss).astype(jnp.float32),
                       response_mask, "token-mean")
  return loss, {"critic/vf_loss": jax.lax.stop_gradient(loss), "critic/vf_clipfrac": clipfrac}


def explained_variance(returns: jax.Array, values: jax.Array, response_mask: jax.Array) -> jax.Array:
  """verl `critic/vf_explained_var`: 1 - Var(R - V) / (Var(R) + 1e-5) over the response tokens.

  Variances are unbiased (torch.var) over every valid token of the batch; 1 means the critic predicts
  the returns exactly, 0 means no better than their mean, negative worse. Fewer than two valid tokens
  give NaN, as torch.var does.
  """
  if not returns.shape == values.shape == response_mask.shape:
    raise ValueError(f"explained_variance: returns {returns.shape}, values {values.shape} and response_mask "
                     f"{response_mask.shape} must have the same shape")
  valid = response_mask > 0
  count = jnp.sum(valid, dtype=jnp.float32)
  returns = jax.lax.stop_gradient(returns.astype(jnp.float32))
  values = jax.lax.stop_gradient(values.astype(jnp.float32))

  def unbiased_var(x: jax.Array) -> jax.Array:
    mean = jnp.sum(jnp.where(valid, x, 0.0)) / jnp.maximum(count, 1.0)
    squares = jnp.sum(jnp.where(valid, jnp.square(x - mean), 0.0))
    return jnp.where(count > 1, squares / jnp.maximum(count - 1.0, 1.0), jnp.nan)

  return 1.0 - unbiased_var(returns - values) / (unbiased_var(returns) + _EXPLAINED_VARIANCE_EPS)
