"""Benchmark loaders: HumanEval(+), MBPP(+) and LiveCodeBench records (written here, in each source's
own shape) become prompt rows whose test specs accept the canonical solutions and reject wrong ones."""

from __future__ import annotations

import base64
import json
import os
import pickle
import zlib

import pytest

from rlvr_jax.data import load_rows
from rlvr_jax.data._code_benchmarks import (livecodebench_cases, load_code_benchmark, read_records,
                                           write_code_benchmark_jsonl)
from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards.code import CodeExecReward

HUMANEVAL = {
    "task_id": "HumanEval/0",
    "prompt": "from typing import List\n\n\ndef has_close(numbers: List[float], t: float) -> bool:\n"
              "    \"\"\"Are any two numbers closer than t?\"\"\"\n",
    "canonical_solution": "    return any(abs(a - b) < t for i, a in enumerate(numbers)\n"
                          "               for j, b in enumerate(numbers) if i != j)\n",
    "test": "\n\nMETADATA = {'author': 'jt'}\n\n\ndef check(candidate):\n"
            "    assert candidate([1.0, 2.0, 3.9], 0.3) == False\n"
            "    assert candidate([1.0, 2.8, 3.0], 0.3) == True\n",
    "entry_point": "has_close",
}
MBPP = {"task_id": 2, "text": "Write a function to find the shared elements of two lists.",
        "code": "def similar_elements(a, b):\n  return tuple(set(a) & set(b))",
        "test_list": ["assert set(similar_elements((3, 4, 5, 6), (5, 7, 4, 10))) == {4, 5}",
                      "assert set(similar_elements((1, 2), (3, 4))) == set()"],
        "test_setup_code": "", "challenge_test_list": []}
MBPP_SANITIZED = {"task_id": 3, "prompt": "Write a function for the area of a circle of radius r.",
                  "code": "import math\ndef area(r):\n  return math.pi * r * r",
                  "test_imports": ["import math"],
                  "test_list": ["assert math.isclose(area(2), 12.566, rel_tol=0.001)"]}
MBPP_PLUS = {"task_id": "Mbpp/4", "prompt": "Return the n largest numbers, descending.",
             "code": "import heapq\ndef largest(xs, n):\n  return heapq.nlargest(n, xs)",
             "entry_point": "largest", "test_imports": [],
             "test_list": ["assert largest([1, 3, 2], 1) == [3]"],
             "test": "inputs = [[[1, 3, 2], 2], [[5], 1]]\nresults = [[3, 2], [5]]\n"
                     "for inp, exp in zip(inputs, results):\n    assert largest(*inp) == exp\n"}


def compressed(cases: list[dict]) -> str:
  """LiveCodeBench's private-test encoding: base64(zlib(pickle(json text)))."""
  return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases)))).decode()


LCB_STDIN = {
    "question_title": "Sum", "question_content": "Given two integers A and B, print A+B.",
    "platform": "atcoder",
    "question_id": "abc000_a", "starter_code": "", "metadata": "{}",
    "public_test_cases": json.dumps([{"input": "1 2\n", "output": "3\n", "testtype": "stdin"}]),
    "private_test_cases": compressed([{"input": "10 -3\n", "output": "7\n", "testtype": "stdin"}]),
}
LCB_FUNCTIONAL = {
    "question_title": "Two Sum",
    "question_content": "Return the indices of the two numbers adding to target.",
    "platform": "leetcode", "question_id": "1", "metadata": json.dumps({"func_name": "twoSum"}),
    "starter_code": "class Solution:\n"
                    "    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        ",
    "public_test_cases": json.dumps([{"input": "[2, 7, 11, 15]\n9", "output": "[0, 1]",
                                      "testtype": "functional"}]),
    "private_test_cases": json.dumps([{"input": "[3, 2, 4]\n6", "output": "[1, 2]",
                                       "testtype": "functional"}]),
}
SOLUTIONS = {  # id -> (correct program, wrong program)
    "HumanEval/0": ("def has_close(numbers: List[float], t: float) -> bool:\n"  # no typing import
                    + HUMANEVAL["canonical_solution"],
                    "def has_close(numbers: List[float], t: float) -> bool:\n  return False"),
    "2": (MBPP["code"], "def similar_elements(a, b):\n  return tuple(a)"),
    "3": (MBPP_SANITIZED["code"], "def area(r):\n  return 3 * r * r"),
    "Mbpp/4": (MBPP_PLUS["code"], "def largest(xs, n):\n  return sorted(xs)[:n]"),
    "abc000_a": ("a, b = map(int, input().split())\nprint(a + b)",
                 "a, b = map(int, input().split())\nprint(a + b if a < 5 else 0)"),  # fails the private test
    "1": ("class Solution:\n  def twoSum(self, nums: List[int], target: int) -> List[int]:\n"
          "    seen = {}\n    for i, v in enumerate(nums):\n      if target - v in seen:\n"
          "        return [seen[target - v], i]\n      seen[v] = i",
          "class Solution:\n  def twoSum(self, nums, target):\n    return [0, 1]"),  # fails the private test
}


