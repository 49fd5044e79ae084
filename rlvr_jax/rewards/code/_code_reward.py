"""Code rewards: run the completion's program against the row's tests in a sandbox.

`code_exec` scores all-tests-pass (binary); `code_exec_fraction` scores the fraction of tests passed,
which gives a denser signal on hard problems at the price of rewarding partial programs. Both read
the shared `RewardConfig`: correct / incorrect values, `format_weight` (a bonus for a code block being
present), `timeout_s` (per run: a whole assert / call program, or one stdio case) and `workers`
(samples in flight). The sandbox limits live in `SandboxConfig`, a constructor argument, because the
shared config is the same for every reward.
"""

from __future__ import annotations

import collections
from typing import Sequence

import numpy as np

from rlvr_jax.rewards._base import RewardConfig, RewardResult, check_batch, score
from rlvr_jax.rewards.code._executor_pool import ExecutorPool, SampleTask
from rlvr_jax.rewards.code._extraction import CodeExtraction, extract_code
from rlvr_jax.rewards.code._grading import (CRASH, ERROR, FAILED, NO_CODE, PASSED, PROTOCOL_ERROR, SYNTAX_ERROR,
                                           TIMEOUT, SampleResult)
from rlvr_jax.rewards.code._sandbox import SandboxConfig
from rlvr_jax.rewards.code._specs import TestSpec, parse_spec
from rlvr_jax.rewards._registry import REWARDS

MODES = ("binary", "fraction")


def outcome_metrics(results: Sequence[SampleResult]) -> dict[str, int]:
  """Counts per outcome (each sample in exactly one of the first eight) and summed test counts.

  The first five keys mean what they mean for the other rewards, so dashboards can compare them;
  protocol_errors counts programs that wrote on the judge's channel (an attempt to tamper with grading).
  Binary scoring stops a stdio sample at its first failing case, so there tests_passed is a lower bound.
  """
  counts = collections.Counter(r.outcome for r in results)
  return {"correct": counts[PASSED], "no_answer": counts[NO_CODE], "timeouts": counts[TIMEOUT],
          "crashes": counts[CRASH], "errors": counts[ERROR], "failed": counts[FAILED],
          "syntax_errors": counts[SYNTAX_ERROR], "protocol_errors": counts[PROTOCOL_ERROR],
          "tests_passed": sum(r.passed for r in results),
          "tests_total": sum(r.total for r in results)}


def fraction_scores(results: Sequence[SampleResult], has_code: np.ndarray,
                    config: RewardConfig) -> np.ndarray:
  """incorrect + f (correct - incorrect) for pass fraction f, plus the format bonus where code exists."""
  fraction = np.asarray([r.fraction for r in results], np.float32)
  base = np.float32(config.incorrect) + fraction * np.float32(config.correct - config.incorrect)
  return (base + np.float32(config.format_weight) * has_code).astype(np.float32)


@REWARDS.register("code_exec")
class CodeExecReward:
  """Scores code completions by running them; owns an `ExecutorPool` (made on first use, `close()` it).

  Args:
    config: reward values, per-run timeout, parallel samples.
    mode: "binary" (all tests pass) or "fraction" (share of tests passed).
    sandbox: per-run limits (memory_bytes defaults to 1 GiB for all the program's processes) and isolation.
    extraction: which fenced block is the program.
  """

  def __init__(self, config: RewardConfig | None = None, *, mode: str = "binary",
               sandbox: SandboxConfig = SandboxConfig(), extraction: CodeExtraction = CodeExtraction()):
    if mode not in MODES:
      raise ValueError(f"code reward mode={mode!r}; use one of {', '.join(MODES)}")
    self.config = config if config is not None else RewardConfig()
    self.mode, self.sandbox, self.extraction = mode, sandbox, extraction
    self._pool: ExecutorPool | None = None

  @property
  def pool(self) -> ExecutorPool:
    if self._pool is None:
      self._pool = ExecutorPool(self.sandbox, timeout_s=self.config.timeout_s, workers=self.config.workers)
    return self._pool

  def evaluate(self, completions: Sequence[str], answers: Sequence[str]
               ) -> tuple[tuple[str | None, ...], list[SampleResult]]:
    """(extracted programs, per-sample verdicts); raises ValueError on a malformed test spec."""
    check_batch(completions, answers)
    specs: dict[str, TestSpec] = {}  # a group's samples share one answer: parse it once
    for answer in answers:
      if answer not in specs:
        specs[answer] = parse_spec(answer)
    extracted = tuple(extract_code(c, self.extraction) for c in completions)
    tasks = [SampleTask(code, specs[answer], stop_at_failure=self.mode == "binary")
             for code, answer in zip(extracted, answers)]
    return extracted, self.pool.map(tasks)

  def __call__(self, completions: Sequence[str], answers: Sequence[str]) -> RewardResult:
    extracted, results = self.evaluate(completions, answers)
    correct = np.asarray([r.outcome == PASSED for r in results], bool)
    has_code = np.asarray([e is not None for e in extracted], bool)
    if self.mode == "binary":
      scores = score(correct, has_code, self.config)
    else:
      scores = fraction_scores(results, has_code, self.config)
    return RewardResult(scores=scores, correct=correct, extracted=extracted, metrics=outcome_metrics(results))

  def close(self) -> None:
    if self._pool is not None:
      self._pool.close()
      self._pool = None

  def __enter__(self) -> CodeExecReward:
    return self

  def __exit__(self, *exc) -> None:
    self.close()


@REWARDS.register("code_exec_fraction")
class CodeExecFractionReward(CodeExecReward):
  """`code_exec` scoring the fraction of tests passed (a registry entry takes only the config)."""

  def __init__(self, config: RewardConfig | None = None, *, sandbox: SandboxConfig = SandboxConfig(),
               extraction: CodeExtraction = CodeExtraction()):
    super().__init__(config, mode="fraction", sandbox=sandbox, extraction=extraction)
