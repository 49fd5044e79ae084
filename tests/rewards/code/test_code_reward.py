"""The code rewards on correct, wrong, syntax-error, exception and no-code completions, in every format."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rlvr_jax.rewards import REWARDS, RewardConfig, build_reward
from rlvr_jax.rewards.code import CodeExecFractionReward, CodeExecReward

ASSERT = json.dumps({"format": "assert", "tests": "assert add(1, 2) == 3\nassert add(0, 5) == 5\n"
                                                  "assert add(2, 2) == 4"})
CALL = json.dumps({"format": "call", "fn_name": "add", "cases": [
    {"input": [1, 2], "output": 3}, {"input": [0, 5], "output": 5}, {"input": [2, 2], "output": 4}]})
STDIO = json.dumps({"format": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"},
                                                 {"input": "0 5\n", "output": "5"},
                                                 {"input": "2 2\n", "output": "4\n"}]})


def block(code: str) -> str:
  return f"Here is my solution.\n```python\n{code}\n```\n"


FUNCTION_PROGRAMS = {
    "correct": block("def add(a, b):\n  return a + b"),
    "wrong": block("def add(a, b):\n  return a * b"),  # right on (2, 2) only
    "syntax_error": block("def add(a, b)\n  return a + b"),
    "exception": block("def add(a, b):\n  raise RuntimeError('boom')"),
    "no_code": "def add(a, b): return a + b  (forgot the fence)",
}
STDIO_PROGRAMS = {
    "correct": block("a, b = map(int, input().split())\nprint(a + b)"),
    "wrong": block("a, b = map(int, input().split())\nprint(a * b)"),
    "syntax_error": block("print(1 +)"),
    "exception": block("a, b = map(int, input().split())\nprint(a // 0)"),
    "no_code": "print(sum(map(int, input().split())))",
}
EXPECTED = {  # outcome, tests passed of 3
    "correct": ("passed", 3), "wrong": ("failed", 1), "syntax_error": ("syntax_error", 0),
    "exception": ("error", 0), "no_code": ("no_code", 0),
}


@pytest.fixture(scope="module")
def fraction_reward():
  with CodeExecFractionReward(RewardConfig(correct=1.0, incorrect=-1.0, timeout_s=5.0, workers=2)) as reward:
    yield reward


@pytest.mark.parametrize("answer, programs", [(ASSERT, FUNCTION_PROGRAMS), (CALL, FUNCTION_PROGRAMS),
                                              (STDIO, STDIO_PROGRAMS)], ids=["assert", "call", "stdio"])
def test_every_kind_of_completion_in_every_format(fraction_reward, answer, programs):
  """Outcome, pass counts and the pass-fraction score map -1..+1 for each kind of completion."""
  names = list(programs)
  extracted, results = fraction_reward.evaluate([programs[n] for n in names], [answer] * len(names))
  assert {n: (r.outcome, r.passed, r.total) for n, r in zip(names, results)} == {
      n: (*EXPECTED[n], 3) for n in names}
  assert extracted[names.index("no_code")] is None
  assert extracted[names.index("correct")] in programs["correct"]
  result = fraction_reward([programs[n] for n in names], [answer] * len(names))
  expected_scores = [-1.0 + 2.0 * EXPECTED[n][1] / 3 for n in names]
  np.testing.assert_allclose(result.scores, expected_scores, rtol=1e-6)
  np.testing.assert_array_equal(result.correct, [n == "correct" for n in names])
  assert result.metrics == {"correct": 1, "no_answer": 1, "timeouts": 0, "crashes": 0, "errors": 1,
                            "failed": 1, "syntax_errors": 1, "protocol_errors": 0, "tests_passed": 4,
                            "tests_total": 15}


def test_binary_reward_values_and_format_bonus():
  """Binary: only all-pass earns `correct`; format_weight is added wherever a code block was found."""
  config = RewardConfig(correct=1.0, incorrect=-1.0, format_weight=0.25, timeout_s=5.0, workers=2)
  completions = [FUNCTION_PROGRAMS[n] for n in ("correct", "wrong", "no_code")]
  with build_reward("code_exec", config) as reward:
    result = reward(completions, [ASSERT] * 3)
  np.testing.assert_allclose(result.scores, [1.25, -0.75, -1.0])
  assert result.scores.dtype == np.float32 and result.correct.tolist() == [True, False, False]


def test_binary_stops_stdio_at_first_failing_case_fraction_runs_all():
  """Binary scoring needs no more cases after a failure; the fraction mode grades every case."""
  wrong_first = block("a, b = map(int, input().split())\nprint(4 if a == 2 else -1)")  # passes case 3
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=1)) as binary:
    (_, [result]) = binary.evaluate([wrong_first], [STDIO])
  assert (result.outcome, result.passed) == ("failed", 0)
  with CodeExecFractionReward(RewardConfig(timeout_s=5.0, workers=1)) as fraction:
    (_, [result]) = fraction.evaluate([wrong_first], [STDIO])
  assert (result.outcome, result.passed) == ("failed", 1)


def test_humaneval_check_and_solution_class_and_setup():
  """check(candidate) runs against the entry point; call tests find a LeetCode `Solution` method and
  run setup code first; a returned tuple equals an expected list."""
  humaneval = json.dumps({"format": "assert", "entry_point": "pairs", "setup": "from typing import List",
                          "tests": "def check(candidate):\n  assert candidate([1, 2]) == [(1, 2)]\n"
                                   "  assert candidate([]) == []"})
  leetcode = json.dumps({"format": "call", "fn_name": "pairs", "setup": "from typing import List",
                         "cases": [{"input": [[1, 2]], "output": [[1, 2]]}]})
  function = block("def pairs(xs: List[int]) -> List[tuple]:\n  return [tuple(xs)] if xs else []")
  method = block("class Solution:\n  def pairs(self, xs: List[int]):\n    return [tuple(xs)]")
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=2)) as reward:
    result = reward([function, method, block("def pairs(xs):\n  return []")],
                    [humaneval, leetcode, humaneval])
  assert result.correct.tolist() == [True, True, False]


@pytest.mark.parametrize("answer, program, outcome", [
    (CALL, "def other(a, b):\n  return a + b", "error"),  # the named function does not exist
    (CALL, "def add(a, b):\n  return {a, b}", "error"),  # a set is not a JSON value
    (STDIO, "import os, sys\nsys.stdout.write('3\\n'); sys.stdout.flush(); os._exit(0)", "passed"),
    (STDIO, "import sys\nprint(3)\nsys.exit(2)", "error"),
    (ASSERT, "import os\nos._exit(0)", "crash"),
])
def test_edge_endings(answer, program, outcome):
  """A missing function and unserializable values are errors; os._exit(0) after printing is a normal
  script end for stdio, while exiting before the harness ran the asserts is a crash."""
  spec = json.loads(answer)
  if spec["format"] == "stdio":
    answer = json.dumps({"format": "stdio", "cases": spec["cases"][:1]})
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=1)) as reward:
    (_, [result]) = reward.evaluate([block(program)], [answer])
  assert result.outcome == outcome, result


def test_forged_results_are_ignored():
  """Records written to the result pipe or stdout without the run's nonce do not count as passes, even
  when written last (at interpreter exit, after the harness's own records)."""
  forged = '{"event": "test", "index": %d, "status": "passed", "nonce": "guess"}\n'
  program = ("import atexit, os\n"
             "def forge():\n  for i in range(3):\n    os.write(3, (" + repr(forged) + " % i).encode())\n"
             "    print(" + repr(forged) + " % i)\n"
             "atexit.register(forge)\ndef add(a, b):\n  return 4")
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=1)) as reward:
    (_, [result]) = reward.evaluate([block(program)], [ASSERT])
  assert (result.outcome, result.passed) == ("failed", 1)  # add(2, 2) == 4 really passes