def write_jsonl(path, records: list[dict]) -> str:
  with open(path, "w") as f:
    for record in records:
      f.write(json.dumps(record) + "\n")
  return str(path)


@pytest.fixture
def benchmark_rows(tmp_path) -> list[dict]:
  files = {"humaneval": [HUMANEVAL], "mbpp": [MBPP, MBPP_SANITIZED, MBPP_PLUS],
           "livecodebench": [LCB_STDIN, LCB_FUNCTIONAL]}
  return [row for name, records in files.items()
          for row in load_code_benchmark(name, write_jsonl(tmp_path / f"{name}.jsonl", records))]


def test_canonical_solutions_pass_and_wrong_ones_fail(benchmark_rows):
  """Every source's spec runs: setup imports (HumanEval's List, MBPP's math), check(candidate),
  MBPP+ test programs, stdin problems and LeetCode Solution classes, private tests included."""
  ids = [row["id"] for row in benchmark_rows]
  assert ids == list(SOLUTIONS)
  completions = [f"```python\n{SOLUTIONS[i][k]}\n```" for k in (0, 1) for i in ids]
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=2)) as reward:
    result = reward(completions, [row["answer"] for row in benchmark_rows] * 2)
  assert result.correct.tolist() == [True] * len(ids) + [False] * len(ids)


def test_row_shapes(benchmark_rows):
  """Questions show what the model needs (HumanEval's signature, one MBPP assert, LeetCode starter
  code) and ask for a python block; specs have the expected format and test counts."""
  rows = {row["id"]: row for row in benchmark_rows}
  assert "def has_close(numbers: List[float], t: float)" in rows["HumanEval/0"]["question"]
  assert MBPP["test_list"][0] in rows["2"]["question"] and MBPP["test_list"][1] not in rows["2"]["question"]
  assert "class Solution" in rows["1"]["question"] and "stdin" in rows["abc000_a"]["question"]
  assert all(row["question"].endswith("```python code block.") for row in benchmark_rows)
  specs = {i: json.loads(row["answer"]) for i, row in rows.items()}
  assert specs["HumanEval/0"]["setup"] == "from typing import List"
  assert specs["3"]["setup"] == "import math" and specs["Mbpp/4"]["tests"] == MBPP_PLUS["test"]
  assert [c["input"] for c in specs["1"]["cases"]] == [[[2, 7, 11, 15], 9], [[3, 2, 4], 6]]
  assert len(specs["abc000_a"]["cases"]) == 2


def test_public_tests_only(tmp_path):
  rows = load_code_benchmark("livecodebench", write_jsonl(tmp_path / "lcb.jsonl", [LCB_STDIN]), private=False)
  assert len(json.loads(rows[0]["answer"])["cases"]) == 1


