"""Objectives: token statistics, advantages, policy losses, aggregation and entropy-control transforms.

Entry point: `build_objective(config).loss(batch, state, key) -> (loss, metrics)`. Every piece is also
importable on its own for ablations (e.g. `transforms.steer_weights`, `entropy_change_estimate`).
"""

from rlvr_jax.objectives.batch import AggregationSpec, ObjectiveState, PPOClipParams, TokenBatch
from rlvr_jax.objectives.config import KLLossConfig, ObjectiveConfig
from rlvr_jax.objectives.entropy_change import (
    entropy_change_estimate,
    sampled_token_factor,
    tabular_first_order_entropy_change,
)
from rlvr_jax.objectives.objective import Objective, build_objective
from rlvr_jax.objectives.presets import ADVANTAGE_PRESETS, METHOD_PRESETS, method_preset
from rlvr_jax.objectives.token_losses import POLICY_LOSSES
from rlvr_jax.objectives.transforms import TRANSFORMS, TrainingProgress, Transform

__all__ = [
    "AggregationSpec",
    "ObjectiveState",
    "PPOClipParams",
    "TokenBatch",
    "KLLossConfig",
    "ObjectiveConfig",
    "entropy_change_estimate",
    "sampled_token_factor",
    "tabular_first_order_entropy_change",
    "Objective",
    "build_objective",
    "ADVANTAGE_PRESETS",
    "METHOD_PRESETS",
    "method_preset",
    "POLICY_LOSSES",
    "TRANSFORMS",
    "TrainingProgress",
    "Transform",
]
