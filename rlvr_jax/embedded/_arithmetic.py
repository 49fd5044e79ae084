"""The built-in verifiable task: integer arithmetic with the answer in `\\boxed{}`.

It lets the embedded default (tiny model, built-in tokenizer) run end to end with nothing downloaded,
and its verifier is exact, so reward curves on it are free of grader noise. Problems are split into
train and held-out by a hash of the question text, so the two splits can never share a problem,
whatever the seed or the number of problems generated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re

import numpy as np

_OPERATIONS = "+-*"
_QUESTION = re.compile(r"^Compute (\d+)([+\-*])(\d+)\.$")


@dataclasses.dataclass(frozen=True)
class ArithmeticTask:
  """Difficulty knobs of the generator.

  Attributes:
    min_digits, max_digits: operand lengths (each operand draws its length uniformly from this range).
    operations: any of "+", "-", "*" (a string such as "+-").
    heldout_fraction: share of the problem space assigned to the held-out split (by question hash).
  """

  min_digits: int = 1
  max_digits: int = 2
  operations: str = "+-"
  heldout_fraction: float = 0.1

  def __post_init__(self):
    if not 1 <= self.min_digits <= self.max_digits <= 9:
      raise ValueError(f"ArithmeticTask min_digits={self.min_digits}, max_digits={self.max_digits}: "
                       "need 1 <= min_digits <= max_digits <= 9")
    if not self.operations or any(op not in _OPERATIONS for op in self.operations):
      raise ValueError(f"ArithmeticTask operations={self.operations!r}: use a non-empty subset of '+-*'")
    if not 0.0 < self.heldout_fraction < 1.0:
      raise ValueError(f"ArithmeticTask heldout_fraction={self.heldout_fraction!r} must be in (0, 1)")


def question_split(question: str, heldout_fraction: float) -> str:
  """'heldout' or 'train', a pure function of the question text."""
  digest = hashlib.sha256(question.encode("utf-8")).digest()
  return "heldout" if int.from_bytes(digest[:8], "big") / 2.0**64 < heldout_fraction else "train"


def _solve(a: int, op: str, b: int) -> int:
  return a + b if op == "+" else a - b if op == "-" else a * b


def generate_arithmetic(task: ArithmeticTask, split: str, count: int, *, seed: int = 0) -> list[dict]:
  """`count` distinct problems of `split` ('train' | 'heldout') as rows {"question", "answer"}.

  Deterministic in (task, split, count, seed). Raises if the problem space of the split is too small
  to hold `count` distinct problems.
  """
  if split not in ("train", "heldout"):
    raise ValueError(f"split={split!r}; known: train, heldout")
  if count < 0:
    raise ValueError(f"count={count} must be >= 0")
  rng = np.random.default_rng([seed, 0 if split == "train" else 1])
  rows: list[dict] = []
  seen: set[str] = set()
  attempts = 0
  budget = 50 * count + 1000
  while len(rows) < count:
    attempts += 1
    if attempts > budget:
      raise ValueError(f"could only generate {len(rows)} distinct {split} problems of {task}, asked for "
                       f"{count}; widen the digit range or add operations")
    digits = rng.integers(task.min_digits, task.max_digits + 1, size=2)
    low = np.where(digits == 1, 0, 10 ** (digits - 1))
    a, b = (int(rng.integers(lo, 10**d)) for lo, d in zip(low, digits))
    op = task.operations[int(rng.integers(len(task.operations)))]
    question = f"Compute {a}{op}{b}."
    if question in seen or question_split(question, task.heldout_fraction) != split:
      continue
    seen.add(question)
    rows.append({"question": question, "answer": str(_solve(a, op, b))})
  return rows


def write_arithmetic_jsonl(path: str | os.PathLike, task: ArithmeticTask, split: str, count: int, *,
                           seed: int = 0) -> str:
  """Writes the problems as JSONL (one {"question", "answer"} object a line) for the prompt pipeline."""
  path = os.fspath(path)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    for row in generate_arithmetic(task, split, count, seed=seed):
      f.write(json.dumps(row) + "\n")
  return path


def write_builtin_splits(directory: str | os.PathLike, task: ArithmeticTask = ArithmeticTask(), *,
                         train_count: int = 5000, heldout_count: int = 500, seed: int = 0) -> tuple[str, str]:
  """Writes <directory>/arithmetic_{train,heldout}.jsonl (the embedded default's data); returns the paths."""
  directory = os.fspath(directory)
  return (write_arithmetic_jsonl(os.path.join(directory, "arithmetic_train.jsonl"), task, "train",
                                 train_count, seed=seed),
          write_arithmetic_jsonl(os.path.join(directory, "arithmetic_heldout.jsonl"), task, "heldout",
                                 heldout_count, seed=seed))


def solve_question(question: str) -> str:
  """The exact answer of a generated question (checks generated data; raises on other text)."""
  match = _QUESTION.match(question.strip())
  if match is None:
    raise ValueError(f"not an arithmetic question: {question!r}")
  a, op, b = match.groups()
  return str(_solve(int(a), op, int(b)))
