"""W-REINFORCE, PSR and NSR (Zhu et al., "The Surprising Effectiveness of Negative Reinforcement in LLM
Reasoning", arXiv 2506.01347; algorithms.md §8.1).

The method is defined on correct / incorrect responses, not on reward values: PSR reinforces the
correct responses (A = +1, the rest dropped), NSR pushes down the incorrect ones (A = -1, the rest
dropped), W-REINFORCE does both with the positive side down-weighted (A = lambda on correct, -1 on
incorrect). So correctness comes from the reward's `correct` flag, never from its value.

Reference code: TianHongZXY/RLVR-Decomposed @ 84be7a22, `verl/trainer/ppo/core_algos.py::
compute_psr_nsr_outcome_advantage` (advantage = returns = R on every token; "positive": R;
"negative": R - 1; "weighted": R * lambda where R == 1, R - 1 where R == 0) and `ray_trainer.py::fit`,
which subsets the batch to R == 1 (PSR) / R == 0 (NSR) and asserts that every score is 0 or 1. On the
rewards that code accepts ({0, 1}, correct <=> R == 1) these estimators give exactly its advantages and
subsets. With STEER's +-1 rewards (`math_dapo`), where the reference would stop at its assertion, they
give the same advantages as on {0, 1}: a wrong answer gets -1, not R - 1 = -2. Shaped rewards (format
bonus, overlong penalty) do not change these advantages; only the verdict does.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from rlvr_jax.objectives.advantages._groups import broadcast, output
from rlvr_jax.objectives.advantages._registry import AdvantageOutput, check_range, register_estimator
from rlvr_jax.objectives._methods import register_method


@register_estimator("w_reinforce", inputs=("correct",))
def w_reinforce(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *, correct: jax.Array,
                positive_weight: float = 0.1) -> AdvantageOutput:
  """W-REINFORCE (`advantage="weighted"`): A = positive_weight on correct, -1 on incorrect responses.

  No baseline, no std normalization, every response kept (lambda = 0.1 is the paper's recommendation).
  """
  del rewards, group_ids
  check_range("w_reinforce", "positive_weight", positive_weight, 0.0, float("inf"))
  adv = jnp.where(correct, jnp.float32(positive_weight), -1.0)
  return output(broadcast(adv, response_mask), response_mask)


@register_estimator("psr", inputs=("correct",))
def psr(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *,
        correct: jax.Array) -> AdvantageOutput:
  """Positive-sample reinforcement (`advantage="positive"`): A = +1 on correct responses, others dropped."""
  del rewards, group_ids
  return output(broadcast(jnp.ones(correct.shape, jnp.float32), response_mask), response_mask, keep=correct)


@register_estimator("nsr", inputs=("correct",))
def nsr(rewards: jax.Array, response_mask: jax.Array, group_ids: jax.Array, *,
        correct: jax.Array) -> AdvantageOutput:
  """Negative-sample reinforcement (`advantage="negative"`): A = -1 on incorrect responses, others dropped."""
  del rewards, group_ids
  return output(broadcast(-jnp.ones(correct.shape, jnp.float32), response_mask), response_mask,
                keep=~correct)


# RLVR-Decomposed run_qwen2.5-math-7b_psr_nsr.sh: its older verl copy's PPO loss has neither the dual
# clip nor the log-ratio clamp (symmetric clip 0.2, token-mean, KL 0).
_DECOMPOSED = {"dual_clip_c": None, "clamp_log_ratio": False}
_SOURCE = "TianHongZXY/RLVR-Decomposed 84be7a22 core_algos.py / run_qwen2.5-math-7b_psr_nsr.sh"
register_method("w_reinforce", objective=_DECOMPOSED, estimator="w_reinforce", source=_SOURCE)
register_method("psr", objective=_DECOMPOSED, estimator="psr", source=_SOURCE)
register_method("nsr", objective=_DECOMPOSED, estimator="nsr", source=_SOURCE)
