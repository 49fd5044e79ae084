"""Outcome-reward advantage estimators (algorithms.md §1.2, §8.1, plus QAE).

All estimators see one scalar reward per response and a group id per response (the prompt it answers),
and return a per-token advantage [B, T]. Group statistics use segment reductions with B segments, so the
whole computation is one jit-able graph with no Python loop over groups or tokens; group ids only need
to lie in [0, B) (they need not be contiguous or sorted).

Every estimator is registered as fn(rewards, response_mask, group_ids, **hparams) -> AdvantageOutput and
reproduces the verl (or method-repo) code, including its edge cases: singleton groups, zero-variance
groups, empty responses.
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp

from rlvr_jax.registry import Registry


@flax.struct.dataclass
class AdvantageOutput:
  """Advantages plus which responses stay in the loss.

  `keep` is all True except for PSR / NSR, which train on a subset of the batch (the correct resp.
  incorrect responses). Shapes stay static, so the subset is a mask: the loss must multiply the response
  mask by `keep` so dropped responses leave the aggregation denominators too.
  """

  advantages: jax.Array  # [B, T] float32, zero outside response_mask and for dropped responses
  keep: jax.Array  # [B] bool
  metrics: dict[str, jax.Array]


AdvantageEstimator = Callable[..., AdvantageOutput]

ADVANTAGE_ESTIMATORS: Registry[AdvantageEstimator] = Registry("advantage estimator")

# verl `masked_whiten`: variance epsilon inside rsqrt, and `masked_mean`'s denominator epsilon.
_WHITEN_EPS = 1e-8
_MASKED_MEAN_EPS = 1e-8


def group_ids_from_size(num_responses: int, group_size: int) -> jax.Array:
  """[B] group ids for the usual layout: the `group_size` responses of each prompt are contiguous."""
  if not isinstance(group_size, int) or group_size <= 0:
    raise ValueError(f"group_size must be a positive int, got {group_size!r}")
  if not isinstance(num_responses, int) or num_responses <= 0 or num_responses % group_size:
    raise ValueError(
        f"num_responses={num_responses!r} must be a positive multiple of group_size={group_size}")
  return jnp.arange(num_responses, dtype=jnp.int32) // group_size


def compute_advantages(name: str, rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array,
                       **hparams: Any) -> AdvantageOutput:
  """Runs the estimator `name` and adds summary metrics over valid tokens of kept responses.

  Args:
    name: an ADVANTAGE_ESTIMATORS name.
    rewards: [B] sequence score (sum of token-level rewards).
    response_mask: [B, T] 1 on response tokens.
    group_ids: [B] int in [0, B), the prompt each response answers.
    **hparams: the estimator's keyword hyperparameters; unknown names raise ValueError.
  """
  estimator = ADVANTAGE_ESTIMATORS.get(name, field="advantage_estimator")
  accepted = tuple(inspect.signature(estimator).parameters)[3:]
  unknown = sorted(set(hparams) - set(accepted))
  if unknown:
    raise ValueError(f"advantage estimator {name!r} got unknown hyperparameter(s) {unknown}; "
                     f"accepted: {list(accepted)}")
  _check_inputs(rewards, response_mask, group_ids)
  out = estimator(rewards.astype(jnp.float32), response_mask.astype(bool), group_ids, **hparams)

  valid = response_mask.astype(bool) & out.keep[:, None]  # [B, T]
  count = jnp.maximum(jnp.sum(valid, dtype=jnp.float32), 1.0)
  metrics = {
      "advantages/mean": jnp.sum(jnp.where(valid, out.advantages, 0.0)) / count,
      "advantages/max": jnp.max(jnp.where(valid, out.advantages, -jnp.inf)),
      "advantages/min": jnp.min(jnp.where(valid, out.advantages, jnp.inf)),
      "advantages/kept_fraction": jnp.mean(out.keep.astype(jnp.float32)),
      **{f"advantages/{key}": value for key, value in out.metrics.items()},
  }
  return out.replace(metrics=metrics)


def _check_inputs(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array) -> None:
  if rewards.ndim != 1:
    raise ValueError(f"rewards must be [B], got shape {rewards.shape}")
  if response_mask.ndim != 2 or response_mask.shape[0] != rewards.shape[0]:
    raise ValueError(f"response_mask must be [B, T] with B={rewards.shape[0]}, got {response_mask.shape}")
  if group_ids.shape != rewards.shape:
    raise ValueError(f"group_ids must be [B]={rewards.shape}, got {group_ids.shape}")
  if not jnp.issubdtype(group_ids.dtype, jnp.integer):
    raise ValueError(f"group_ids must be integers, got dtype {group_ids.dtype}")


def _check_range(estimator: str, name: str, value: Any, low: float, high: float, *,
                 low_open: bool = False) -> None:
  if not isinstance(value, numbers.Number):
    return  # traced hyperparameters are the caller's responsibility
  too_low = value <= low if low_open else value < low
  if too_low or value > high:
    bracket = "(" if low_open else "["
    raise ValueError(f"{estimator}: {name} must be in {bracket}{low}, {high}], got {value!r}")


# ------------------------------------------------------------------------------------------------
# Group statistics.


def _broadcast(per_response: jax.Array, response_mask: jax.Array) -> jax.Array:
  return jnp.where(response_mask, per_response[:, None], 0.0)  # [B, T]


def _group_count(group_ids: jax.Array) -> jax.Array:
  """[B] size of each response's group."""
  num = group_ids.shape[0]
  return jax.ops.segment_sum(jnp.ones((num,), jnp.float32), group_ids, num_segments=num)[group_ids]


