"""Code benchmarks from local files, normalized to prompt rows {"question", "answer", "id"}.

HumanEval(+), MBPP(+) and LiveCodeBench ship in different shapes; each loader turns a record into a
prompt (through `code_question`, so every source asks for the same ```python block) and a test spec
(rlvr_jax.rewards.code._specs), validated on the spot, so a record the reward could not grade fails
here with its id rather than during training. `write_code_benchmark_jsonl` writes the rows for the
prompt pipeline (question_field "question", answer_field "answer"). Nothing is downloaded.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import os
import pickle
import zlib
from typing import Any, Callable, Iterable, Sequence

from rlvr_jax.data._templates import code_question
from rlvr_jax._registry import Registry
from rlvr_jax.rewards.code._specs import parse_spec

CodeRows = Callable[[Iterable[dict]], list[dict]]
CODE_BENCHMARKS: Registry[CodeRows] = Registry("code benchmark")

# What LeetCode-style programs take for granted (LiveCodeBench's functional problems).
LEETCODE_SETUP = ("from typing import *\nfrom collections import *\nfrom functools import *\n"
                  "from itertools import *\nfrom heapq import *\nfrom bisect import *\nimport math\n"
                  "import string\nimport re\n")


def read_records(path: str | os.PathLike) -> list[dict]:
  """Records of a .jsonl / .json (one object a line) or .parquet file."""
  path = os.fspath(path)
  if not os.path.exists(path):
    raise FileNotFoundError(f"benchmark file {path!r} does not exist")
  if path.endswith(".parquet"):
    try:
      import pyarrow.parquet as pq  # optional dependency, only needed for Parquet files
    except ImportError:
      raise ImportError(f"reading {path} needs pyarrow; `pip install pyarrow` or convert it to JSONL"
                        ) from None
    return pq.read_table(path).to_pylist()
  if not path.endswith((".jsonl", ".json")):
    raise ValueError(f"benchmark file {path!r}: unsupported extension; use .jsonl or .parquet")
  records = []
  with open(path, encoding="utf-8") as f:
    for line_number, line in enumerate(f, start=1):
      if line.strip():
        try:
          records.append(json.loads(line))
        except json.JSONDecodeError as e:
          raise ValueError(f"{path}:{line_number}: invalid JSON ({e.msg} at column {e.colno})") from None
  return records


def _require(record: dict, *names: str) -> Any:
  """The first present, non-null field of `names`; ValueError naming the record and fields if none."""
  for name in names:
    if record.get(name) is not None:
      return record[name]
  raise ValueError(f"benchmark record {record.get('task_id', record.get('question_id', '?'))!r} has no "
                   f"field {' / '.join(repr(n) for n in names)}")


def _row(question: str, spec: dict, row_id: Any) -> dict:
  answer = json.dumps(spec)
  try:
    parse_spec(answer)
  except ValueError as e:
    raise ValueError(f"benchmark record {row_id!r}: {e}") from None
  return {"question": question, "answer": answer, "id": str(row_id)}


def _prompt_setup(source: str, entry_point: str) -> str:
  """What a HumanEval prompt defines besides the function asked for: its top-level imports (signatures
  use them) and its helper functions and constants (tests of e.g. HumanEval/32, /38 and /50 call
  `poly`, `encode_cyclic`, `encode_shift`). They become setup code, which the judge runs itself and
  resolves before the program's names, so a program that redefines a helper cannot change what the
  tests call."""
  kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
           ast.AnnAssign)
  return "\n".join(ast.unparse(node) for node in ast.parse(source).body
                   if isinstance(node, kinds) and getattr(node, "name", None) != entry_point)


@CODE_BENCHMARKS.register("humaneval")
def humaneval_rows(records: Iterable[dict]) -> list[dict]:
  """HumanEval / HumanEval+ (task_id, prompt, test, entry_point): `check(candidate)` on the function.

  The prompt's imports and helper definitions become setup code (`_prompt_setup`): a solution that
  restates the function without its imports is not failed for the omission, and one that redefines a
  helper the tests call does not change the verdict.
  """
  rows = []
  for record in records:
    prompt, entry_point = _require(record, "prompt"), _require(record, "entry_point")
    question = code_question("Complete the following Python function. Give the whole function, not only "
                             f"its body.\n```python\n{prompt.rstrip()}\n```")
    spec = {"format": "assert", "tests": _require(record, "test"), "entry_point": entry_point,
            "setup": _prompt_setup(prompt, entry_point)}
    rows.append(_row(question, spec, _require(record, "task_id")))
  return rows


def _as_lines(value: Any) -> list[str]:
  return [value] if isinstance(value, str) else list(value or [])


@CODE_BENCHMARKS.register("mbpp")
def mbpp_rows(records: Iterable[dict], *, shown_tests: int = 1) -> list[dict]:
  """MBPP / MBPP sanitized / MBPP+ (task_id, text | prompt, test_list, test_imports, test_setup_code).

  The first `shown_tests` asserts are shown in the prompt, as in the original MBPP prompts: they are
  how the model learns the function's name and argument order. MBPP+ records with a `test` program
  and an `entry_point` are graded with that program; others with all of test_list.
  """
  rows = []
  for record in records:
    test_list = _as_lines(_require(record, "test_list"))
    setup = "\n".join(_as_lines(record.get("test_imports")) + _as_lines(record.get("test_setup_code")))
    problem = _require(record, "text", "prompt").strip()
    if shown_tests > 0 and test_list:
      problem += "\nYour code should pass these tests:\n" + "\n".join(test_list[:shown_tests])
    if record.get("test") and record.get("entry_point"):
      spec = {"format": "assert", "tests": record["test"], "entry_point": record["entry_point"]}
    else:
      spec = {"format": "assert", "tests": "\n".join(test_list)}
    rows.append(_row(code_question(problem), {**spec, "setup": setup}, _require(record, "task_id")))
  return rows


class _StringsOnly(pickle.Unpickler):
  """Unpickles plain data only: resolving any global (the way pickle runs code) is refused."""

  def find_class(self, module: str, name: str) -> Any:
    raise ValueError(f"refusing to unpickle global {module}.{name} from a LiveCodeBench test field")


def livecodebench_cases(field: Any) -> list[dict]:
  """Test cases of a LiveCodeBench field: a list, a JSON string, or the compressed form of the
  private tests (base64 of zlib of a pickled JSON string), decoded without running pickled code."""
  if isinstance(field, list):
    return field
  try:
    return json.loads(field)
  except json.JSONDecodeError:
    text = _StringsOnly(io.BytesIO(zlib.decompress(base64.b64decode(field)))).load()
    return json.loads(text)


def _functional_args(text: str) -> list:
  """A functional case's input: one JSON value per line, one line per argument."""
  return [json.loads(line) for line in text.split("\n") if line.strip()]


