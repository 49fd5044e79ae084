"""The objective: config -> pure `loss(batch, state, key) -> (scalar, metrics)` over token statistics.

    objective = build_objective({"transforms": ("clip_higher", "steer"), "dual_clip_c": 10.0})
    state = objective.init_state()                         # per-transform pytrees (anchors, lambdas, ...)
    loss, metrics = objective.loss(batch, state, key)      # pure; jit / grad / shard freely
    state = objective.update_state(state, metrics, progress)   # between optimizer steps

`loss` starts from the batch's advantages, unit weights and the response mask, runs the transforms in
config order (each edits the objective state), then computes

    aggregate(token_weights * L_tok, loss_mask, loss_agg_mode) + sum(extra loss terms) [+ KL term]

where L_tok is the token loss a transform substituted (Clip-Cov, KL-Cov) or the configured policy
loss (token_losses.POLICY_LOSSES: PPO by default, GPG, GSPO, CISPO, GMPO, SAPO) of the final
advantages and clip parameters, and the KL term is aggregated over the state's KL mask (all response
tokens unless a transform such as siren_kl restricts it). Nothing here touches logits: the
vocabulary-sized work happens once in `token_stats.token_statistics`, and `token_stats_request()`
says which statistics the configured transforms need.

Micro-batch-invariant aggregation: with `batch.global_tokens` set, a transform that shrinks the loss
mask (fork tokens, `renormalize=True`) would leave a denominator that counts dropped tokens, so the
global token count is scaled by the fraction of response tokens this call keeps. That is exact when
every micro-batch keeps the same fraction (top-ratio selections do, up to rounding) and an estimate
otherwise; without global counts the local count is used, as legacy verl.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax
import jax.numpy as jnp

from rlvr_jax.objectives import _entropy_change as entropy_change
from rlvr_jax.objectives._batch import ObjectiveState, TokenBatch
from rlvr_jax.objectives._config import ObjectiveConfig
from rlvr_jax.objectives._kl import kl_penalty
from rlvr_jax.objectives._policy_loss import ppo_token_loss
from rlvr_jax.objectives.transforms import TrainingProgress
from rlvr_jax.objectives.transforms._group_stats import masked_mean


@dataclasses.dataclass(frozen=True)
class Objective:
  """A built objective; hashable and static, so `jax.jit(objective.loss)` traces it once."""

  config: ObjectiveConfig

  def required_inputs(self) -> frozenset[str]:
    """Optional TokenBatch fields the configured objective reads."""
    required = set()
    for transform in self.config.transforms:
      required |= transform.required_inputs()
    if self.config.kl is not None:
      required.add("ref_logp")
    return frozenset(required)

  def token_stats_request(self) -> dict[str, Any]:
    """Keyword arguments for `token_statistics` in the training forward pass."""
    request: dict[str, Any] = {"with_entropy": "entropy" in self.required_inputs()}
    for transform in self.config.transforms:
      request.update(transform.token_stats_request())
    return request

  def init_state(self) -> dict[str, Any]:
    return {t.name: t.init_state() for t in self.config.transforms}

  def update_state(self, state: Mapping[str, Any], step_metrics: Mapping[str, jax.Array],
                   progress: TrainingProgress) -> dict[str, Any]:
    """Advances the between-step schedules (anchors, lambdas, coefficients); pure and jit-able."""
    return {t.name: t.update_state(state[t.name], step_metrics, progress) for t in self.config.transforms}

  def transform(self, batch: TokenBatch, state: Mapping[str, Any],
                key: jax.Array | None = None) -> ObjectiveState:
    """Runs the transforms only: the objective state the loss is computed from (for ablations)."""
    batch.validate(self.required_inputs())
    if self.config.entropy_change_diagnostic and batch.old_entropy is None and batch.entropy is None:
      raise ValueError("entropy_change_diagnostic needs TokenBatch.old_entropy or TokenBatch.entropy")
    missing_state = sorted(t.name for t in self.config.transforms if t.name not in state)
    if missing_state:
      raise ValueError(f"objective state lacks entries for transforms {missing_state}; "
                       f"start from Objective.init_state()")
    needing_key = [t.name for t in self.config.transforms if t.needs_key]
    if needing_key and key is None:
      raise ValueError(f"transforms {needing_key} draw random numbers; pass a PRNG key to the objective")

    objective_state = ObjectiveState.initial(batch, self.config.ppo, self.config.aggregation)
    for index, transform in enumerate(self.config.transforms):
      transform_key = jax.random.fold_in(key, index) if transform.needs_key else None
      objective_state = transform.apply(batch, objective_state, state[transform.name], transform_key)
    return objective_state

  def loss(self, batch: TokenBatch, state: Mapping[str, Any],
           key: jax.Array | None = None) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Scalar float32 loss to minimize and float32 scalar metrics."""
    config = self.config
    objective_state = self.transform(batch, state, key)
    valid = batch.response_mask > 0  # [B, T]

    if objective_state.token_loss is None:
      token_loss, policy_metrics = config.policy_loss_params(batch, objective_state)
    else:
      token_loss, policy_metrics = objective_state.token_loss, {}

    aggregation = objective_state.aggregation
    policy = aggregation(objective_state.token_weights * token_loss, objective_state.loss_mask,
                         global_tokens=_kept_global_tokens(batch, objective_state.loss_mask),
                         global_sequences=batch.global_sequences)
    terms = dict(objective_state.extra_losses)
    if config.kl is not None:
      kl = kl_penalty(batch.logp, batch.ref_logp, config.kl.kind)  # [B, T]
      terms["kl"] = config.kl.coef * aggregation(kl, objective_state.kl_mask,
                                                 global_tokens=_kept_global_tokens(batch, objective_state.kl_mask),
                                                 global_sequences=batch.global_sequences)
    total = policy + sum(terms.values(), jnp.zeros((), jnp.float32))

    metrics = {"loss/total": total, "loss/policy": policy}
    metrics.update({f"loss/{name}": value for name, value in terms.items()})
    metrics.update({f"policy/{name}": value for name, value in policy_metrics.items()})
    metrics["objective/token_weight_mean"] = masked_mean(objective_state.token_weights, valid)
    metrics["objective/loss_mask_frac"] = masked_mean(objective_state.loss_mask, valid)
    metrics["objective/advantage_mean"] = masked_mean(objective_state.advantages, valid)
    if batch.entropy is not None:
      metrics["entropy/mean"] = masked_mean(jax.lax.stop_gradient(batch.entropy), valid)
    if batch.old_entropy is not None:
      metrics["entropy/old_mean"] = masked_mean(batch.old_entropy, valid)
      metrics.setdefault("entropy/mean", metrics["entropy/old_mean"])
    if config.entropy_change_diagnostic:
      metrics.update(_entropy_change_metrics(batch, objective_state, config.policy_loss))
    metrics.update(objective_state.metrics)
    return total, {name: jax.lax.stop_gradient(value) for name, value in metrics.items()}


