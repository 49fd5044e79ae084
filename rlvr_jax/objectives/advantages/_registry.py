"""The advantage-estimator registry and its one entry point, `compute_advantages`.

An estimator is registered with the data it reads besides the rewards (`inputs`, required;
`optional_inputs`), so that a missing input is an error naming the estimator and the argument, and so
that the trainer can pass everything it has: inputs an estimator does not declare are ignored. Every
other keyword parameter of the estimator function is a hyperparameter, set from the config's
`advantage.hparams`; an unknown hyperparameter is an error listing the accepted ones.

Estimator functions have the signature

    fn(rewards [B], response_mask [B, T] bool, group_ids [B] int, *, <inputs>, <hparams>) -> AdvantageOutput

and are pure and jit-able. Einsum legend: B responses (rows), T response positions, G prompts (groups).
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from typing import Any, Callable

import flax.struct
import jax
import jax.numpy as jnp

from rlvr_jax._registry import Registry


@flax.struct.dataclass
class AdvantageOutput:
  """Advantages, the critic / return target, and which responses stay in the loss.

  `keep` is all True except for PSR / NSR, which train on a subset of the batch (the correct resp.
  incorrect responses). Shapes stay static, so the subset is a mask: the loss must multiply the response
  mask by `keep` so dropped responses leave the aggregation denominators too.

  `returns` is what verl's estimators return next to the advantages: the GAE value target, the
  reward-to-go of ReMax / REINFORCE++ / the optimal token baseline, and the advantages themselves for
  the group-baseline estimators (verl returns `scores, scores`). Only a critic reads it.
  """

  advantages: jax.Array  # [B, T] float32, zero outside response_mask and for dropped responses
  returns: jax.Array  # [B, T] float32, zero outside response_mask
  keep: jax.Array  # [B] bool
  metrics: dict[str, jax.Array]


# Data an estimator may read besides the rewards, with the shape compute_advantages checks.
DATA_INPUTS: dict[str, str] = {
    "correct": "[B] bool, the reward's verdict (RewardResult.correct), not derived from the reward value",
    "baseline_rewards": "[B] reward of the prompt's greedy response per row, or [G] per prompt (indexed "
                        "by group_ids)",
    "values": "[B, T] critic values V(s_t) of the rollout",
    "token_rewards": "[B, T] token-level rewards (score on the last response token minus the in-reward "
                     "KL penalty, kl_reward.kl_penalized_rewards)",
    "old_logp": "[B, T] rollout-policy log-prob of the sampled tokens",
    "sum_pi_squared": "[B, T] sum_v pi(v)^2 of the rollout policy at each position",
    "rollout_is_weights": "[B, T] truncated importance weights pi_old / pi_rollout",
}


@dataclasses.dataclass(frozen=True)
class EstimatorSpec:
  """A registered estimator.

  Attributes:
    fn: the estimator function.
    inputs: DATA_INPUTS it requires.
    optional_inputs: DATA_INPUTS it reads when given (None otherwise).
    group_relative: its baseline comes from the other responses of the prompt, so it needs at least two
      responses per prompt (config validation can read this instead of a list of names).
  """

  fn: Callable[..., AdvantageOutput]
  inputs: tuple[str, ...] = ()
  optional_inputs: tuple[str, ...] = ()
  group_relative: bool = False

  @property
  def hparams(self) -> tuple[str, ...]:
    """Keyword hyperparameters: every parameter after the first three that is not a data input."""
    names = tuple(inspect.signature(self.fn).parameters)[3:]
    return tuple(n for n in names if n not in self.inputs + self.optional_inputs)

  @property
  def defaults(self) -> dict[str, Any]:
    """Hyperparameter defaults, read from the function signature (the only place they live)."""
    params = inspect.signature(self.fn).parameters
    return {n: params[n].default for n in self.hparams if params[n].default is not inspect.Parameter.empty}


ADVANTAGE_ESTIMATORS: Registry[EstimatorSpec] = Registry("advantage estimator")


def register_estimator(name: str, *, inputs: tuple[str, ...] = (), optional_inputs: tuple[str, ...] = (),
                       group_relative: bool = False) -> Callable[[Callable[..., AdvantageOutput]],
                                                                 Callable[..., AdvantageOutput]]:
  """Decorator: `@register_estimator("remax", inputs=("baseline_rewards",))`; returns the function."""
  unknown = sorted((set(inputs) | set(optional_inputs)) - set(DATA_INPUTS))
  if unknown:
    raise ValueError(f"estimator {name!r} declares unknown data inputs {unknown}; known: {list(DATA_INPUTS)}")

  def add(fn: Callable[..., AdvantageOutput]) -> Callable[..., AdvantageOutput]:
    ADVANTAGE_ESTIMATORS.register(name)(EstimatorSpec(fn, tuple(inputs), tuple(optional_inputs), group_relative))
    return fn

  return add


def compute_advantages(name: str, rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *,
                       correct: jax.Array | None = None, baseline_rewards: jax.Array | None = None,
                       values: jax.Array | None = None, token_rewards: jax.Array | None = None,
                       old_logp: jax.Array | None = None, sum_pi_squared: jax.Array | None = None,
                       rollout_is_weights: jax.Array | None = None, **hparams: Any) -> AdvantageOutput:
  """Runs the estimator `name` and adds summary metrics over valid tokens of kept responses.

  Args:
    name: an ADVANTAGE_ESTIMATORS name.
    rewards: [B] sequence score (sum of token-level rewards).
    response_mask: [B, T] 1 on response tokens.
    group_ids: [B] int in [0, B), the prompt each response answers.
    correct, baseline_rewards, values, token_rewards, old_logp, sum_pi_squared, rollout_is_weights: data
      inputs (DATA_INPUTS). Required ones missing raise; ones the estimator does not read are ignored.
    **hparams: the estimator's keyword hyperparameters; unknown names raise ValueError.
  """
  spec = ADVANTAGE_ESTIMATORS.get(name, field="advantage_estimator")
  unknown = sorted(set(hparams) - set(spec.hparams))
  if unknown:
    raise ValueError(f"advantage estimator {name!r} got unknown hyperparameter(s) {unknown}; "
                     f"accepted: {list(spec.hparams)}")
  _check_inputs(rewards, response_mask, group_ids)
  given = dict(correct=correct, baseline_rewards=baseline_rewards, values=values, token_rewards=token_rewards,
               old_logp=old_logp, sum_pi_squared=sum_pi_squared, rollout_is_weights=rollout_is_weights)
  missing = [key for key in spec.inputs if given[key] is None]
  if missing:
    raise ValueError(f"advantage estimator {name!r} needs {', '.join(missing)} "
                     f"({'; '.join(f'{key}: {DATA_INPUTS[key]}' for key in missing)}); pass "
                     f"compute_advantages(..., {missing[0]}=...)")
  data = {key: _check_data(key, given[key], response_mask) for key in spec.inputs + spec.optional_inputs}
  mask = response_mask.astype(bool)
  out = spec.fn(rewards.astype(jnp.float32), mask, group_ids, **data, **hparams)

  valid = mask & out.keep[:, None]  # [B, T]
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


def _check_data(key: str, value: jax.Array | None, response_mask: jax.Array) -> jax.Array | None:
  """Shape / dtype check of one data input; returns it cast (bool or float32)."""
  if value is None:
    return None
  value = jnp.asarray(value)
  rows = response_mask.shape[0]
  if key == "correct":
    if value.shape != (rows,) or value.dtype != jnp.bool_:
      raise ValueError(f"correct must be a bool [B]=({rows},) array (the reward's verdict), got "
                       f"{value.dtype} {value.shape}")
    return value
  if key == "baseline_rewards":
    if value.ndim != 1 or value.shape[0] > rows:
      raise ValueError(f"baseline_rewards must be [B]=({rows},) per response or [G] per prompt (G <= B), "
                       f"got shape {value.shape}")
    return value.astype(jnp.float32)
  if value.shape != response_mask.shape:
    raise ValueError(f"{key} must be [B, T]={tuple(response_mask.shape)}, got shape {value.shape}")
  return value.astype(jnp.float32)



def check_range(estimator: str, name: str, value: Any, low: float, high: float, *,
                low_open: bool = False) -> None:
  """Hyperparameter range check naming estimator, field and value; traced values are not checked."""
  if not isinstance(value, numbers.Number):
    return  # traced hyperparameters are the caller's responsibility
  too_low = value <= low if low_open else value < low
  if too_low or value > high:
    bracket = "(" if low_open else "["
    raise ValueError(f"{estimator}: {name} must be in {bracket}{low}, {high}], got {value!r}")
