"""Clip-higher (DAPO): a wider upper clip lets low-probability tokens with A > 0 keep their gradient.

In the entropy-change view (algorithms.md §5.5) it re-enables I_clip exactly for the tokens whose
reinforcement raises entropy, which is why it slows entropy collapse. It only sets PPO clip parameters,
but being a named transform lets a config say `("clip_higher", "steer")` and lets order validation see
that it must precede the transforms that read the clip range.
"""

from __future__ import annotations

import dataclasses

import jax

from rlvr_jax.objectives.batch import ObjectiveState, TokenBatch
from rlvr_jax.objectives.policy_loss import validate_ppo_clip
from rlvr_jax.objectives.transforms.registry import PPO_PARAMS, Transform, register_transform
from rlvr_jax.objectives.validation import check_number


@register_transform("clip_higher")
@dataclasses.dataclass(frozen=True)
class ClipHigher(Transform):
  """Sets the PPO clip range to [1 - eps_low, 1 + eps_high] (DAPO: 0.2 / 0.28).

  Attributes:
    eps_low: lower clip.
    eps_high: upper clip; DAPO and the STEER / 80-20 scripts use 0.28.
  """

  eps_low: float = 0.2
  eps_high: float = 0.28

  needs_ppo_loss = True

  def __post_init__(self) -> None:
    check_number("clip_higher", "eps_low", self.eps_low, low=0.0, high=1.0)
    check_number("clip_higher", "eps_high", self.eps_high, low=0.0)
    validate_ppo_clip(eps_low=self.eps_low, eps_high=self.eps_high, dual_clip_c=None)

  def writes(self) -> frozenset[str]:
    return frozenset({PPO_PARAMS})

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del batch, transform_state, key
    ppo = dataclasses.replace(state.ppo, eps_low=self.eps_low, eps_high=self.eps_high)
    return state.replace(ppo=ppo)
