"""From sandbox runs to a verdict: how many tests passed, and what kind of failure the rest were.

A sample has one outcome, so a mixed failure is reported by its most telling kind, in the order
syntax_error > timeout > crash > error > failed (a program that does not compile says more than the
wrong answers it therefore gave). Tests that never reported -- the program hung, crashed or exited
before the harness got to them -- count as not passed.
"""

from __future__ import annotations

import dataclasses
import signal
from typing import Callable

from rlvr_jax.rewards.code.sandbox import RunResult
from rlvr_jax.rewards.code.specs import (AssertSpec, CallSpec, StdioSpec, TestSpec, harness_job,
                                         stdout_matches, value_matches)

PASSED, FAILED, TIMEOUT, CRASH, ERROR, SYNTAX_ERROR, NO_CODE = (
    "passed", "failed", "timeout", "crash", "error", "syntax_error", "no_code")
OUTCOMES = (PASSED, FAILED, TIMEOUT, CRASH, ERROR, SYNTAX_ERROR, NO_CODE)
_SEVERITY = (SYNTAX_ERROR, TIMEOUT, CRASH, ERROR, FAILED)

# (program, harness job, stdin or None) -> the run; bound to a sandbox slot by the pool.
Runner = Callable[[str, dict, "str | None"], RunResult]


@dataclasses.dataclass(frozen=True)
class SampleResult:
  """The verdict on one completion.

  Attributes:
    outcome: one of OUTCOMES; PASSED exactly when every test passed.
    passed, total: tests passed, tests in the spec (0 of N for no_code).
    detail: a short human-readable reason (first error message, or what ended the run).
  """

  outcome: str
  passed: int
  total: int
  detail: str = ""

  @property
  def fraction(self) -> float:
    return self.passed / self.total if self.total else 0.0


def _worst(outcomes: list[str]) -> str:
  return next((kind for kind in _SEVERITY if kind in outcomes), FAILED)


def _ended(run: RunResult) -> str:
  """TIMEOUT / CRASH when the run did not end normally, else ""."""
  if run.timed_out or run.term_signal == signal.SIGXCPU:
    return TIMEOUT
  if run.term_signal is not None or run.exit_code is None:
    return CRASH
  return ""


def _events(run: RunResult, event: str) -> list[dict]:
  return [r for r in run.records if r.get("event") == event]


def _first_message(run: RunResult, *events: str) -> str:
  return next((str(r.get("message", ""))[:300] for r in run.records
               if r.get("event") in events and r.get("message")), "")


def grade_stdio_case(run: RunResult, expected: str) -> tuple[str, str]:
  """(outcome, detail) of one stdin/stdout case."""
  if _events(run, "syntax_error"):
    return SYNTAX_ERROR, _first_message(run, "syntax_error")
  ended = _ended(run)
  if ended:
    return ended, f"run ended by {ended}"
  done = _events(run, "done")
  if done and done[0].get("status") != "ok":
    return ERROR, str(done[0].get("message", ""))[:300]
  if not done and run.exit_code != 0:  # os._exit(0) skips the harness but is a normal end for a script
    return CRASH, f"exit code {run.exit_code} before the harness finished"
  if run.stdout_truncated:
    return FAILED, "stdout exceeded the output cap"
  got = run.stdout.decode("utf-8", errors="replace")
  return (PASSED, "") if stdout_matches(got, expected) else (FAILED, "wrong output")


def _grade_stdio(code: str, spec: StdioSpec, run: Runner, stop_at_failure: bool) -> SampleResult:
  passed, failures, detail = 0, [], ""
  for case in spec.cases:
    outcome, message = grade_stdio_case(run(code, harness_job(spec), case.input), case.output)
    if outcome == PASSED:
      passed += 1
      continue
    failures.append(outcome)
    detail = detail or message
    # One process per case, each with the full limit: after a timeout the rest would very likely
    # time out too, and a sample must not cost cases x timeout_s.
    if stop_at_failure or outcome in (SYNTAX_ERROR, TIMEOUT):
      break
  if not failures:
    return SampleResult(PASSED, passed, spec.num_tests)
  return SampleResult(_worst(failures), passed, spec.num_tests, detail)


def _test_statuses(spec: AssertSpec | CallSpec, run: RunResult) -> list[str]:
  """Per-test status ("passed", "failed", "error") as reported; unreported tests are missing."""
  if isinstance(spec, AssertSpec):
    statuses = {r.get("index"): r.get("status") for r in _events(run, "test")}
    return [statuses.get(i, "missing") for i in range(spec.num_tests)]
  statuses = []
  cases = {r.get("index"): r for r in _events(run, "case")}
  for i, expected in enumerate(spec.outputs):
    case = cases.get(i)
    if case is None:
      statuses.append("missing")
    elif case.get("status") != "ok":
      statuses.append("error")
    else:
      statuses.append("passed" if value_matches(case.get("value"), expected) else "failed")
  return statuses


def _grade_in_process(code: str, spec: AssertSpec | CallSpec, run: Runner) -> SampleResult:
  result = run(code, harness_job(spec), None)
  if _events(result, "syntax_error"):
    return SampleResult(SYNTAX_ERROR, 0, spec.num_tests, _first_message(result, "syntax_error"))
  statuses = _test_statuses(spec, result)
  passed = statuses.count("passed")
  if passed == spec.num_tests:
    return SampleResult(PASSED, passed, spec.num_tests)
  ended = _ended(result)
  finished = bool(_events(result, "finished"))
  if ended:
    outcome = ended
  elif _events(result, "error") or "error" in statuses:
    outcome = ERROR
  elif not finished:  # exited (os._exit, sys.exit in a thread, ...) before the harness got to the end
    outcome = CRASH
  else:
    outcome = FAILED
  detail = _first_message(result, "error", "test", "case") or (f"run ended by {ended}" if ended else "")
  return SampleResult(outcome, passed, spec.num_tests, detail)


def grade_sample(code: str | None, spec: TestSpec, run: Runner, *, stop_at_failure: bool) -> SampleResult:
  """The verdict on one extracted program (None: the completion held no code).

  Args:
    run: executes (program, harness job, stdin) in the sandbox.
    stop_at_failure: skip the remaining stdio cases after one fails (binary scoring needs no more).
  """
  if code is None:
    return SampleResult(NO_CODE, 0, spec.num_tests, "no code block")
  if isinstance(spec, StdioSpec):
    return _grade_stdio(code, spec, run, stop_at_failure)
  return _grade_in_process(code, spec, run)
