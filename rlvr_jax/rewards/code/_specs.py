"""Test specs: the "answer" of a code row, a JSON object describing how to test a program.

The prompt pipeline carries every answer as a string, so the tests travel as JSON text, in one of
three formats:

  {"format": "assert", "tests": "assert f(1) == 2\\n...", "setup": "import math", "entry_point": "f"}
      HumanEval / MBPP: the program, then the test code, in one interpreter. Every top-level statement
      of `tests` that is not a definition, import or assignment is one test; a HumanEval-style
      `def check(candidate)` with no test statement becomes the single test `check(<entry_point>)`.
  {"format": "stdio", "cases": [{"input": "1 2\\n", "output": "3\\n"}, ...]}
      LiveCodeBench / Codeforces: one process per case, stdin in, stdout compared line by line.
  {"format": "call", "fn_name": "f", "cases": [{"input": [1, 2], "output": 3}, ...], "setup": "..."}
      Call-based: `f(*input) == output` as JSON values (a top-level function, or a method of
      `Solution`), with optional setup code run first (LeetCode programs expect `List` and friends).

Specs are data, so a malformed one is a data bug: it raises ValueError naming the field, never scores
a sample. The test code is parsed here, in the trainer (it is trusted data); programs never are. The
program runs in a sandboxed process of its own and the tests in another (_judge.py), so for assert
tests "one interpreter" means the judge's namespace, where the program's names are proxies.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from typing import Any, Mapping, Union

FORMATS = ("assert", "stdio", "call")
# Top-level statements of assert-format tests that prepare rather than test.
_SETUP_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom,
                ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Pass)


@dataclasses.dataclass(frozen=True)
class AssertSpec:
  """Assert-style tests.

  Attributes:
    tests: the test code as given.
    setup: code run before the program (MBPP test_imports / test_setup_code), "" if none.
    entry_point: the tested function's name, for `check(candidate)` tests; None if not given.
    steps: (statement source, is it a test) in order; what the judge executes after setup.
  """

  tests: str
  setup: str
  entry_point: str | None
  steps: tuple[tuple[str, bool], ...]

  @property
  def num_tests(self) -> int:
    return sum(is_test for _, is_test in self.steps)


@dataclasses.dataclass(frozen=True)
class StdioCase:
  input: str
  output: str


@dataclasses.dataclass(frozen=True)
class StdioSpec:
  cases: tuple[StdioCase, ...]

  @property
  def num_tests(self) -> int:
    return len(self.cases)


@dataclasses.dataclass(frozen=True)
class CallSpec:
  """Call-based tests: `inputs[i]` is the argument list of case i, `outputs[i]` its expected value;
  `setup` runs before the program ("" if none)."""

  fn_name: str
  inputs: tuple[list, ...]
  outputs: tuple[Any, ...]
  setup: str = ""

  @property
  def num_tests(self) -> int:
    return len(self.inputs)


TestSpec = Union[AssertSpec, StdioSpec, CallSpec]


def _field(spec: Mapping, name: str, kind: type | tuple[type, ...], *, required: bool = True) -> Any:
  value = spec.get(name)
  if value is None:
    if required:
      raise ValueError(f"code test spec: field {name!r} is missing")
    return None
  if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    raise ValueError(f"code test spec: field {name!r} must be {' or '.join(k.__name__ for k in kinds)}, "
                     f"got {type(value).__name__} {value!r:.80}")
  return value


def _parse_python(source: str, field: str) -> ast.Module:
  try:
    return ast.parse(source)
  except SyntaxError as e:
    raise ValueError(f"code test spec: field {field!r} is not valid Python: {e.msg} (line {e.lineno})"
                     ) from None


def _assert_spec(spec: Mapping) -> AssertSpec:
  tests = _field(spec, "tests", str)
  setup = _field(spec, "setup", str, required=False) or ""
  entry_point = _field(spec, "entry_point", str, required=False)
  if entry_point is not None and not entry_point.isidentifier():
    raise ValueError(f"code test spec: field 'entry_point'={entry_point!r} is not a Python identifier")
  _parse_python(setup, "setup")
  module = _parse_python(tests, "tests")
  steps = [(ast.unparse(node), not isinstance(node, _SETUP_NODES)) for node in module.body
           if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]  # docstrings
  defines_check = any(isinstance(node, ast.FunctionDef) and node.name == "check" for node in module.body)
  if not any(is_test for _, is_test in steps):
    if not (defines_check and entry_point):
      raise ValueError("code test spec: field 'tests' holds no test statement (e.g. an assert), nor a "
                       "`def check(candidate)` with an 'entry_point' to call it with")
    steps.append((f"check({entry_point})", True))
  return AssertSpec(tests=tests, setup=setup, entry_point=entry_point, steps=tuple(steps))


def _cases(spec: Mapping) -> list[Mapping]:
  cases = _field(spec, "cases", list)
  if not cases:
    raise ValueError("code test spec: field 'cases' is empty")
  for index, case in enumerate(cases):
    if not isinstance(case, Mapping) or "input" not in case or "output" not in case:
      raise ValueError(f"code test spec: field 'cases[{index}]' must be an object with 'input' and "
                       f"'output', got {case!r:.80}")
  return cases


def _stdio_spec(spec: Mapping) -> StdioSpec:
  cases = []
  for index, case in enumerate(_cases(spec)):
    for key in ("input", "output"):
      if not isinstance(case[key], str):
        raise ValueError(f"code test spec: field 'cases[{index}].{key}' must be a string, got "
                         f"{type(case[key]).__name__}")
    cases.append(StdioCase(input=case["input"], output=case["output"]))
  return StdioSpec(cases=tuple(cases))


def _call_spec(spec: Mapping) -> CallSpec:
  fn_name = _field(spec, "fn_name", str)
  if not fn_name.isidentifier():
    raise ValueError(f"code test spec: field 'fn_name'={fn_name!r} is not a Python identifier")
  cases = _cases(spec)
  for index, case in enumerate(cases):
    if not isinstance(case["input"], list):
      raise ValueError(f"code test spec: field 'cases[{index}].input' must be a list of arguments, got "
                       f"{type(case['input']).__name__}")
  setup = _field(spec, "setup", str, required=False) or ""
  _parse_python(setup, "setup")
  return CallSpec(fn_name=fn_name, inputs=tuple(list(c["input"]) for c in cases),
                  outputs=tuple(c["output"] for c in cases), setup=setup)


def parse_spec(answer: str | Mapping) -> TestSpec:
  """The test spec of a row's answer (JSON text, or an already decoded object)."""
  if isinstance(answer, str):
    try:
      answer = json.loads(answer)
    except json.JSONDecodeError as e:
      raise ValueError(f"code test spec: answer is not JSON ({e.msg} at column {e.colno}): "
                       f"{answer!r:.80}") from None
  if not isinstance(answer, Mapping):
    raise ValueError(f"code test spec: answer must be a JSON object, got {type(answer).__name__}")
  kind = answer.get("format")
  if kind not in FORMATS:
    raise ValueError(f"code test spec: field 'format'={kind!r}; known: {', '.join(FORMATS)}")
  return {"assert": _assert_spec, "stdio": _stdio_spec, "call": _call_spec}[kind](answer)


def run_job(spec: TestSpec) -> dict:
  """What the sandbox runs for a spec (sandbox.Sandbox.run): the candidate process gets only the setup
  code; the tests, and the expected values of call tests, go to the judge process alone (_judge.py).
  Stdio tests have no judge: the trainer compares the output (their expected outputs never leave it)."""
  if isinstance(spec, AssertSpec):
    judge = {"format": "assert", "setup": spec.setup, "steps": [list(step) for step in spec.steps],
             "entry_point": spec.entry_point, "num_tests": spec.num_tests}
    return {"format": "assert", "setup": spec.setup, "judge": judge}
  if isinstance(spec, CallSpec):
    judge = {"format": "call", "fn_name": spec.fn_name, "cases": [list(c) for c in zip(spec.inputs, spec.outputs)],
             "num_tests": spec.num_tests}
    return {"format": "call", "setup": spec.setup, "judge": judge}
  return {"format": "stdio"}


def _lines(text: str) -> list[str]:
  lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
  while lines and not lines[-1]:
    lines.pop()
  return lines


def stdout_matches(got: str, expected: str) -> bool:
  """Line-by-line equality ignoring trailing whitespace on each line and trailing blank lines."""
  return _lines(got) == _lines(expected)