def test_parquet_input_and_pipeline_output(tmp_path):
  """Parquet records convert like JSONL; the written rows load with the prompt pipeline's reader."""
  pyarrow = pytest.importorskip("pyarrow", reason="pyarrow is needed to write the Parquet sample")
  import pyarrow.parquet as pq

  pq.write_table(pyarrow.Table.from_pylist([MBPP, {**MBPP, "task_id": 5}]), tmp_path / "mbpp.parquet")
  assert [r["task_id"] for r in read_records(tmp_path / "mbpp.parquet")] == [2, 5]
  out = write_code_benchmark_jsonl("mbpp", [tmp_path / "mbpp.parquet"], tmp_path / "out" / "mbpp.jsonl")
  rows = load_rows([out])
  assert len(rows) == 2 and json.loads(rows[0].answer)["format"] == "assert"


def test_pickled_code_in_test_field_is_refused(tmp_path):
  """A compressed test field that would run code when unpickled is rejected, and nothing runs."""
  marker = tmp_path / "pwned"

  class Evil:
    def __reduce__(self):
      return (os.mkdir, (str(marker),))

  payload = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
  with pytest.raises(ValueError, match="refusing to unpickle global"):
    livecodebench_cases(payload)
  assert not marker.exists()


@pytest.mark.parametrize("name, record, message", [
    ("humaneval", {k: v for k, v in HUMANEVAL.items() if k != "entry_point"},
     "'HumanEval/0' has no field 'entry_point'"),
    ("mbpp", {**MBPP, "test_list": ["x = 1"]},
     "benchmark record 2: code test spec: field 'tests' holds no test"),
    ("livecodebench", {**LCB_FUNCTIONAL, "metadata": "{}"},
     "'1': functional tests but metadata has no 'func_name'"),
    ("livecodebench", {**LCB_STDIN, "private_test_cases": LCB_FUNCTIONAL["private_test_cases"]},
     "test types \\['functional', 'stdin'\\]"),
])
def test_malformed_records_name_the_record(tmp_path, name, record, message):
  with pytest.raises(ValueError, match=message):
    load_code_benchmark(name, write_jsonl(tmp_path / "bad.jsonl", [record]))


def test_unknown_benchmark_and_file_errors(tmp_path):
  with pytest.raises(ValueError, match="unknown code benchmark benchmark='apps'"):
    load_code_benchmark("apps", [])
  with pytest.raises(FileNotFoundError, match="does not exist"):
    read_records(tmp_path / "missing.jsonl")
  (tmp_path / "bad.jsonl").write_text('{"task_id": 1}\nnot json\n')
  with pytest.raises(ValueError, match="bad.jsonl:2: invalid JSON"):
    read_records(tmp_path / "bad.jsonl")


def test_humaneval_prompt_helpers_cannot_be_redefined_by_the_program():
  """HumanEval/50-style: the tests call a helper the *prompt* defines. The helper is setup code the judge
  runs, so a program that redefines it (to make its own wrong answer check out) still fails, while the
  canonical solution passes."""
  from rlvr_jax.data._code_benchmarks import humaneval_rows

  record = {
      "task_id": "HumanEval/50",
      "prompt": "def encode_shift(s: str):\n    return ''.join(chr((ord(c) + 5 - 97) % 26 + 97) for c in s)\n\n\n"
                "def decode_shift(s: str):\n    \"\"\"Inverse of encode_shift.\"\"\"\n",
      "test": "def check(candidate):\n    for word in ('abc', 'xyz', 'hello'):\n"
              "        assert candidate(encode_shift(word)) == word\n",
      "entry_point": "decode_shift",
  }
  (row,) = humaneval_rows([record])
  assert "def encode_shift" in json.loads(row["answer"])["setup"]
  canonical = ("```python\ndef decode_shift(s: str):\n"
               "    return ''.join(chr((ord(c) - 5 - 97) % 26 + 97) for c in s)\n```")
  cheat = ("```python\ndef encode_shift(s):\n    return s\n\n\ndef decode_shift(s: str):\n    return s\n```")
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=2)) as reward:
    result = reward([canonical, cheat], [row["answer"]] * 2)
  assert result.correct.tolist() == [True, False]
