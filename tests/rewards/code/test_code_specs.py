"""Test specs: parsing, the assert-step split, malformed specs, output comparison."""

from __future__ import annotations

import json

import pytest

from rlvr_jax.rewards.code import AssertSpec, CallSpec, StdioSpec, parse_spec, stdout_matches
from rlvr_jax.rewards.code._specs import run_job


def test_assert_spec_splits_tests_from_setup_statements():
  """Asserts and loops are tests; imports, defs and assignments prepare them."""
  spec = parse_spec(json.dumps({"format": "assert", "tests": (
      "import math\nX = 3\ndef helper(v):\n  return v\nassert f(1) == 2\n"
      "for i in range(2):\n  assert f(i) > i\n"
      "assert math.isclose(f(0.5), 1.5)")}))
  assert isinstance(spec, AssertSpec) and spec.num_tests == 3
  assert [is_test for _, is_test in spec.steps] == [False, False, False, True, True, True]


def test_humaneval_check_becomes_one_test():
  """`def check(candidate)` and no test statement: one test, check(entry_point)."""
  spec = parse_spec({"format": "assert", "entry_point": "f",
                     "tests": "METADATA = {}\ndef check(candidate):\n  assert candidate(1)"})
  assert spec.num_tests == 1 and spec.steps[-1] == ("check(f)", True)


def test_stdio_and_call_specs():
  stdio = parse_spec(json.dumps({"format": "stdio", "cases": [{"input": "1\n", "output": "2\n"}]}))
  assert isinstance(stdio, StdioSpec) and stdio.num_tests == 1 and stdio.cases[0].output == "2\n"
  call = parse_spec(json.dumps({"format": "call", "fn_name": "f", "cases": [
      {"input": [1, [2]], "output": 3}, {"input": [], "output": None}]}))
  assert isinstance(call, CallSpec) and call.num_tests == 2 and call.inputs == ([1, [2]], [])


def test_program_never_gets_tests_or_expected_outputs():
  """The program's process gets only the setup code: the tests of assert specs and the expected
  values of call specs go to the judge alone, and stdio outputs never leave the trainer."""
  stdio = parse_spec({"format": "stdio", "cases": [{"input": "1", "output": "SECRET-OUT"}]})
  call = parse_spec({"format": "call", "fn_name": "f", "setup": "import math",
                     "cases": [{"input": [1], "output": "SECRET-OUT"}]})
  asserts = parse_spec({"format": "assert", "tests": "assert f(1) == 'SECRET-OUT'", "setup": "import math"})
  for spec in (stdio, call, asserts):
    job = run_job(spec)
    program_side = {k: v for k, v in job.items() if k != "judge"}
    assert "SECRET-OUT" not in json.dumps(program_side)
  assert "SECRET-OUT" in json.dumps(run_job(call)["judge"]) and run_job(call)["setup"] == "import math"
  assert run_job(asserts)["judge"]["steps"] == [["assert f(1) == 'SECRET-OUT'", True]]


@pytest.mark.parametrize("answer, message", [
    ("not json", "answer is not JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"format": "pytest"}', "field 'format'='pytest'"),
    ('{"format": "assert"}', "field 'tests' is missing"),
    ('{"format": "assert", "tests": 5}', "field 'tests' must be str"),
    ('{"format": "assert", "tests": "assert (("}', "field 'tests' is not valid Python"),
    ('{"format": "assert", "tests": "x = 1"}', "field 'tests' holds no test statement"),
    ('{"format": "assert", "tests": "assert f(1)", "entry_point": "a b"}', "field 'entry_point'='a b'"),
    ('{"format": "assert", "tests": "assert f(1)", "setup": "import ("}', "field 'setup' is not valid"),
    ('{"format": "stdio", "cases": []}', "field 'cases' is empty"),
    ('{"format": "stdio", "cases": [{"input": "1"}]}', r"field 'cases\[0\]' must be an object"),
    ('{"format": "stdio", "cases": [{"input": 1, "output": "1"}]}',
     r"field 'cases\[0\].input' must be a str"),
    ('{"format": "call", "cases": [{"input": [], "output": 1}]}', "field 'fn_name' is missing"),
    ('{"format": "call", "fn_name": "f", "cases": [{"input": 3, "output": 1}]}',
     r"field 'cases\[0\].input' must be a list"),
])
def test_malformed_specs_name_the_field(answer, message):
  with pytest.raises(ValueError, match=message):
    parse_spec(answer)


@pytest.mark.parametrize("got, expected, same", [
    ("3\n", "3", True), ("1 2  \n3\n\n\n", "1 2\n3\n", True), ("3\r\n", "3\n", True),
    ("3\n4\n", "3\n", False), (" 3\n", "3\n", False), ("", "0\n", False), ("\n", "", True),
])
def test_stdout_comparison(got, expected, same):
  """Trailing spaces and trailing blank lines are ignored; leading spaces and extra lines are not."""
  assert stdout_matches(got, expected) is same