def _kept_global_tokens(batch: TokenBatch, kept_mask: jax.Array) -> jax.Array | None:
  """The mini-batch token count scaled by the fraction of this call's response tokens `kept_mask` keeps."""
  if batch.global_tokens is None:
    return None
  kept = jnp.sum(kept_mask, dtype=jnp.float32)
  return batch.global_tokens * kept / jnp.maximum(jnp.sum(batch.response_mask > 0, dtype=jnp.float32), 1.0)


def _entropy_change_metrics(batch: TokenBatch, state: ObjectiveState,
                            policy_loss: str) -> dict[str, jax.Array]:
  """Theorem-form Omega of the final objective (weights and mask included), for any method."""
  entropy = batch.old_entropy if batch.old_entropy is not None else batch.entropy
  gradient_active = None
  if policy_loss == "ppo":
    gradient_active = ppo_token_loss(
        jax.lax.stop_gradient(batch.logp), batch.old_logp, state.advantages, eps_low=state.ppo.eps_low,
        eps_high=state.upper_clip, dual_clip_c=state.ppo.dual_clip_c,
        clamp_log_ratio=state.ppo.clamp_log_ratio).gradient_active
  omega = entropy_change.entropy_change_estimate(
      state.advantages, batch.logp, batch.old_logp, entropy, form="theorem",
      gradient_active=gradient_active, clamp_log_ratio=state.ppo.clamp_log_ratio)
  omega = jnp.where(jnp.isfinite(omega), omega, 0.0) * state.token_weights  # [B, T]
  return {
      "entropy_change/estimate_mean": masked_mean(omega, state.loss_mask),
      "entropy_change/estimate_abs_mean": masked_mean(jnp.abs(omega), state.loss_mask),
      "entropy_change/increase_frac": masked_mean(omega > 0, state.loss_mask),
  }


def build_objective(config: ObjectiveConfig | Mapping[str, Any] | Any) -> Objective:
  """Builds an Objective from an ObjectiveConfig, a mapping or an ml_collections ConfigDict."""
  if not isinstance(config, ObjectiveConfig):
    config = ObjectiveConfig.from_mapping(config)
  return Objective(config)
