"""Objectives: token statistics, advantages, policy losses, aggregation and entropy-control transforms.

Entry point: `build_objective(config).loss(batch, state, key) -> (loss, metrics)`. Every piece is also
importable on its own for ablations (e.g. `transforms.steer.steer_weights`, `entropy_change_estimate`).
Registries: `POLICY_LOSSES`, `TRANSFORMS`, `ADVANTAGE_ESTIMATORS`, `METHODS` (one entry per method,
resolved by `method_preset` / `method_advantage`), `KL_CONTROLLERS`.
"""

from rlvr_jax.objectives.advantages import ADVANTAGE_ESTIMATORS, compute_advantages
from rlvr_jax.objectives._batch import AggregationSpec, ObjectiveState, PPOClipParams, TokenBatch
from rlvr_jax.objectives._config import KLLossConfig, ObjectiveConfig
from rlvr_jax.objectives._entropy_change import (
    entropy_change_estimate,
    sampled_token_factor,
    tabular_first_order_entropy_change,
)
from rlvr_jax.objectives._kl_reward import KL_CONTROLLERS
from rlvr_jax.objectives._methods import METHODS, register_method
from rlvr_jax.objectives._objective import Objective, build_objective
from rlvr_jax.objectives._rollout_batch import RolloutBatch
from rlvr_jax.objectives._token_stats import TokenStats, statistics_from_logits, token_statistics
from rlvr_jax.objectives._presets import METHOD_PRESETS, method_advantage, method_preset
from rlvr_jax.objectives._token_losses import POLICY_LOSSES, PolicyLoss, register_policy_loss
from rlvr_jax.objectives.transforms import TRANSFORMS, TrainingProgress, Transform

__all__ = [
    "KL_CONTROLLERS",
    "RolloutBatch",
    "TokenStats",
    "statistics_from_logits",
    "token_statistics",
    "ADVANTAGE_ESTIMATORS",
    "compute_advantages",
    "AggregationSpec",
    "ObjectiveState",
    "PPOClipParams",
    "TokenBatch",
    "KLLossConfig",
    "ObjectiveConfig",
    "entropy_change_estimate",
    "sampled_token_factor",
    "tabular_first_order_entropy_change",
    "METHODS",
    "register_method",
    "Objective",
    "build_objective",
    "METHOD_PRESETS",
    "method_advantage",
    "method_preset",
    "POLICY_LOSSES",
    "PolicyLoss",
    "register_policy_loss",
    "TRANSFORMS",
    "TrainingProgress",
    "Transform",
]