def test_registered_names_and_malformed_spec():
  """Both names are in REWARDS; a malformed spec in the batch raises (a data bug, not a score)."""
  assert {"code_exec", "code_exec_fraction"} <= set(REWARDS.names())
  with build_reward("code_exec_fraction") as reward:
    assert reward.mode == "fraction"
    with pytest.raises(ValueError, match="field 'format'"):
      reward([FUNCTION_PROGRAMS["correct"]], ['{"tests": "assert True"}'])
  with pytest.raises(ValueError, match="mode='partial'"):
    CodeExecReward(mode="partial")
  with pytest.raises(ValueError, match="1 completions but 2 answers"):
    CodeExecReward()(["x"], [ASSERT, ASSERT])


def test_close_is_idempotent_and_pool_restarts():
  reward = CodeExecReward(RewardConfig(timeout_s=5.0, workers=1))
  assert reward([FUNCTION_PROGRAMS["correct"]], [ASSERT]).correct.tolist() == [True]
  reward.close()
  reward.close()
  assert reward([FUNCTION_PROGRAMS["correct"]], [ASSERT]).correct.tolist() == [True]
  reward.close()


def test_program_objects_cross_the_judge_boundary():
  """What the judge cannot rebuild as builtin data stays in the program's process behind a proxy: tests
  may build the program's classes and pass them back (MBPP's `Pair`), read their attributes, iterate a
  returned generator, and compare what comes back as plain values; a lying object still fails."""
  tests = ("assert max_chain_length([Pair(5, 24), Pair(15, 25), Pair(27, 40), Pair(50, 60)], 4) == 3\n"
           "p = Pair(1, 2)\nassert p.a == 1 and isinstance(p.b, int)\n"
           "assert list(evens(5)) == [0, 2, 4]\nassert sum(evens(7)) == 12\nassert evens(3) != evens(3)")
  answer = json.dumps({"format": "assert", "tests": tests})
  program = block("class Pair:\n  def __init__(self, a, b):\n    self.a, self.b = a, b\n"
                  "def max_chain_length(arr, n):\n  best = [1] * n\n  for i in range(1, n):\n    for j in range(i):\n"
                  "      if arr[i].a > arr[j].b and best[i] < best[j] + 1:\n        best[i] = best[j] + 1\n"
                  "  return max(best)\ndef evens(n):\n  return (i for i in range(n) if i % 2 == 0)")
  liar = block("class Pair:\n  def __init__(self, a, b):\n    self.a, self.b = a, b\n  def __eq__(self, o):\n"
               "    return True\ndef max_chain_length(arr, n):\n  return Pair(0, 0)\ndef evens(n):\n  return Pair(0, 0)")
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=2)) as reward:
    _, results = reward.evaluate([program, liar], [answer] * 2)
  assert [(r.outcome, r.passed) for r in results] == [("passed", 5), ("error", 2)], results
