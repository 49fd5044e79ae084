"""Entropy-control transforms of the objective state, one module per method family.

Importing this package registers every transform in `TRANSFORMS`; configs refer to them by name:

  clip_higher        DAPO clip range (PPO parameters)
  steer              STEER entropy-change reweighting
  siren              SIREN selective anchored entropy regularizer (+ its repository's ablations)
  pos_adv_reweight   Positive-Advantage Reweighting (constant / stage / epoch / entropy-guided lambda)
  adv_nonneg_only    train on A >= 0 tokens only
  adv_nonpos_only    train on A <= 0 tokens only
  rand_pos_clip      zero a random budget of A > 0 tokens
  clip_cov           Clip-Cov
  kl_cov             KL-Cov
  fork_tokens        80/20 high-entropy forking-token mask
  entropy_bonus      fixed entropy bonus
  adaptive_entropy   entropy bonus with a target-entropy coefficient
  entropy_advantage  entropy-based advantage shaping (Cheng et al.)
"""

from rlvr_jax.objectives.transforms.registry import (
    ADVANTAGES,
    PPO_PARAMS,
    TOKEN_LOSS,
    TRANSFORMS,
    TrainingProgress,
    Transform,
    check_transform_order,
    register_transform,
)
from rlvr_jax.objectives.transforms.clip_higher import ClipHigher
from rlvr_jax.objectives.transforms.covariance import ClipCov, KLCov, token_covariance
from rlvr_jax.objectives.transforms.entropy_advantage import EntropyAdvantage
from rlvr_jax.objectives.transforms.entropy_bonus import AdaptiveEntropyBonus, EntropyBonus
from rlvr_jax.objectives.transforms.forking_tokens import ForkingTokens, forking_token_mask
from rlvr_jax.objectives.transforms.positive_advantage import (
    NonNegativeAdvantageOnly,
    NonPositiveAdvantageOnly,
    PositiveAdvantageReweight,
    RandomPositiveClip,
)
from rlvr_jax.objectives.transforms.siren import (
    SIREN_VARIANTS,
    Siren,
    SirenState,
    peak_entropy_mask,
)
from rlvr_jax.objectives.transforms.steer import Steer, steer_weights

__all__ = [
    "ADVANTAGES",
    "PPO_PARAMS",
    "TOKEN_LOSS",
    "TRANSFORMS",
    "TrainingProgress",
    "Transform",
    "check_transform_order",
    "register_transform",
    "ClipHigher",
    "ClipCov",
    "KLCov",
    "token_covariance",
    "EntropyAdvantage",
    "AdaptiveEntropyBonus",
    "EntropyBonus",
    "ForkingTokens",
    "forking_token_mask",
    "NonNegativeAdvantageOnly",
    "NonPositiveAdvantageOnly",
    "PositiveAdvantageReweight",
    "RandomPositiveClip",
    "SIREN_VARIANTS",
    "Siren",
    "SirenState",
    "peak_entropy_mask",
    "Steer",
    "steer_weights",
]
