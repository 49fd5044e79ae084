"""What the rollout produces for the configured advantage estimator, and the advantages computed from it.

Estimators declare the data they read besides the rewards (`advantages.registry.DATA_INPUTS`); the
trainer reads those declarations, never a list of estimator names, to decide what each rollout step must
produce on top of the sampled responses:

    baseline_rewards  a greedy (temperature 0) response per prompt, scored by the run's reward (ReMax)
    values            PPO's value model and its rollout pass (GAE)
    sum_pi_squared    sum_v pi(v)^2 from the old-log-prob pass (the optimal token baseline)

and passes everything it has (the verdicts, the old log-probs, the truncated importance weights, and
the token rewards when KL is charged in the reward); an estimator ignores what it does not read.
Advantages come after the scoring pass, so old log-probs and values are available to every estimator.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import jax.numpy as jnp
import numpy as np

from rlvr_jax.objectives.advantages import ADVANTAGE_ESTIMATORS, AdvantageOutput, compute_advantages
from rlvr_jax.objectives._critic import explained_variance
from rlvr_jax.objectives._kl_reward import KLInRewardConfig, kl_penalized_rewards


@dataclasses.dataclass(frozen=True)
class EstimatorNeeds:
  """What a rollout must produce for an estimator besides responses, rewards and old log-probs.

  Attributes:
    greedy_baseline: one greedy response per prompt, its reward the baseline (`baseline_rewards`).
    critic: a value model and its values of the response tokens (`values`).
    sum_pi_squared: sum_v pi(v)^2 from the old-log-prob pass (`sum_pi_squared`).
  """

  greedy_baseline: bool = False
  critic: bool = False
  sum_pi_squared: bool = False


def estimator_needs(name: str) -> EstimatorNeeds:
  """The needs of estimator `name`, from its registered data inputs. A required input makes the trainer
  build what produces it; an optional one that costs only a statistic (sum pi^2) is produced too."""
  spec = ADVANTAGE_ESTIMATORS.get(name, field="advantage.estimator")
  reads = set(spec.inputs) | set(spec.optional_inputs)
  return EstimatorNeeds(greedy_baseline="baseline_rewards" in spec.inputs, critic="values" in spec.inputs,
                        sum_pi_squared="sum_pi_squared" in reads)


def rollout_advantages(name: str, hparams: Mapping[str, Any], *, rewards: np.ndarray, response_mask: np.ndarray,
                       loss_mask: np.ndarray, group_ids: np.ndarray, correct: np.ndarray, old_logp: np.ndarray,
                       ref_logp: np.ndarray | None = None, baseline_rewards: np.ndarray | None = None,
                       values: np.ndarray | None = None, sum_pi_squared: np.ndarray | None = None,
                       rollout_is_weights: np.ndarray | None = None, kl_in_reward: KLInRewardConfig | None = None,
                       kl_coef: float | None = None) -> tuple[AdvantageOutput, dict[str, float]]:
  """Advantages of one rollout batch (host arrays in, device arrays out) and the rollout metrics of the
  reward's KL penalty and of the critic.

  Args:
    name, hparams: the estimator and its hyperparameters.
    rewards: [R] shaped outcome rewards.
    response_mask: [R, N] the real response tokens (where the KL penalty is charged, as verl).
    loss_mask: [R, N] the tokens that train (response_mask minus masked truncations).
    group_ids: [R] prompt index of each row; correct: [R] the reward's verdicts.
    old_logp: [R, N] rollout-policy log-probs (recomputed); ref_logp: [R, N] reference log-probs.
    baseline_rewards, values, sum_pi_squared, rollout_is_weights: the estimator's data inputs, when made.
    kl_in_reward: charge beta * KL(old || ref) per token in the reward (verl `apply_kl_penalty`); then
      every estimator sees rewards = the token rewards' sum, and those that read token rewards see them.
    kl_coef: beta, the controller's coefficient this step.
  """
  metrics: dict[str, float] = {}
  token_rewards = None
  if kl_in_reward is not None:
    if ref_logp is None or kl_coef is None:
      raise ValueError("KL in the reward needs the reference log-probs and the controller's coefficient")
    token_rewards, kl_metrics = kl_penalized_rewards(jnp.asarray(rewards), jnp.asarray(response_mask),
                                                     jnp.asarray(old_logp), jnp.asarray(ref_logp), coef=kl_coef,
                                                     kind=kl_in_reward.kind)
    rewards = jnp.sum(token_rewards, axis=-1)  # [R] what outcome estimators see (verl: token rewards summed)
    metrics.update({key: float(value) for key, value in kl_metrics.items()})
  as_array = lambda x: None if x is None else jnp.asarray(x)  # noqa: E731
  adv = compute_advantages(
      name, jnp.asarray(rewards), jnp.asarray(loss_mask), jnp.asarray(group_ids), correct=jnp.asarray(correct),
      baseline_rewards=as_array(baseline_rewards), values=as_array(values), token_rewards=token_rewards,
      old_logp=as_array(old_logp), sum_pi_squared=as_array(sum_pi_squared),
      rollout_is_weights=as_array(rollout_is_weights), **hparams)
  if values is not None:
    mask = jnp.asarray(loss_mask) * adv.keep[:, None]  # [R, N]
    count = jnp.maximum(jnp.sum(mask > 0), 1)
    metrics.update({
        "critic/explained_variance": float(explained_variance(adv.returns, jnp.asarray(values), mask)),
        "critic/values_mean": float(jnp.sum(jnp.where(mask > 0, values, 0.0)) / count),
        "critic/returns_mean": float(jnp.sum(jnp.where(mask > 0, adv.returns, 0.0)) / count),
    })
  return adv, metrics
