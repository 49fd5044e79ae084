"""The built-in code task: deterministic generation, disjoint splits, tests its reference passes."""

from __future__ import annotations

import json

import pytest

from rlvr_jax.data import PromptDataConfig, load_prompts

from rlvr_jax.embedded import builtin_tokenizer
from rlvr_jax.data._templates import CODE_INSTRUCTION, code_question
from rlvr_jax.embedded._code_task import (CodeTask, generate_code_task, reference_solution, write_code_task_jsonl,
                                         write_code_task_splits)
from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards.code import CodeExecReward, parse_spec


@pytest.fixture(scope="module")
def reward():
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=2)) as reward:
    yield reward


@pytest.mark.parametrize("test_format", ["assert", "call", "stdio"])
def test_reference_passes_and_wrong_program_fails(reward, test_format):
  """The generated tests accept the reference solution and reject a constant-returning one."""
  rows = generate_code_task(CodeTask(test_format=test_format, num_tests=4), "train", 6, seed=2)
  good = [f"```python\n{reference_solution(row['question'])}```" for row in rows]
  if test_format == "stdio":
    bad = ["```python\nprint(7)\n```"] * len(rows)
  else:
    bad = [f"```python\ndef {row['id']}(*args):\n  return 7\n```" for row in rows]
  result = reward(good + bad, [row["answer"] for row in rows] * 2)
  assert result.correct.tolist() == [True] * len(rows) + [False] * len(rows)


def test_question_text_and_spec_shape():
  """Questions name the function (or the stdin format) and end with the code-block instruction."""
  [call_row] = generate_code_task(CodeTask(families=("add",), test_format="call"), "train", 1, seed=0)
  k = int(call_row["id"].split("_")[1])
  assert call_row["question"] == code_question(
      f"Write a Python function `add_{k}(x)` that returns x plus {k}.")
  assert call_row["question"].endswith(CODE_INSTRUCTION)
  spec = json.loads(call_row["answer"])
  assert all(case["output"] == case["input"][0] + k for case in spec["cases"])
  [stdio_row] = generate_code_task(CodeTask(families=("sum_first",), test_format="stdio"), "train", 1)
  assert "reads a list of integers xs as two lines" in stdio_row["question"]
  assert parse_spec(stdio_row["answer"]).num_tests == 5


def test_deterministic_distinct_and_seeded():
  task = CodeTask()
  rows = generate_code_task(task, "train", 50, seed=3)
  assert rows == generate_code_task(task, "train", 50, seed=3)
  assert rows != generate_code_task(task, "train", 50, seed=4)
  assert len({row["id"] for row in rows}) == 50


def test_splits_never_share_a_problem_in_any_format():
  """Held-out problems (family, constant) are disjoint from train ones, across seeds and formats."""
  task = CodeTask(max_constant=20, heldout_fraction=0.2)
  train = {row["id"] for seed in (0, 1) for row in generate_code_task(task, "train", 90, seed=seed)}
  heldout = {row["id"] for fmt in ("assert", "stdio")
             for row in generate_code_task(CodeTask(max_constant=20, heldout_fraction=0.2, test_format=fmt),
                                           "heldout", 15)}
  assert not train & heldout


def test_too_small_problem_space_raises():
  with pytest.raises(ValueError, match="could only generate"):
    generate_code_task(CodeTask(families=("add",), max_constant=5), "train", 10)


@pytest.mark.parametrize("kwargs, message", [
    (dict(families=("add", "divide")), "families=\\('add', 'divide'\\)"),
    (dict(families=()), "families=\\(\\)"),
    (dict(max_constant=1), "max_constant=1"),
    (dict(num_tests=0), "num_tests=0"),
    (dict(test_format="pytest"), "test_format='pytest'"),
    (dict(heldout_fraction=0.0), "heldout_fraction=0.0"),
])
def test_bad_task_settings(kwargs, message):
  with pytest.raises(ValueError, match=message):
    CodeTask(**kwargs)


def test_reference_solution_rejects_other_text():
  with pytest.raises(ValueError, match="not a generated code question"):
    reference_solution("Write a function that sorts a list.")


def test_jsonl_rows_load_through_the_pipeline(tmp_path):
  """Written rows load with the prompt pipeline; the answer (test spec JSON) arrives unchanged."""
  path = write_code_task_jsonl(tmp_path / "sub" / "code.jsonl", CodeTask(test_format="call"), "train", 8)
  lines = [json.loads(line) for line in open(path)]
  assert len(lines) == 8 and set(lines[0]) == {"question", "answer", "id"}
  prompts, counts = load_prompts(PromptDataConfig(files=(path,), template="raw", max_prompt_length=512),
                                 builtin_tokenizer())
  assert counts.kept == 8 and [p.answer for p in prompts] == [r["answer"] for r in lines]


def test_split_files(tmp_path):
  train, heldout = write_code_task_splits(tmp_path, train_count=30, heldout_count=5)
  rows = {name: [json.loads(line) for line in open(path)] for name, path in (("t", train), ("h", heldout))}
  assert (len(rows["t"]), len(rows["h"])) == (30, 5)
  assert not {r["id"] for r in rows["t"]} & {r["id"] for r in rows["h"]}


def test_constant_offset_writes_a_plausible_wrong_program(reward):
  """A shifted constant keeps the question's signature and runs, and fails the tests (a demonstrator's slip)."""
  rows = generate_code_task(CodeTask(families=("add", "times", "repeat")), "train", 6, seed=3)
  for row in rows:
    k = int(row["id"].rsplit("_", 1)[1])
    slipped = reference_solution(row["question"], constant_offset=1)
    assert slipped.startswith(f"def {row['id']}(") and slipped.rstrip().endswith(str(k + 1))
  programs = [f"```python\n{reference_solution(r['question'], constant_offset=offset)}```"
              for offset in (-1, 1) for r in rows]
  result = reward(programs, [r["answer"] for r in rows] * 2)
  assert result.metrics["failed"] == len(programs)
  with pytest.raises(ValueError, match="constant_offset='1' must be an int"):
    reference_solution(rows[0]["question"], constant_offset="1")
