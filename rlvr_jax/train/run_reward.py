"""The run's reward from its config: the shared reward values, plus sandbox limits for code rewards.

Kept apart from the loop so that every entry point (training, `launch/evaluate.py`, notebooks) builds the
same reward from the same config fields.
"""

from __future__ import annotations

import ml_collections

from rlvr_jax.rewards import REWARDS, RewardConfig, RewardFn
from rlvr_jax.rewards.code import CodeExecReward, SandboxConfig


def reward_config(c: ml_collections.ConfigDict) -> RewardConfig:
  r = c.reward
  return RewardConfig(correct=r.correct, incorrect=r.incorrect, format_weight=r.format_weight,
                      timeout_s=r.timeout_s, workers=r.workers)


def sandbox_config(c: ml_collections.ConfigDict) -> SandboxConfig:
  s = c.reward.sandbox
  return SandboxConfig(memory_bytes=int(s.memory_mb) << 20, python=s.python or None,
                       isolate_network=s.isolate_network, drop_privileges=s.drop_privileges)


def build_run_reward(c: ml_collections.ConfigDict) -> RewardFn:
  """`reward.name` built with the run's values; code rewards also get `reward.sandbox`."""
  factory = REWARDS.get(c.reward.name, field="reward.name")
  if isinstance(factory, type) and issubclass(factory, CodeExecReward):
    return factory(reward_config(c), sandbox=sandbox_config(c))
  return factory(reward_config(c))
