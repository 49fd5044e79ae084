"""The built-in code task: tiny functions ("return x plus 3") with generated tests, and the code prompt.

It is to code RLVR what the arithmetic task is to math: a problem set with nothing to download and an
exact grader, small enough that a small model learns it and the whole sandbox path (extraction,
execution, grading) is exercised end to end. A problem is a (family, constant) pair; problems are
split into train and held-out by a hash of that pair, so the splits never share a problem whatever
the seed, count or test format. Every row's answer is a test spec (rlvr_jax.rewards.code._specs) in
the configured format.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Callable

import numpy as np

from rlvr_jax.data._templates import code_question
from rlvr_jax.embedded._arithmetic import question_split

TEST_FORMATS = ("assert", "call", "stdio")


@dataclasses.dataclass(frozen=True)
class _Family:
  """A kind of problem: what the result is (in words, with {k}), the argument, and how to compute it."""

  result: str
  argument: str  # "int" x | "str" s | "list" xs
  body: str  # Python expression of the reference solution
  compute: Callable
  min_k: int = 1


_FAMILIES = {
    "add": _Family("x plus {k}", "int", "x + {k}", lambda x, k: x + k),
    "times": _Family("x multiplied by {k}", "int", "x * {k}", lambda x, k: x * k),
    "minus": _Family("x minus {k}", "int", "x - {k}", lambda x, k: x - k),
    "mod": _Family("the remainder of x divided by {k} (as Python's % operator computes it)", "int",
                   "x % {k}", lambda x, k: x % k, min_k=2),
    "repeat": _Family("the string s repeated {k} times", "str", "s * {k}", lambda s, k: s * k),
    "sum_first": _Family("the sum of the first {k} elements of the list of integers xs (of all of them "
                         "if it has fewer)", "list", "sum(xs[:{k}])", lambda xs, k: sum(xs[:k])),
    "count_multiples": _Family("the number of elements of the list of integers xs that are divisible by "
                               "{k}", "list", "sum(1 for v in xs if v % {k} == 0)",
                               lambda xs, k: sum(1 for v in xs if v % k == 0)),
}
_NAMES = {"int": "x", "str": "s", "list": "xs"}
_STDIN = {"int": "an integer x on one line",
          "str": "a string s on one line",
          "list": "a list of integers xs as two lines: its length n, then the n integers separated by spaces"}
_FUNCTION = re.compile(r"`([a-z_]+)_(\d+)\(")
_PROGRAM = re.compile(r"^Write a Python program that reads .* and prints (.*)\.\n")


@dataclasses.dataclass(frozen=True)
class CodeTask:
  """Generator settings.

  Attributes:
    families: problem kinds, any of add, times, minus, mod, repeat, sum_first, count_multiples.
    max_constant: the constant k ranges over [1 (2 for mod), max_constant].
    num_tests: generated test inputs per problem.
    test_format: "assert" (assert lines), "call" (function call cases) or "stdio" (a program reading
      stdin and printing the result).
    heldout_fraction: share of the problems assigned to the held-out split (by problem hash).
  """

  families: tuple[str, ...] = tuple(_FAMILIES)
  max_constant: int = 50
  num_tests: int = 5
  test_format: str = "assert"
  heldout_fraction: float = 0.1

  def __post_init__(self):
    if isinstance(self.families, str):
      object.__setattr__(self, "families", tuple(f for f in self.families.split(",") if f))
    unknown = [f for f in self.families if f not in _FAMILIES]
    if not self.families or unknown:
      raise ValueError(f"CodeTask families={self.families!r}: use a non-empty subset of "
                       f"{', '.join(_FAMILIES)}")
    if not isinstance(self.max_constant, int) or not 2 <= self.max_constant <= 10_000:
      raise ValueError(f"CodeTask max_constant={self.max_constant!r} must be an int in [2, 10000]")
    if not isinstance(self.num_tests, int) or not 1 <= self.num_tests <= 100:
      raise ValueError(f"CodeTask num_tests={self.num_tests!r} must be an int in [1, 100]")
    if self.test_format not in TEST_FORMATS:
      raise ValueError(f"CodeTask test_format={self.test_format!r}; use one of {', '.join(TEST_FORMATS)}")
    if not 0.0 < self.heldout_fraction < 1.0:
      raise ValueError(f"CodeTask heldout_fraction={self.heldout_fraction!r} must be in (0, 1)")


def _signature(family: str, k: int) -> str:
  return f"{family}_{k}({_NAMES[_FAMILIES[family].argument]})"


def _problem_text(family: str, k: int, test_format: str) -> str:
  spec = _FAMILIES[family]
  result = spec.result.format(k=k)
  if test_format == "stdio":
    return f"Write a Python program that reads {_STDIN[spec.argument]} and prints {result}."
  return f"Write a Python function `{_signature(family, k)}` that returns {result}."


def _random_input(argument: str, rng: np.random.Generator):
  if argument == "int":
    return int(rng.integers(-100, 101))
  if argument == "str":
    return "".join(chr(97 + int(c)) for c in rng.integers(0, 26, size=int(rng.integers(0, 6))))
  return [int(v) for v in rng.integers(-20, 21, size=int(rng.integers(0, 9)))]


def _stdin_text(argument: str, value) -> str:
  if argument == "list":
    return f"{len(value)}\n{' '.join(map(str, value))}\n"
  return f"{value}\n"


def _spec(family: str, k: int, task: CodeTask, rng: np.random.Generator) -> dict:
  spec = _FAMILIES[family]
  inputs = [_random_input(spec.argument, rng) for _ in range(task.num_tests)]
  outputs = [spec.compute(value, k) for value in inputs]
  name = f"{family}_{k}"
  if task.test_format == "assert":
    tests = "\n".join(f"assert {name}({value!r}) == {output!r}" for value, output in zip(inputs, outputs))
    return {"format": "assert", "tests": tests, "entry_point": name}
  if task.test_format == "call":
    return {"format": "call", "fn_name": name,
            "cases": [{"input": [value], "output": output} for value, output in zip(inputs, outputs)]}
  return {"format": "stdio", "cases": [{"input": _stdin_text(spec.argument, value), "output": f"{output}\n"}
                                       for value, output in zip(inputs, outputs)]}


def _problems(task: CodeTask, split: str) -> list[tuple[str, int]]:
  return [(family, k) for family in task.families
          for k in range(_FAMILIES[family].min_k, task.max_constant + 1)
          if question_split(f"{family}_{k}", task.heldout_fraction) == split]


def generate_code_task(task: CodeTask, split: str, count: int, *, seed: int = 0) -> list[dict]:
  """`count` distinct problems of `split` ('train' | 'heldout') as rows {"question", "answer", "id"}.

  Deterministic in (task, split, count, seed); raises if the split holds fewer than `count` problems.
  """
  if split not in ("train", "heldout"):
    raise ValueError(f"split={split!r}; known: train, heldout")
  if not isinstance(count, int) or count < 0:
    raise ValueError(f"count={count!r} must be an int >= 0")
  problems = _problems(task, split)
  if count > len(problems):
    raise ValueError(f"could only generate {len(problems)} distinct {split} problems of {task}, asked for "
                     f"{count}; raise max_constant or add families")
  rng = np.random.default_rng([seed, 0 if split == "train" else 1])
  rows = []
  for index in rng.permutation(len(problems))[:count]:
    family, k = problems[index]
    rows.append({"question": code_question(_problem_text(family, k, task.test_format)),
                 "answer": json.dumps(_spec(family, k, task, rng)), "id": f"{family}_{k}"})
  return rows


def write_code_task_jsonl(path: str | os.PathLike, task: CodeTask, split: str, count: int, *,
                          seed: int = 0) -> str:
  """Writes the problems as JSONL (one {"question", "answer", "id"} object a line) for the pipeline."""
  path = os.fspath(path)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    for row in generate_code_task(task, split, count, seed=seed):
      f.write(json.dumps(row) + "\n")
  return path


def write_code_task_splits(directory: str | os.PathLike, task: CodeTask = CodeTask(), *,
                           train_count: int = 300, heldout_count: int = 30,
                           seed: int = 0) -> tuple[str, str]:
  """Writes <directory>/code_{train,heldout}.jsonl; returns the paths."""
  directory = os.fspath(directory)
  return (write_code_task_jsonl(os.path.join(directory, "code_train.jsonl"), task, "train", train_count,
                                seed=seed),
          write_code_task_jsonl(os.path.join(directory, "code_heldout.jsonl"), task, "heldout",
                                heldout_count, seed=seed))


def _family_and_constant(question: str) -> tuple[str, int, bool]:
  """(family, k, stdio) of a generated question; raises ValueError on other text."""
  match = _FUNCTION.search(question)
  if match and match.group(1) in _FAMILIES:
    return match.group(1), int(match.group(2)), False
  program = _PROGRAM.match(question)
  for family, spec in _FAMILIES.items():
    pattern = re.escape(spec.result).replace(re.escape("{k}"), r"(\d+)")
    found = re.fullmatch(pattern, program.group(1)) if program else None
    if found:
      return family, int(found.group(1)), True
  raise ValueError(f"not a generated code question: {question!r:.120}")


def reference_solution(question: str, *, constant_offset: int = 0) -> str:
  """A correct program for a generated question (checks generated data; raises on other text).

  A non-zero `constant_offset` shifts the constant in the program's body (the signature keeps the
  question's): a plausible, subtly wrong program, as a demonstrator who slips writes it
  (rlvr_jax.train.embedded). The result may be 0 or negative; the program is still valid Python.
  """
  family, k, stdio = _family_and_constant(question)
  spec = _FAMILIES[family]
  if isinstance(constant_offset, bool) or not isinstance(constant_offset, int):
    raise ValueError(f"reference_solution constant_offset={constant_offset!r} must be an int")
  body = spec.body.format(k=k + constant_offset)
  if not stdio:
    return f"def {_signature(family, k)}:\n  return {body}\n"
  read = {"int": "x = int(input())", "str": "s = input()",
          "list": "input()\nxs = [int(v) for v in input().split()]"}[spec.argument]
  return f"{read}\nprint({body})\n"