def _group_mean(values: jax.Array, group_ids: jax.Array) -> jax.Array:
  """[B] mean of each response's group.

  Accumulated relative to the group minimum so that a group of identical values has a mean equal to
  them bit for bit; otherwise a zero-variance group could get a tiny nonzero deviation, which GRPO's
  division by (std + 1e-6) would blow up.
  """
  num = group_ids.shape[0]
  shift = jax.ops.segment_min(values, group_ids, num_segments=num)[group_ids]
  total = jax.ops.segment_sum(values - shift, group_ids, num_segments=num)[group_ids]
  return shift + total / _group_count(group_ids)


def _group_std(values: jax.Array, group_ids: jax.Array, mean: jax.Array) -> jax.Array:
  """[B] unbiased (ddof=1, torch.std) standard deviation of each response's group; 0 for singletons."""
  num = group_ids.shape[0]
  count = _group_count(group_ids)
  sq = jax.ops.segment_sum(jnp.square(values - mean), group_ids, num_segments=num)[group_ids]
  return jnp.sqrt(sq / jnp.maximum(count - 1.0, 1.0))


def _masked_whiten(values: jax.Array, response_mask: jax.Array) -> jax.Array:
  """verl `masked_whiten` over every response token of the batch (longer responses weigh more).

  Unbiased variance (Bessel N / (N - 1)). verl raises for N <= 1 tokens; here N <= 1 skips the Bessel
  factor instead, since a traced count cannot raise.
  """
  n = jnp.sum(response_mask, dtype=jnp.float32)
  mean = jnp.sum(jnp.where(response_mask, values, 0.0)) / (n + _MASKED_MEAN_EPS)
  centered = values - mean
  var = jnp.sum(jnp.where(response_mask, jnp.square(centered), 0.0)) / (n + _MASKED_MEAN_EPS)
  var = var * jnp.where(n > 1.0, n / jnp.maximum(n - 1.0, 1.0), 1.0)
  return jnp.where(response_mask, centered * jax.lax.rsqrt(var + _WHITEN_EPS), 0.0)


def _output(per_token: jax.Array, keep: jax.Array | None = None, **metrics: jax.Array) -> AdvantageOutput:
  if keep is None:
    keep = jnp.ones(per_token.shape[:1], bool)
  return AdvantageOutput(advantages=jnp.where(keep[:, None], per_token, 0.0), keep=keep, metrics=metrics)


# ------------------------------------------------------------------------------------------------
# Estimators.


