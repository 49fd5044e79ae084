"""Code RLVR: the program in a completion's last ```python block, run in a sandboxed process (rlimits,
a memory cgroup, a seccomp filter, fresh directory, empty environment, private network namespace and
own user where the host allows) against the row's tests, which a separate judge process runs, graded
per test. `code_exec` / `code_exec_fraction` in `REWARDS`.

What the sandbox does and does not guarantee: docs/security.md.
"""

from rlvr_jax.rewards.code._code_reward import (MODES, CodeExecFractionReward, CodeExecReward,
                                               fraction_scores, outcome_metrics)
from rlvr_jax.rewards.code._executor_pool import ExecutorPool, SampleTask
from rlvr_jax.rewards.code._extraction import CodeExtraction, extract_code, fenced_blocks
from rlvr_jax.rewards.code._grading import OUTCOMES, SampleResult, grade_sample
from rlvr_jax.rewards.code._isolation import probe_isolation
from rlvr_jax.rewards.code._sandbox import Isolation, RunResult, Sandbox, SandboxConfig, SandboxError
from rlvr_jax.rewards.code._specs import (AssertSpec, CallSpec, StdioCase, StdioSpec, TestSpec, parse_spec,
                                         run_job, stdout_matches)

__all__ = [
    "MODES", "OUTCOMES", "AssertSpec", "CallSpec", "CodeExecFractionReward", "CodeExecReward",
    "CodeExtraction", "ExecutorPool", "Isolation", "RunResult", "SampleResult", "SampleTask", "Sandbox",
    "SandboxConfig", "SandboxError", "StdioCase", "StdioSpec", "TestSpec", "extract_code", "fenced_blocks",
    "fraction_scores", "grade_sample", "outcome_metrics", "parse_spec", "probe_isolation", "run_job",
    "stdout_matches",
]
