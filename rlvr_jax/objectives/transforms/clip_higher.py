"""Clip-higher (DAPO): a wider upper clip lets low-probability tokens with A > 0 keep their gradient.

In the entropy-change view (algorithms.md §5.5) it re-enables I_clip exactly for the tokens whose
reinforcement raises entropy, which is why it slows entropy collapse. It only sets PPO clip parameters,
but being a named transform lets a config say `("clip_higher", "steer")` and lets order validation see
that it must precede the transforms that read the clip range.

Per-prompt upper clip (`per_prompt=True`): STEER's released actor (zz-haooo/STEER @ b31df716,
`verl/workers/actor/dp_actor.py::update_policy`) takes a `per_prompt_clip_ratio_high` array from the
batch when present and uses it, expanded over each row's tokens, as the upper clip of the PPO loss (and
of its clipped-by-high statistics), in place of the global clip_ratio_high. The released code has no
producer of that array; here it is the `TokenBatch.clip_ratio_high` input ([B], one value per row, equal
over a prompt's responses), and `eps_high` stays the static value the diagnostics report.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from rlvr_jax.objectives._batch import ObjectiveState, TokenBatch
from rlvr_jax.objectives._policy_loss import validate_ppo_clip
from rlvr_jax.objectives._methods import DAPO_DUAL_CLIP, register_method
from rlvr_jax.objectives.transforms import _group_stats as group_stats
from rlvr_jax.objectives.transforms._registry import PPO_PARAMS, Transform, register_transform
from rlvr_jax.objectives._validation import check_bool, check_number


@register_transform("clip_higher")
@dataclasses.dataclass(frozen=True)
class ClipHigher(Transform):
  """Sets the PPO clip range to [1 - eps_low, 1 + eps_high] (DAPO: 0.2 / 0.28).

  Attributes:
    eps_low: lower clip.
    eps_high: upper clip; DAPO and the STEER / 80-20 scripts use 0.28.
    per_prompt: take each row's upper clip from `TokenBatch.clip_ratio_high` instead of eps_high.
  """

  eps_low: float = 0.2
  eps_high: float = 0.28
  per_prompt: bool = False

  needs_ppo_loss = True

  def __post_init__(self) -> None:
    check_number("clip_higher", "eps_low", self.eps_low, low=0.0, high=1.0)
    check_number("clip_higher", "eps_high", self.eps_high, low=0.0)
    check_bool("clip_higher", "per_prompt", self.per_prompt)
    validate_ppo_clip(eps_low=self.eps_low, eps_high=self.eps_high, dual_clip_c=None)

  def writes(self) -> frozenset[str]:
    return frozenset({PPO_PARAMS})

  def required_inputs(self) -> frozenset[str]:
    return frozenset({"clip_ratio_high"} if self.per_prompt else ())

  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: dict,
            key: jax.Array | None) -> ObjectiveState:
    del transform_state, key
    ppo = dataclasses.replace(state.ppo, eps_low=self.eps_low, eps_high=self.eps_high)
    if not self.per_prompt:
      return state.replace(ppo=ppo)
    rows = jax.lax.stop_gradient(batch.clip_ratio_high.astype(jnp.float32))  # [B]
    state = state.replace(ppo=ppo, eps_high_rows=rows)
    valid = batch.response_mask > 0
    return state.add_metrics("clip_higher", {
        "eps_high_mean": group_stats.masked_mean(jnp.broadcast_to(rows[:, None], valid.shape), valid)})


# DAPO clip-higher as in the STEER and 80/20 scripts (c = 10).
register_method("clip_higher", objective={"dual_clip_c": DAPO_DUAL_CLIP, "transforms": ("clip_higher",)},
                source="verl docs/algo/dapo.md; STEER run/run_exp.sh")