@ADVANTAGE_ESTIMATORS.register("grpo")
def grpo(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *, norm_by_std: bool = True,
         eps: float = 1e-6) -> AdvantageOutput:
  """verl `compute_grpo_outcome_advantage`: (R - mean_g) / (std_g + eps), unbiased std.

  Singleton groups use mean 0 and std 1 (so a = R / (1 + eps)); groups with identical rewards get 0.
  norm_by_std=False is Dr.GRPO's R - mean_g. (verl's `grpo_vectorized` differs only in zero-variance
  groups, where the numerator is 0 anyway.)
  """
  _check_range("grpo", "eps", eps, 0.0, float("inf"), low_open=True)
  singleton = _group_count(group_ids) == 1
  mean = jnp.where(singleton, 0.0, _group_mean(rewards, group_ids))
  std = jnp.where(singleton, 1.0, _group_std(rewards, group_ids, mean))
  centered = rewards - mean
  if norm_by_std:
    centered = centered / (std + eps)
  zero_std = std == 0
  return _output(_broadcast(centered, response_mask),
                 zero_std_fraction=jnp.mean(zero_std.astype(jnp.float32)))


@ADVANTAGE_ESTIMATORS.register("dr_grpo")
def dr_grpo(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array) -> AdvantageOutput:
  """Dr.GRPO: GRPO without the std division (pair it with seq-mean-token-sum-norm aggregation)."""
  return grpo(rewards, response_mask, group_ids, norm_by_std=False)


@ADVANTAGE_ESTIMATORS.register("rloo")
def rloo(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array) -> AdvantageOutput:
  """verl RLOO: R minus the mean of the other n - 1 samples = n / (n - 1) (R - mean_g); singletons keep R."""
  count = _group_count(group_ids)
  scale = count / jnp.maximum(count - 1.0, 1.0)
  loo = jnp.where(count > 1, scale * (rewards - _group_mean(rewards, group_ids)), rewards)
  return _output(_broadcast(loo, response_mask))


@ADVANTAGE_ESTIMATORS.register("reinforce_pp_baseline")
def reinforce_pp_baseline(rewards: jax.Array, response_mask: jax.Array,
                          group_ids: jax.Array) -> AdvantageOutput:
  """verl REINFORCE++-baseline: R - mean_g (singleton: mean 0), then batch-global token whitening."""
  singleton = _group_count(group_ids) == 1
  centered = rewards - jnp.where(singleton, 0.0, _group_mean(rewards, group_ids))
  return _output(_masked_whiten(_broadcast(centered, response_mask), response_mask))


@ADVANTAGE_ESTIMATORS.register("reinforce_pp")
def reinforce_pp(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *,
                 gamma: float = 1.0) -> AdvantageOutput:
  """verl REINFORCE++: discounted return of the outcome reward, then batch-global token whitening.

  verl puts R on token index sum(mask) - 1 and runs G_t = r_t + gamma * G_{t+1} backwards, resetting the
  running return at masked positions. In closed form: G_t = gamma^(k - t) R if t <= k and no masked
  position lies in (t, k], else 0, with k = sum(mask) - 1. Group ids are unused (no baseline).
  """
  del group_ids
  _check_range("reinforce_pp", "gamma", gamma, 0.0, 1.0)
  num_tokens = response_mask.shape[1]
  positions = jnp.arange(num_tokens)  # [T]
  last = jnp.sum(response_mask, axis=-1) - 1  # [B], k
  masked_so_far = jnp.cumsum(~response_mask, axis=-1)  # [B, T] masked positions in [0, t]
  masked_at_last = jnp.take_along_axis(masked_so_far, jnp.maximum(last, 0)[:, None], axis=-1)  # [B, 1]
  reaches = (positions[None, :] <= last[:, None]) & (masked_at_last == masked_so_far)  # [B, T]
  steps = (last[:, None] - positions[None, :]).astype(jnp.float32)  # [B, T]
  discount = jnp.power(jnp.float32(gamma), jnp.maximum(steps, 0.0))
  returns = jnp.where(reaches, rewards[:, None] * discount, 0.0)  # [B, T]
  return _output(_masked_whiten(returns, response_mask))


