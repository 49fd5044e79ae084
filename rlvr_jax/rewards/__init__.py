"""Verifiable rewards, by name in `REWARDS`: math_verify (symbolic, process pool with timeouts),
math_dapo (verl's string-matching DAPO scorer), builtin_arithmetic (exact), format (a boxed answer is
present), code_exec / code_exec_fraction (programs run against tests in a sandbox; `rewards.code`).

Every reward maps (completions, answers) -> `RewardResult` on host strings; build one with
`build_reward(name, RewardConfig(...))` and close it when the run ends.
"""

from rlvr_jax.rewards import exact_rewards, math_dapo_reward, math_verify_reward  # noqa: F401  (registers)
from rlvr_jax.rewards.base import RewardConfig, RewardFn, RewardResult
from rlvr_jax.rewards.code import CodeExecFractionReward, CodeExecReward, SandboxConfig  # registers code_exec*
from rlvr_jax.rewards.exact_rewards import ArithmeticReward, FormatReward, integer_match
from rlvr_jax.rewards.extraction import extract_answer, fallback_answer, last_boxed
from rlvr_jax.rewards.math_dapo_reward import MathDapoReward, dapo_prediction, normalize_final_answer
from rlvr_jax.rewards.math_verify_reward import MathVerifyReward, verify_answer
from rlvr_jax.rewards.pool import Outcome, TimeoutPool
from rlvr_jax.rewards.registry import REWARDS, build_reward

__all__ = [
    "REWARDS", "ArithmeticReward", "CodeExecFractionReward", "CodeExecReward", "FormatReward",
    "MathDapoReward", "MathVerifyReward", "Outcome", "RewardConfig", "RewardFn", "RewardResult",
    "SandboxConfig", "TimeoutPool", "build_reward", "dapo_prediction",
    "extract_answer", "fallback_answer", "integer_match", "last_boxed", "normalize_final_answer",
    "verify_answer",
]
