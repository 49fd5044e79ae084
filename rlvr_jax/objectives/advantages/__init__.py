"""Advantage estimators: outcome rewards (and, for PPO with a critic, values) -> per-token advantages.

Importing this package registers every estimator in `ADVANTAGE_ESTIMATORS`; `compute_advantages(name,
rewards, response_mask, group_ids, *, <data inputs>, **hparams)` runs one. Modules:

  registry         AdvantageOutput, the registry, DATA_INPUTS and compute_advantages
  groups           segment statistics and token-level return helpers
  group_baselines  grpo, dr_grpo, grpo_passk, rloo, reinforce_pp(_baseline), opo, gpg, qae
  correctness      w_reinforce, psr, nsr (need the reward's `correct` flag)
  token_baselines  remax (greedy-response baseline), optimal_token_baseline
  gae              gae (needs critic values)
"""

from rlvr_jax.objectives.advantages import _correctness as correctness, _gae as gae, _group_baselines as group_baselines, _token_baselines as token_baselines
from rlvr_jax.objectives.advantages._gae import gae_advantages_returns
from rlvr_jax.objectives.advantages._groups import (discounted_returns, group_ids_from_size, masked_whiten,
                                                   outcome_token_rewards, reward_to_go)
from rlvr_jax.objectives.advantages._registry import (ADVANTAGE_ESTIMATORS, DATA_INPUTS, AdvantageOutput,
                                                     EstimatorSpec, compute_advantages, register_estimator)

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "DATA_INPUTS",
    "AdvantageOutput",
    "EstimatorSpec",
    "compute_advantages",
    "correctness",
    "discounted_returns",
    "gae",
    "gae_advantages_returns",
    "group_baselines",
    "group_ids_from_size",
    "masked_whiten",
    "outcome_token_rewards",
    "register_estimator",
    "reward_to_go",
    "token_baselines",
]
