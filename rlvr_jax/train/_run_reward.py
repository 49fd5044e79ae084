"""The run's reward from its typed reward section: the shared reward values, plus sandbox limits for code
rewards, so every entry point that has a `RunSpec` builds the same reward from the same fields."""

from __future__ import annotations

from rlvr_jax.config._sections import RewardSpec
from rlvr_jax.rewards import REWARDS, RewardFn
from rlvr_jax.rewards.code import CodeExecReward


def build_run_reward(reward: RewardSpec) -> RewardFn:
  """`reward.name` built with the run's values; code rewards also get the sandbox settings."""
  factory = REWARDS.get(reward.name, field="reward.name")
  if isinstance(factory, type) and issubclass(factory, CodeExecReward):
    return factory(reward.values, sandbox=reward.sandbox)
  return factory(reward.values)
