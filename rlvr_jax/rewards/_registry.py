"""The reward registry: name -> reward class taking a `RewardConfig` (config.reward.name selects one)."""

from __future__ import annotations

from typing import Callable

from rlvr_jax._registry import Registry
from rlvr_jax.rewards._base import RewardConfig, RewardFn

REWARDS: Registry[Callable[[RewardConfig], RewardFn]] = Registry("reward")


def build_reward(name: str, config: RewardConfig | None = None) -> RewardFn:
  """The reward `name` built from `config`; close it (or use it as a context manager) when done."""
  return REWARDS.get(name, field="reward.name")(config if config is not None else RewardConfig())
