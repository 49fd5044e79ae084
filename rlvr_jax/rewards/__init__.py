"""Verifiable rewards, by name in `REWARDS`: math_verify (symbolic, process pool with timeouts),
builtin_arithmetic (exact), format (a boxed answer is present), code_exec / code_exec_fraction
(programs run against tests in a sandbox; `rewards.code`), and the published recipes' own scorers,
ported with their exact semantics: math_dapo (verl's DAPO "Answer:" match), math_dapo_strict (STEER's
strict last-box check), entropy_math (Clip-Cov / KL-Cov), naive_dapo (Beyond the 80/20),
siren_math_verify (SIREN).

Every reward maps (completions, answers) -> `RewardResult` on host strings; build one with
`build_reward(name, RewardConfig(...))` and close it when the run ends.
"""

from rlvr_jax.rewards._base import RewardConfig, RewardFn, RewardResult
from rlvr_jax.rewards.code import CodeExecFractionReward, CodeExecReward, SandboxConfig  # registers code_exec*
from rlvr_jax.rewards._entropy_math_reward import EntropyMathReward
from rlvr_jax.rewards._exact_rewards import ArithmeticReward, FormatReward, integer_match
from rlvr_jax.rewards._extraction import extract_answer, fallback_answer, last_boxed
from rlvr_jax.rewards._math_dapo_reward import (MathDapoReward, MathDapoStrictReward, dapo_prediction,
                                               normalize_final_answer)
from rlvr_jax.rewards._math_verify_reward import MathVerifyReward, verify_answer
from rlvr_jax.rewards._naive_dapo_reward import NaiveDapoReward
from rlvr_jax.rewards._pool import Outcome, TimeoutPool
from rlvr_jax.rewards._pooled_reward import PooledReward, Prepared
from rlvr_jax.rewards._registry import REWARDS, build_reward
from rlvr_jax.rewards._siren_reward import SirenMathVerifyReward

__all__ = [
    "REWARDS", "ArithmeticReward", "CodeExecFractionReward", "CodeExecReward", "EntropyMathReward",
    "FormatReward", "MathDapoReward", "MathDapoStrictReward", "MathVerifyReward", "NaiveDapoReward",
    "Outcome", "PooledReward", "Prepared", "RewardConfig", "RewardFn", "RewardResult", "SandboxConfig",
    "SirenMathVerifyReward", "TimeoutPool", "build_reward", "dapo_prediction",
    "extract_answer", "fallback_answer", "integer_match", "last_boxed", "normalize_final_answer",
    "verify_answer",
]
