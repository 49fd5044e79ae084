"""Outcome-reward estimators with a baseline from the prompt's group (algorithms.md §1.2, §8.1, plus QAE).

Each reproduces the verl (or method-repo) code, including its edge cases: singleton groups,
zero-variance groups, empty responses. verl: `verl/trainer/ppo/core_algos.py` (verl-project/verl
018f23b5, the same functions at volcengine/verl 012be9d9 and tag v0.4.1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlvr_jax.objectives.advantages._groups import (broadcast, discounted_returns, group_count, group_mean,
                                                   group_std, masked_whiten, outcome_token_rewards, output)
from rlvr_jax.objectives.advantages._registry import AdvantageOutput, check_range, register_estimator
from rlvr_jax.objectives._methods import register_method


@register_estimator("grpo", group_relative=True)
def grpo(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *, norm_by_std: bool = True,
         eps: float = 1e-6) -> AdvantageOutput:
  """verl `compute_grpo_outcome_advantage`: (R - mean_g) / (std_g + eps), unbiased std.

  Singleton groups use mean 0 and std 1 (so a = R / (1 + eps)); groups with identical rewards get 0.
  norm_by_std=False is Dr.GRPO's R - mean_g. (verl's `grpo_vectorized` differs only in zero-variance
  groups, where the numerator is 0 anyway.)
  """
  check_range("grpo", "eps", eps, 0.0, float("inf"), low_open=True)
  singleton = group_count(group_ids) == 1
  mean = jnp.where(singleton, 0.0, group_mean(rewards, group_ids))
  std = jnp.where(singleton, 1.0, group_std(rewards, group_ids, mean))
  centered = rewards - mean
  if norm_by_std:
    centered = centered / (std + eps)
  zero_std = std == 0
  return output(broadcast(centered, response_mask), response_mask,
                zero_std_fraction=jnp.mean(zero_std.astype(jnp.float32)))


@register_estimator("dr_grpo", group_relative=True)
def dr_grpo(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array) -> AdvantageOutput:
  """Dr.GRPO: GRPO without the std division (pair it with seq-mean-token-sum-norm aggregation)."""
  return grpo(rewards, response_mask, group_ids, norm_by_std=False)


@register_estimator("grpo_passk", group_relative=True)
def grpo_passk(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *,
               norm_by_std: bool = True, eps: float = 1e-6) -> AdvantageOutput:
  """verl `compute_grpo_passk_outcome_advantage` (Chen et al., arXiv 2503.19595): pass@k credit.

  Only the best response of each group moves: a = (r_max - r_second) / (std_g + eps) (std unbiased,
  norm_by_std=False drops it); every other response gets 0. A tied maximum gives r_max - r_second = 0,
  so which of the tied responses torch.topk would pick does not matter. verl raises for a group of one
  response; a traced group size cannot raise, so singleton groups get 0 and are counted in the
  `singleton_fraction` metric (config validation rejects num_samples < 2 for group-relative estimators).
  """
  check_range("grpo_passk", "eps", eps, 0.0, float("inf"), low_open=True)
  num = rewards.shape[0]
  index = jnp.arange(num)
  best_reward = jax.ops.segment_max(rewards, group_ids, num_segments=num)[group_ids]  # [B]
  first_best = jax.ops.segment_min(jnp.where(rewards == best_reward, index, num), group_ids,
                                   num_segments=num)[group_ids]
  is_best = index == first_best  # [B] one response per group
  second = jax.ops.segment_max(jnp.where(is_best, -jnp.inf, rewards), group_ids, num_segments=num)[group_ids]
  multi = group_count(group_ids) > 1
  gap = jnp.where(multi, best_reward - jnp.where(multi, second, best_reward), 0.0)
  if norm_by_std:
    gap = gap / (group_std(rewards, group_ids, group_mean(rewards, group_ids)) + eps)
  adv = jnp.where(is_best & multi, gap, 0.0)
  return output(broadcast(adv, response_mask), response_mask,
                singleton_fraction=jnp.mean((~multi).astype(jnp.float32)))


@register_estimator("rloo", group_relative=True)
def rloo(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array) -> AdvantageOutput:
  """verl RLOO: R minus the mean of the other n - 1 samples = n / (n - 1) (R - mean_g); singletons keep R."""
  count = group_count(group_ids)
  scale = count / jnp.maximum(count - 1.0, 1.0)
  loo = jnp.where(count > 1, scale * (rewards - group_mean(rewards, group_ids)), rewards)
  return output(broadcast(loo, response_mask), response_mask)


@register_estimator("reinforce_pp_baseline")
def reinforce_pp_baseline(rewards: jax.Array, response_mask: jax.Array,
                          group_ids: jax.Array) -> AdvantageOutput:
  """verl REINFORCE++-baseline: R - mean_g (singleton: mean 0), then batch-global token whitening."""
  singleton = group_count(group_ids) == 1
  centered = rewards - jnp.where(singleton, 0.0, group_mean(rewards, group_ids))
  return output(masked_whiten(broadcast(centered, response_mask), response_mask), response_mask)


@register_estimator("reinforce_pp", optional_inputs=("token_rewards",))
def reinforce_pp(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *,
                 token_rewards: jax.Array | None = None, gamma: float = 1.0) -> AdvantageOutput:
  """verl REINFORCE++: discounted return of the token rewards, then batch-global token whitening.

  Without `token_rewards` the score sits on token sum(mask) - 1, so G_t = gamma^(k - t) R up to the last
  token and 0 after it; a masked position inside the response cuts the return of the tokens before it
  (verl resets the running return there). Group ids are unused (no baseline).
  """
  del group_ids
  check_range("reinforce_pp", "gamma", gamma, 0.0, 1.0)
  if token_rewards is None:
    token_rewards = outcome_token_rewards(rewards, response_mask)
  returns = discounted_returns(token_rewards, response_mask, gamma)  # [B, T]
  return output(masked_whiten(returns, response_mask), response_mask, returns=returns)


@register_estimator("opo")
def opo(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array) -> AdvantageOutput:
  """verl OPO: length-weighted group baseline sum |y| R / sum |y|; singleton groups use baseline 0.

  A group whose responses are all empty has no defined baseline (torch gives NaN); it uses 0 here.
  """
  num = group_ids.shape[0]
  lengths = jnp.sum(response_mask, axis=-1, dtype=jnp.float32)  # [B]
  weighted = jax.ops.segment_sum(lengths * rewards, group_ids, num_segments=num)[group_ids]
  total_length = jax.ops.segment_sum(lengths, group_ids, num_segments=num)[group_ids]
  defined = (group_count(group_ids) > 1) & (total_length > 0)
  baseline = jnp.where(defined, weighted / jnp.where(defined, total_length, 1.0), 0.0)
  return output(broadcast(rewards - baseline, response_mask), response_mask)


@register_estimator("gpg")
def gpg(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *,
        f_norm: float = 1.0) -> AdvantageOutput:
  """verl GPG: alpha (R - mean_g) / f_norm, alpha = B / max(1, #nonzero rewards in the batch).

  This is verl's alpha (counts nonzero raw rewards); the GPG paper's B / (B - #zero-advantage samples)
  differs for non-binary rewards. Singleton groups use mean 0.
  """
  check_range("gpg", "f_norm", f_norm, 0.0, float("inf"), low_open=True)
  num = rewards.shape[0]
  alpha = num / jnp.maximum(jnp.count_nonzero(rewards), 1).astype(jnp.float32)
  singleton = group_count(group_ids) == 1
  centered = rewards - jnp.where(singleton, 0.0, group_mean(rewards, group_ids))
  return output(broadcast(alpha * centered / f_norm, response_mask), response_mask, alpha=alpha)


QUANTILE_METHODS = ("inverted_cdf", "linear")


@register_estimator("qae", group_relative=True)
def qae(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *, quantile: float = 0.4,
        method: str = "inverted_cdf") -> AdvantageOutput:
  """Quantile Advantage Estimation (Wu et al. 2025, arXiv 2509.22611): A = R - q_K(group rewards).

  The K-quantile baseline gates by group success rate p (binary rewards): p <= 1 - K gives baseline 0
  (only successes are reinforced), p > 1 - K gives baseline 1 (only failures are penalized). The
  empirical quantile ("inverted_cdf": smallest r with F(r) >= K) reproduces that gate exactly; "linear"
  (torch.quantile's default) interpolates and can give fractional baselines. UNCONFIRMED against the
  paper's code: the default K = 0.4, the quantile definition, and the absence of std normalization.
  """
  check_range("qae", "quantile", quantile, 0.0, 1.0)
  if method not in QUANTILE_METHODS:
    raise ValueError(f"qae: method={method!r}; known: {', '.join(QUANTILE_METHODS)}")
  num = rewards.shape[0]
  order = jnp.lexsort((rewards, group_ids))  # group-major, rewards ascending within a group
  sorted_rewards = rewards[order]  # [B]
  sizes = jax.ops.segment_sum(jnp.ones((num,), jnp.int32), group_ids, num_segments=num)  # [B] per group id
  starts = (jnp.cumsum(sizes) - sizes)[group_ids]  # [B] offset of each response's group in `order`
  size = sizes[group_ids]  # [B]
  if method == "inverted_cdf":
    rank = jnp.ceil(quantile * size.astype(jnp.float32)).astype(jnp.int32) - 1
    baseline = sorted_rewards[starts + jnp.clip(rank, 0, size - 1)]
  else:
    position = quantile * (size - 1).astype(jnp.float32)
    low = jnp.floor(position).astype(jnp.int32)
    high = jnp.minimum(low + 1, size - 1)
    low_value = sorted_rewards[starts + low]
    baseline = low_value + (position - low) * (sorted_rewards[starts + high] - low_value)
  adv = rewards - baseline
  return output(broadcast(adv, response_mask), response_mask,
                zero_advantage_fraction=jnp.mean((adv == 0).astype(jnp.float32)))


# Methods that differ from verl's PPO defaults (ObjectiveConfig) only in the estimator.
register_method("grpo", source="verl defaults (_generated_ppo_trainer.yaml)")
# Dr.GRPO: constant normalizer, no KL (verl docs/algo/grpo.md).
register_method("dr_grpo", objective={"loss_agg_mode": "seq-mean-token-sum-norm"}, estimator="dr_grpo",
                source="verl docs/algo/grpo.md (Dr.GRPO)")
register_method("grpo_passk", estimator="grpo_passk", source="verl core_algos compute_grpo_passk_outcome_advantage")
register_method("rloo", estimator="rloo", source="verl examples/rloo_trainer")
register_method("reinforce_pp", estimator="reinforce_pp", source="verl examples/reinforce_plus_plus_trainer")
register_method("reinforce_pp_baseline", estimator="reinforce_pp_baseline",
                source="verl examples/reinforce_plus_plus_trainer (baseline variant)")
register_method("opo", estimator="opo", source="verl examples/opo_trainer (arXiv 2505.23585)")
register_method("qae", estimator="qae", source="arXiv 2509.22611 (UNCONFIRMED: no official code read)")
