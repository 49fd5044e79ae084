"""The built-in arithmetic task: deterministic generation, correct answers, disjoint splits."""

from __future__ import annotations

import json

import pytest

from rlvr_jax.data import PromptDataConfig, load_prompts
from rlvr_jax.embedded import (ArithmeticTask, builtin_tokenizer, generate_arithmetic, question_split, solve_question,
                               write_arithmetic_jsonl, write_builtin_splits)


def _evaluate(question: str) -> int:
  """Independent reference: Python evaluates the expression between 'Compute ' and '.'."""
  return eval(question[len("Compute "):-1])  # noqa: S307 -- generated digits and one operator only


def test_answers_are_correct_and_operands_in_range():
  """Every answer equals the evaluated expression; operands have min..max digits; ops as configured."""
  task = ArithmeticTask(min_digits=2, max_digits=3, operations="+-*")
  rows = generate_arithmetic(task, "train", 200, seed=1)
  ops_seen = set()
  for row in rows:
    assert int(row["answer"]) == _evaluate(row["question"])
    expression = row["question"][len("Compute "):-1]
    op = next(c for c in "+-*" if c in expression)
    ops_seen.add(op)
    for operand in expression.split(op):
      assert 2 <= len(operand) <= 3 and not operand.startswith("0")
  assert ops_seen == {"+", "-", "*"}


def test_deterministic_and_distinct():
  """Same arguments -> same problems; a different seed -> different problems; no duplicates."""
  task = ArithmeticTask()
  a = generate_arithmetic(task, "train", 100, seed=3)
  assert a == generate_arithmetic(task, "train", 100, seed=3)
  assert a != generate_arithmetic(task, "train", 100, seed=4)
  assert len({r["question"] for r in a}) == 100


def test_splits_never_overlap():
  """Held-out and train problems are disjoint, even with different seeds, and split by hash."""
  task = ArithmeticTask(min_digits=1, max_digits=2, heldout_fraction=0.2)
  train = {r["question"] for seed in (0, 1) for r in generate_arithmetic(task, "train", 300, seed=seed)}
  heldout = {r["question"] for r in generate_arithmetic(task, "heldout", 100, seed=0)}
  assert not train & heldout
  assert all(question_split(q, 0.2) == "heldout" for q in heldout)
  assert all(question_split(q, 0.2) == "train" for q in train)


def test_too_small_problem_space_raises():
  """Asking for more distinct problems than the split holds (1-digit '+': 100 in all) raises."""
  with pytest.raises(ValueError, match="could only generate"):
    generate_arithmetic(ArithmeticTask(min_digits=1, max_digits=1, operations="+"), "train", 150)


@pytest.mark.parametrize("kwargs, message", [
    (dict(min_digits=0), "min_digits=0"),
    (dict(min_digits=3, max_digits=2), "min_digits=3, max_digits=2"),
    (dict(operations="+/"), "operations='\\+/'"),
    (dict(heldout_fraction=1.0), "heldout_fraction=1.0"),
])
def test_bad_task_settings(kwargs, message):
  """Invalid knobs raise ValueError naming the field and value."""
  with pytest.raises(ValueError, match=message):
    ArithmeticTask(**kwargs)


def test_solve_question():
  """solve_question recomputes answers of generated questions and rejects other text."""
  assert solve_question("Compute 37+85.") == "122"
  assert solve_question("Compute 3-10.") == "-7"
  assert solve_question("Compute 12*12.") == "144"
  with pytest.raises(ValueError, match="not an arithmetic question"):
    solve_question("What is 2+2?")


def test_jsonl_rows_load_through_the_pipeline(tmp_path):
  """Written JSONL loads with the prompt pipeline and the built-in tokenizer, all rows kept."""
  path = write_arithmetic_jsonl(tmp_path / "sub" / "train.jsonl", ArithmeticTask(), "train", 12)
  lines = [json.loads(line) for line in open(path)]
  assert len(lines) == 12 and set(lines[0]) == {"question", "answer"}
  prompts, counts = load_prompts(PromptDataConfig(files=(path,)), builtin_tokenizer())
  assert counts.kept == 12 and [p.answer for p in prompts] == [r["answer"] for r in lines]


def test_builtin_splits_files(tmp_path):
  """The embedded default's files: requested sizes, disjoint questions, answers that check out."""
  train, heldout = write_builtin_splits(tmp_path, train_count=40, heldout_count=10)
  rows = {name: [json.loads(line) for line in open(path)] for name, path in (("t", train), ("h", heldout))}
  assert (len(rows["t"]), len(rows["h"])) == (40, 10)
  assert not {r["question"] for r in rows["t"]} & {r["question"] for r in rows["h"]}
  assert all(int(r["answer"]) == _evaluate(r["question"]) for r in rows["t"] + rows["h"])


def test_comma_separated_config_fields(tmp_path):
  """files and question_field given as comma-separated strings (command-line style) become tuples."""
  config = PromptDataConfig(files="a.jsonl,b.jsonl", question_field="problem,prompt")
  assert config.files == ("a.jsonl", "b.jsonl") and config.question_field == ("problem", "prompt")
