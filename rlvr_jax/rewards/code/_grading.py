"""From sandbox runs to a verdict: how many tests passed, and what kind of failure the rest were.

Every verdict here is computed by code the program cannot reach: the judge process's events for
assert and call tests (_judge.py), the trainer's own comparison of stdout for stdio tests. The program
can only pick its own kind of failure (by exiting, crashing or writing on a channel), never a pass.

A sample has one outcome, so a mixed failure is reported by its most telling kind, in the order
syntax_error > protocol_error > timeout > crash > error > failed (a program that does not compile
says more than the wrong answers it therefore gave; one that wrote on the judge's channel tried to
tamper). Tests that never reported -- the program hung, crashed or exited before the judge got to
them -- count as not passed.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
from typing import Callable

from rlvr_jax.rewards.code._sandbox import RunResult
from rlvr_jax.rewards.code._specs import AssertSpec, CallSpec, StdioSpec, TestSpec, run_job, stdout_matches

PASSED, FAILED, TIMEOUT, CRASH, ERROR, SYNTAX_ERROR, PROTOCOL_ERROR, NO_CODE = (
    "passed", "failed", "timeout", "crash", "error", "syntax_error", "protocol_error", "no_code")
OUTCOMES = (PASSED, FAILED, TIMEOUT, CRASH, ERROR, SYNTAX_ERROR, PROTOCOL_ERROR, NO_CODE)
_SEVERITY = (SYNTAX_ERROR, PROTOCOL_ERROR, TIMEOUT, CRASH, ERROR, FAILED)

logger = logging.getLogger(__name__)

# (program, run job, stdin or None) -> the run; bound to a sandbox slot by the pool.
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


def _ending(run: RunResult) -> str:
  """How the program's process ended, in words."""
  if run.oom_kills:
    return f"killed by the run's memory cap ({run.oom_kills} processes)"
  if run.term_signal is not None:
    try:
      return f"killed by {signal.Signals(run.term_signal).name}"
    except ValueError:
      return f"killed by signal {run.term_signal}"
  return f"exit code {run.exit_code}" if run.exit_code is not None else "ended"


def grade_stdio_case(run: RunResult, expected: str) -> tuple[str, str]:
  """(outcome, detail) of one stdin/stdout case: passed when the script exited 0 in time and printed
  the expected lines; otherwise the failure its note, exit and signal describe."""
  if run.timed_out or run.term_signal == signal.SIGXCPU:
    return TIMEOUT, "run ended by timeout"
  if run.exit_code == 0 and run.term_signal is None:
    if run.stdout_truncated:
      return FAILED, "stdout exceeded the output cap"
    got = run.stdout.decode("utf-8", errors="replace")
    return (PASSED, "") if stdout_matches(got, expected) else (FAILED, "wrong output")
  if run.term_signal is not None or run.exit_code is None or run.oom_kills:
    return CRASH, _ending(run)
  if run.note == "syntax_error":
    return SYNTAX_ERROR, run.stderr[-300:].decode("utf-8", errors="replace").strip()
  if run.note in ("raised", "exited"):
    return ERROR, run.stderr[-300:].decode("utf-8", errors="replace").strip()
  return CRASH, f"{_ending(run)} before the script finished"


def _grade_stdio(code: str, spec: StdioSpec, run: Runner, stop_at_failure: bool) -> SampleResult:
  passed, failures, detail = 0, [], ""
  for case in spec.cases:
    outcome, message = grade_stdio_case(run(code, run_job(spec), case.input), case.output)
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


def grade_judged(run: RunResult, num_tests: int) -> SampleResult:
  """The verdict of an assert / call run from the judge's events."""
  events = {}
  for event in run.events:
    events.setdefault(event.event, []).append(event)
  load = events.get("load", [None])[0]
  if load is not None and load.status == "syntax_error":
    return SampleResult(SYNTAX_ERROR, 0, num_tests, load.message)
  statuses = {e.index: e.status for e in events.get("test", []) + events.get("case", [])}
  passed = sum(status == "passed" for status in statuses.values())
  if passed == num_tests:
    return SampleResult(PASSED, passed, num_tests)
  for fault in events.get("judge_error", []):
    logger.warning("code judge failed (scored as a crash of the sample): %s", fault.message)
  messages = [e.message for kind in ("protocol_error", "candidate_gone", "judge_error", "error", "load", "test",
                                     "case") for e in events.get(kind, []) if e.message]
  if "protocol_error" in events:
    outcome = PROTOCOL_ERROR
  elif run.timed_out:
    outcome, messages = TIMEOUT, ["run ended by timeout"] + messages
  elif "candidate_gone" in events or "judge_error" in events or "finished" not in events:
    outcome = CRASH
    messages = [f"the program's process {_ending(run)}"] + messages if "candidate_gone" in events else messages
  elif (load is not None and load.status == "error") or "error" in events or "error" in statuses.values():
    outcome = ERROR
  else:
    outcome = FAILED
  return SampleResult(outcome, passed, num_tests, messages[0] if messages else "")


def grade_sample(code: str | None, spec: TestSpec, run: Runner, *, stop_at_failure: bool) -> SampleResult:
  """The verdict on one extracted program (None: the completion held no code).

  Args:
    run: executes (program, run job, stdin) in the sandbox.
    stop_at_failure: skip the remaining stdio cases after one fails (binary scoring needs no more).
  """
  if code is None:
    return SampleResult(NO_CODE, 0, spec.num_tests, "no code block")
  if isinstance(spec, StdioSpec):
    return _grade_stdio(code, spec, run, stop_at_failure)
  assert isinstance(spec, (AssertSpec, CallSpec))
  return grade_judged(run(code, run_job(spec), None), spec.num_tests)