@ADVANTAGE_ESTIMATORS.register("opo")
def opo(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array) -> AdvantageOutput:
  """verl OPO: length-weighted group baseline sum |y| R / sum |y|; singleton groups use baseline 0.

  A group whose responses are all empty has no defined baseline (torch gives NaN); it uses 0 here.
  """
  num = group_ids.shape[0]
  lengths = jnp.sum(response_mask, axis=-1, dtype=jnp.float32)  # [B]
  weighted = jax.ops.segment_sum(lengths * rewards, group_ids, num_segments=num)[group_ids]
  total_length = jax.ops.segment_sum(lengths, group_ids, num_segments=num)[group_ids]
  defined = (_group_count(group_ids) > 1) & (total_length > 0)
  baseline = jnp.where(defined, weighted / jnp.where(defined, total_length, 1.0), 0.0)
  return _output(_broadcast(rewards - baseline, response_mask))


@ADVANTAGE_ESTIMATORS.register("gpg")
def gpg(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *,
        f_norm: float = 1.0) -> AdvantageOutput:
  """verl GPG: alpha (R - mean_g) / f_norm, alpha = B / max(1, #nonzero rewards in the batch).

  This is verl's alpha (counts nonzero raw rewards); the GPG paper's B / (B - #zero-advantage samples)
  differs for non-binary rewards. Singleton groups use mean 0.
  """
  _check_range("gpg", "f_norm", f_norm, 0.0, float("inf"), low_open=True)
  num = rewards.shape[0]
  alpha = num / jnp.maximum(jnp.count_nonzero(rewards), 1).astype(jnp.float32)
  singleton = _group_count(group_ids) == 1
  centered = rewards - jnp.where(singleton, 0.0, _group_mean(rewards, group_ids))
  return _output(_broadcast(alpha * centered / f_norm, response_mask), alpha=alpha)


def _correct(rewards: jax.Array) -> jax.Array:
  return rewards == 1.0


def _incorrect(rewards: jax.Array) -> jax.Array:
  return (rewards == 0.0) | (rewards == -1.0)


@ADVANTAGE_ESTIMATORS.register("w_reinforce")
def w_reinforce(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *,
                positive_weight: float = 0.1) -> AdvantageOutput:
  """W-REINFORCE (RLVR-Decomposed `advantage="weighted"`): no baseline, no std.

  Correct (R == 1): A = positive_weight * R; incorrect (R in {0, -1}): A = R - 1; other rewards: A = R.
  Exactly the reference code, so with {-1, +1} rewards an incorrect response gets -2.
  """
  del group_ids
  _check_range("w_reinforce", "positive_weight", positive_weight, 0.0, float("inf"))
  adv = jnp.where(_correct(rewards), positive_weight * rewards,
                  jnp.where(_incorrect(rewards), rewards - 1.0, rewards))
  return _output(_broadcast(adv, response_mask))


@ADVANTAGE_ESTIMATORS.register("psr")
def psr(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array) -> AdvantageOutput:
  """Positive-sample reinforcement: A = R on the correct responses (R == 1) only; the rest are dropped."""
  del group_ids
  return _output(_broadcast(rewards, response_mask), keep=_correct(rewards))


@ADVANTAGE_ESTIMATORS.register("nsr")
def nsr(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array) -> AdvantageOutput:
  """Negative-sample reinforcement: A = R - 1 on the incorrect responses (R in {0, -1}) only."""
  del group_ids
  return _output(_broadcast(rewards - 1.0, response_mask), keep=_incorrect(rewards))


QUANTILE_METHODS = ("inverted_cdf", "linear")


@ADVANTAGE_ESTIMATORS.register("qae")
def qae(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *, quantile: float = 0.4,
        method: str = "inverted_cdf") -> AdvantageOutput:
  """Quantile Advantage Estimation (Wu et al. 2025, arXiv 2509.22611): A = R - q_K(group rewards).

  The K-quantile baseline gates by group success rate p (binary rewards): p <= 1 - K gives baseline 0
  (only successes are reinforced), p > 1 - K gives baseline 1 (only failures are penalized). The
  empirical quantile ("inverted_cdf": smallest r with F(r) >= K) reproduces that gate exactly; "linear"
  (torch.quantile's default) interpolates and can give fractional baselines. UNCONFIRMED against the
  paper's code: the default K = 0.4, the quantile definition, and the absence of std normalization.
  """
  _check_range("qae", "quantile", quantile, 0.0, 1.0)
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
  return _output(_broadcast(adv, response_mask),
                 zero_advantage_fraction=jnp.mean((adv == 0).astype(jnp.float32)))