def _livecodebench_spec(record: dict, cases: list[dict]) -> dict:
  kinds = {case.get("testtype") for case in cases}
  if kinds == {"stdin"}:
    return {"format": "stdio", "cases": [{"input": c["input"], "output": c["output"]} for c in cases]}
  if kinds == {"functional"}:
    metadata = record.get("metadata") or {}
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    if not metadata.get("func_name"):
      raise ValueError(f"benchmark record {record.get('question_id')!r}: functional tests but metadata has "
                       "no 'func_name'")
    return {"format": "call", "fn_name": metadata["func_name"], "setup": LEETCODE_SETUP,
            "cases": [{"input": _functional_args(c["input"]), "output": json.loads(c["output"])}
                      for c in cases]}
  raise ValueError(f"benchmark record {record.get('question_id')!r}: test types {sorted(map(str, kinds))}; "
                   "expected all 'stdin' or all 'functional'")


@CODE_BENCHMARKS.register("livecodebench")
def livecodebench_rows(records: Iterable[dict], *, private: bool = True) -> list[dict]:
  """LiveCodeBench code generation (question_content, starter_code, public_test_cases,
  private_test_cases, metadata.func_name): stdin problems become stdio specs, functional ones call
  specs on `Solution().<func_name>`. `private=False` grades on the public tests only."""
  rows = []
  for record in records:
    cases = livecodebench_cases(_require(record, "public_test_cases"))
    if private and record.get("private_test_cases"):
      cases = cases + livecodebench_cases(record["private_test_cases"])
    spec = _livecodebench_spec(record, cases)
    content = _require(record, "question_content").strip()
    starter = (record.get("starter_code") or "").strip()
    if starter:
      problem = f"{content}\n\nComplete this starter code:\n```python\n{starter}\n```"
    else:
      problem = f"{content}\n\nWrite a program that reads the input from stdin and prints the answer."
    rows.append(_row(code_question(problem), spec, _require(record, "question_id")))
  return rows


def load_code_benchmark(name: str, files: str | os.PathLike | Sequence[str | os.PathLike],
                        **options: Any) -> list[dict]:
  """Normalized rows of benchmark `name` (a CODE_BENCHMARKS entry) from local files, in file order."""
  loader = CODE_BENCHMARKS.get(name, field="benchmark")
  files = [files] if isinstance(files, (str, os.PathLike)) else list(files)
  return loader([record for path in files for record in read_records(path)], **options)


def write_code_benchmark_jsonl(name: str, files: str | os.PathLike | Sequence[str | os.PathLike],
                               out_path: str | os.PathLike, **options: Any) -> str:
  """Writes the normalized rows of benchmark `name` as JSONL for the prompt pipeline; returns the path."""
  out_path = os.fspath(out_path)
  os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
  with open(out_path, "w", encoding="utf-8") as f:
    for row in load_code_benchmark(name, files, **options):
      f.write(json.dumps(row) + "\n")
  return out_path
