"""The built-in countdown task: reach a target with given numbers, each used exactly once.

"Use 2 3 5 to make 13." has several correct answers (`3*5-2`, `5*3-2`, ...): the numbers can be taken
in several orders and combined in several ways, so a policy that keeps its options open solves more
problems in k samples than one that has collapsed onto a single answer (pass@k at large k measures
that), and GRPO's sharpening onto one answer per problem shows up as falling entropy. This is the
regime the entropy-control papers study, at a size a 2-core CPU trains in minutes.

Generation: `num_numbers` numbers drawn uniformly from 1..max_number (shown sorted), and a target that
is the value of a random expression over them (a random order, random operators from `operations`,
usual precedence, no parentheses), kept only if it is >= 0. Problems are split into train and held-out
by a hash of the question text, as the arithmetic task does.

Verifier (`check_expression`): the completion must be an expression of non-negative integers,
`+ - *` and parentheses (spaces allowed) that uses exactly the given multiset of numbers and whose
exact integer value is the target. It is parsed by a small recursive-descent parser, never `eval`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re

import numpy as np

from rlvr_jax.embedded._arithmetic import question_split

_QUESTION = re.compile(r"^Use ((?:\d+ )*\d+) to make (\d+)\.$")
_ANSWER = re.compile(r"^(-?\d+):((?:\d+,)*\d+)$")
_TOKEN = re.compile(r"\s*(\d+|[+\-*()])")
_CHARS = re.compile(r"^[\d+\-*()\s]*$")


@dataclasses.dataclass(frozen=True)
class CountdownTask:
  """Generator knobs.

  Attributes:
    num_numbers: how many numbers each problem gives (2..5; the expression uses all of them).
    max_number: numbers are drawn from 1..max_number (1..99).
    operations: any of "+", "-", "*" (a string such as "+-*").
    heldout_fraction: share of the problem space assigned to the held-out split (by question hash).
  """

  num_numbers: int = 3
  max_number: int = 9
  operations: str = "+-*"
  heldout_fraction: float = 0.25

  def __post_init__(self):
    if not 2 <= self.num_numbers <= 5:
      raise ValueError(f"CountdownTask num_numbers={self.num_numbers}: need 2 <= num_numbers <= 5")
    if not 1 <= self.max_number <= 99:
      raise ValueError(f"CountdownTask max_number={self.max_number}: need 1 <= max_number <= 99")
    if not self.operations or any(op not in "+-*" for op in self.operations) or len(set(self.operations)) != len(
        self.operations):
      raise ValueError(f"CountdownTask operations={self.operations!r}: use distinct characters of '+-*'")
    if not 0.0 < self.heldout_fraction < 1.0:
      raise ValueError(f"CountdownTask heldout_fraction={self.heldout_fraction!r} must be in (0, 1)")


def question(numbers: list[int] | tuple[int, ...], target: int) -> str:
  return f"Use {' '.join(str(n) for n in sorted(numbers))} to make {target}."


def answer_key(numbers: list[int] | tuple[int, ...], target: int) -> str:
  """The JSONL `answer` field: what the verifier needs ('13:2,3,5')."""
  return f"{target}:{','.join(str(n) for n in sorted(numbers))}"


def parse_answer_key(answer: str) -> tuple[int, tuple[int, ...]]:
  """'13:2,3,5' -> (13, (2, 3, 5)); raises on anything else (a data error, not a wrong completion)."""
  match = _ANSWER.match(answer.strip())
  if match is None:
    raise ValueError(f"countdown answer {answer!r} is not '<target>:<n1>,<n2>,...'")
  return int(match.group(1)), tuple(sorted(int(n) for n in match.group(2).split(",")))


def expression(numbers: tuple[int, ...], ops: tuple[str, ...]) -> str:
  """numbers (n1, n2, ...) and ops (o1, ...) -> 'n1o1n2...' (no spaces, no parentheses)."""
  return "".join(f"{n}{o}" for n, o in zip(numbers, ops + ("",)))


def evaluate(text: str) -> tuple[int, tuple[int, ...]] | None:
  """(value, sorted numbers used) of an expression of integers, + - * and parentheses; None if it is
  not one (empty, other characters, unbalanced, a unary sign, adjacent numbers)."""
  if not _CHARS.match(text) or not text.strip():
    return None
  tokens = _TOKEN.findall(text)
  if "".join(tokens) != re.sub(r"\s+", "", text):
    return None
  pos = 0
  used: list[int] = []

  def peek() -> str | None:
    return tokens[pos] if pos < len(tokens) else None

  def atom() -> int | None:
    nonlocal pos
    token = peek()
    if token is None:
      return None
    if token == "(":
      pos += 1
      value = expr()
      if value is None or peek() != ")":
        return None
      pos += 1
      return value
    if token.isdigit():
      pos += 1
      used.append(int(token))
      return int(token)
    return None

  def term() -> int | None:
    nonlocal pos
    value = atom()
    while value is not None and peek() == "*":
      pos += 1
      right = atom()
      value = None if right is None else value * right
    return value

  def expr() -> int | None:
    nonlocal pos
    value = term()
    while value is not None and peek() in ("+", "-"):
      op = tokens[pos]
      pos += 1
      right = term()
      value = None if right is None else (value + right if op == "+" else value - right)
    return value

  value = expr()
  if value is None or pos != len(tokens):
    return None
  return value, tuple(sorted(used))


def check_expression(completion: str, answer: str) -> tuple[bool, str | None]:
  """(correct, the expression read from the completion or None): correct iff the completion is an
  expression that uses exactly the numbers of `answer` ('13:2,3,5') and evaluates to its target."""
  target, numbers = parse_answer_key(answer)
  text = completion.strip()
  result = evaluate(text)
  if result is None:
    return False, None
  value, used = result
  return value == target and used == numbers, text


def all_expressions(numbers: tuple[int, ...], operations: str) -> list[str]:
  """Every distinct parenthesis-free expression using each number once (all orders, all operators)."""
  out = set()
  for order in itertools.permutations(numbers):
    for ops in itertools.product(operations, repeat=len(numbers) - 1):
      out.add(expression(order, ops))
  return sorted(out)


def solutions(numbers: tuple[int, ...], target: int, operations: str) -> list[str]:
  """The parenthesis-free expressions that reach `target` (what the demonstrator chooses among)."""
  return [e for e in all_expressions(numbers, operations) if evaluate(e)[0] == target]


def generate_countdown(task: CountdownTask, split: str, count: int, *, seed: int = 0) -> list[dict]:
  """`count` distinct problems of `split` ('train' | 'heldout') as rows {"question", "answer"}.

  Deterministic in (task, split, count, seed). Raises if the split cannot hold `count` distinct problems.
  """
  if split not in ("train", "heldout"):
    raise ValueError(f"split={split!r}; known: train, heldout")
  if count < 0:
    raise ValueError(f"count={count} must be >= 0")
  rng = np.random.default_rng([seed, 0 if split == "train" else 1, 7])
  rows: list[dict] = []
  seen: set[str] = set()
  budget = 50 * count + 1000
  for _ in range(budget):
    if len(rows) == count:
      break
    numbers = tuple(int(n) for n in rng.integers(1, task.max_number + 1, task.num_numbers))
    ops = tuple(task.operations[int(i)] for i in rng.integers(len(task.operations), size=task.num_numbers - 1))
    target = evaluate(expression(numbers, ops))[0]
    text = question(numbers, target)
    if target < 0 or text in seen or question_split(text, task.heldout_fraction) != split:
      continue
    seen.add(text)
    rows.append({"question": text, "answer": answer_key(numbers, target)})
  if len(rows) < count:
    raise ValueError(f"could only generate {len(rows)} distinct {split} problems of {task}, asked for {count}")
  return rows


def parse_question(text: str) -> tuple[tuple[int, ...], int]:
  """'Use 2 3 5 to make 13.' -> ((2, 3, 5), 13); raises on other text."""
  match = _QUESTION.match(text.strip())
  if match is None:
    raise ValueError(f"not a countdown question: {text!r}")
  return tuple(int(n) for n in match.group(1).split()), int(match.group(2))


def demonstration(numbers: tuple[int, ...], target: int, operations: str, slip: bool,
                  rng: np.random.Generator) -> str:
  """One demonstrator answer: a uniformly chosen correct expression, or (a slip) a uniformly chosen
  expression over the same numbers, right only by chance."""
  pool = all_expressions(numbers, operations) if slip else solutions(numbers, target, operations)
  return pool[int(rng.integers(len(pool)))]


def write_countdown_splits(directory: str | os.PathLike, task: CountdownTask, *, train_count: int,
                           heldout_count: int, seed: int = 0) -> tuple[str, str]:
  """Writes <directory>/countdown_{train,heldout}.jsonl; returns the paths."""
  directory = os.fspath(directory)
  os.makedirs(directory, exist_ok=True)
  paths = []
  for split, count in (("train", train_count), ("heldout", heldout_count)):
    path = os.path.join(directory, f"countdown_{split}.jsonl")
    with open(path, "w", encoding="utf-8") as f:
      for row in generate_countdown(task, split, count, seed=seed):
        f.write(json.dumps(row) + "\n")
    paths.append(path)
  return paths[0], paths[1]
