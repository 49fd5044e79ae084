"""Math and code benchmarks from local files (JSONL, a JSON array, or Parquet) as normalized rows.

Each published copy of AIME24 / AIME25 / AMC23 / MATH500 / Minerva Math / OlympiadBench names its
fields differently (problem | question | Problem, answer | Answer | final_answer, id | unique_id | idx)
and stores answers differently (numbers, `$...$`, a list in OlympiadBench, or only a solution whose last
`\\boxed{}` holds the answer in MATH and Minerva Math). A `BenchmarkFormat` lists what its benchmark's
copies use; rows come out as `PromptRow`s (the prompt pipeline's own row type, so `tokenize_prompts`
templates and tokenizes them unchanged) plus a stable problem id. `write_rows` saves them as
question/answer JSONL that `PromptDataConfig` reads with its default fields.

Code benchmarks (HumanEval(+), MBPP(+), LiveCodeBench) are not field renames: a record becomes a prompt
asking for a ```python block and a test spec for the code rewards, built by `rlvr_jax.data._code_benchmarks`,
so their formats carry that converter. Their answers are programs, which cannot be voted on: a
`Benchmark` says whether maj@k means anything for it (`majority_vote`).

Nothing is skipped: a row without a question or an answer stops loading with its file and line.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import os
from typing import Any, Callable, Iterator, Sequence

from rlvr_jax.data import _code_benchmarks as code_benchmarks
from rlvr_jax.data._sources import PromptRow
from rlvr_jax.embedded._tasks import data_files as builtin_data_files
from rlvr_jax._registry import Registry
from rlvr_jax.rewards.code._specs import parse_spec
from rlvr_jax.rewards._extraction import last_boxed

QUESTION_FIELDS = ("problem", "question", "Problem", "Question")
ANSWER_FIELDS = ("answer", "Answer", "final_answer", "expected_answer")
SOLUTION_FIELDS = ("solution", "Solution")
ID_FIELDS = ("id", "unique_id", "idx", "ID", "problem_id")


@dataclasses.dataclass(frozen=True)
class BenchmarkFormat:
  """How one benchmark's files spell their rows.

  Attributes:
    question_fields, answer_fields, id_fields: names tried in order; the first present (non-null) wins.
    solution_fields: where to take the last `\\boxed{}` from when no answer field is present.
    list_answers: an answer may be a list of parts (OlympiadBench multi-answer problems), joined ", ".
    default_path: the file used when the benchmark is named without one (the built-in held-out split).
    convert: records -> one {"question", "answer", "id"} row per record, in order; replaces the field
      lookup above (code benchmarks, whose rows are built, not renamed).
    majority_vote: whether extracted answers are final answers that maj@k can vote on; False where they
      are programs (several different programs are right, and equal ones are rare).
  """

  question_fields: tuple[str, ...] = QUESTION_FIELDS
  answer_fields: tuple[str, ...] = ANSWER_FIELDS
  id_fields: tuple[str, ...] = ID_FIELDS
  solution_fields: tuple[str, ...] = ()
  list_answers: bool = False
  default_path: Callable[[], str] | None = None
  convert: Callable[[list[dict]], list[dict]] | None = None
  majority_vote: bool = True


def _builtin_heldout() -> str:
  return builtin_data_files("arithmetic")[1]  # generated (and cached) on first use


def _builtin_code_heldout() -> str:
  return builtin_data_files("code")[1]


def code_rows(records: list[dict]) -> list[dict]:
  """Rows already normalized for code ({"question", "answer": test spec JSON, "id"}: the built-in code
  task, or `write_code_benchmark_jsonl` output), each spec checked so a bad one fails at load time."""
  rows = []
  for index, record in enumerate(records):
    row_id = record.get("id", index)
    question, answer = record.get("question"), record.get("answer")
    if not isinstance(question, str) or not question.strip():
      raise ValueError(f"code row {row_id!r} has no non-empty text field 'question'")
    if not isinstance(answer, str):
      raise ValueError(f"code row {row_id!r}: field 'answer' holds {answer!r:.80}; expected a test spec "
                       "as JSON text")
    try:
      parse_spec(answer)
    except ValueError as e:
      raise ValueError(f"code row {row_id!r}: {e}") from None
    rows.append({"question": question.strip(), "answer": answer, "id": str(row_id)})
  return rows


BENCHMARKS: Registry[BenchmarkFormat] = Registry("benchmark")
for _name, _format in (
    ("aime24", BenchmarkFormat()),
    ("aime25", BenchmarkFormat()),
    ("amc23", BenchmarkFormat()),
    ("math500", BenchmarkFormat(solution_fields=SOLUTION_FIELDS)),
    ("minerva_math", BenchmarkFormat(solution_fields=SOLUTION_FIELDS)),
    ("olympiadbench", BenchmarkFormat(answer_fields=("final_answer",) + ANSWER_FIELDS, list_answers=True,
                                      solution_fields=SOLUTION_FIELDS)),
    ("builtin", BenchmarkFormat(question_fields=("question",), answer_fields=("answer",),
                                default_path=_builtin_heldout)),
    ("humaneval", BenchmarkFormat(convert=code_benchmarks.humaneval_rows, majority_vote=False)),
    ("mbpp", BenchmarkFormat(convert=code_benchmarks.mbpp_rows, majority_vote=False)),
    ("livecodebench", BenchmarkFormat(convert=code_benchmarks.livecodebench_rows, majority_vote=False)),
    ("builtin_code", BenchmarkFormat(convert=code_rows, default_path=_builtin_code_heldout, majority_vote=False)),
):
  BENCHMARKS.register(_name)(_format)


@dataclasses.dataclass(frozen=True)
class Benchmark:
  """A loaded benchmark: its rows (row_id = position in the file, which seeds each prompt's samples)
  and one problem id per row (the file's id field, else the row position); `majority_vote` as in its
  `BenchmarkFormat` (False: maj@k is undefined and must not be reported)."""

  name: str
  path: str
  rows: tuple[PromptRow, ...]
  ids: tuple[str, ...]
  majority_vote: bool = True

  def __len__(self) -> int:
    return len(self.rows)


@dataclasses.dataclass(frozen=True)
class BenchmarkSpec:
  """One `name=path` entry of a benchmark list; path None = the benchmark's default file."""

  name: str
  path: str | None


def parse_benchmark_specs(text: str, *, field: str) -> tuple[BenchmarkSpec, ...]:
  """'builtin,math500=/data/math500.jsonl' -> specs; `field` names the flag or config field in errors."""
  specs, seen = [], set()
  for entry in (e.strip() for e in text.split(",")):
    if not entry:
      continue
    name, sep, path = entry.partition("=")
    name, path = name.strip(), path.strip()
    benchmark_format = BENCHMARKS.get(name, field=field)
    if sep and not path:
      raise ValueError(f"{field}={text!r}: entry {entry!r} has an empty path")
    if not sep and benchmark_format.default_path is None:
      raise ValueError(f"{field}={text!r}: benchmark {name!r} has no built-in file; write it as {name}=PATH")
    if name in seen:
      raise ValueError(f"{field}={text!r}: benchmark {name!r} is listed twice")
    seen.add(name)
    specs.append(BenchmarkSpec(name=name, path=path or None))
  return tuple(specs)


def read_records(path: str) -> Iterator[tuple[str, Any]]:
  """(where, record) for every record of a .jsonl, .json (array or one object per line) or .parquet file."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f"benchmark file {path!r} does not exist")
  if path.endswith(".parquet"):
    import pyarrow.parquet as pq

    for index, record in enumerate(pq.read_table(path).to_pylist()):
      yield f"{path}:row {index}", record
    return
  if not path.endswith((".jsonl", ".json")):
    raise ValueError(f"benchmark file {path!r}: unsupported extension; use .jsonl, .json or .parquet")
  with open(path, encoding="utf-8") as f:
    text = f.read()
  if path.endswith(".json") and text.lstrip().startswith("["):
    try:
      records = json.loads(text)
    except json.JSONDecodeError as e:
      raise ValueError(f"{path}: invalid JSON array ({e.msg} at line {e.lineno})") from None
    for index, record in enumerate(records):
      yield f"{path}:item {index}", record
    return
  for line_number, line in enumerate(text.splitlines(), start=1):
    if line.strip():
      try:
        yield f"{path}:{line_number}", json.loads(line)
      except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{line_number}: invalid JSON ({e.msg} at column {e.colno})") from None


def _first(record: dict, fields: Sequence[str]) -> tuple[str, Any] | None:
  for field in fields:
    if record.get(field) is not None:
      return field, record[field]
  return None


def _answer_text(value: Any, *, list_answers: bool, where: str, field: str) -> str:
  """An answer as text: numbers without a spurious '.0', `$...$` unwrapped, list parts joined."""
  if isinstance(value, (list, tuple)) and list_answers:
    if not value:
      raise ValueError(f"{where}: field {field!r} is an empty list")
    return ", ".join(_answer_text(v, list_answers=False, where=where, field=field) for v in value)
  if isinstance(value, bool) or not isinstance(value, (str, int, float)):
    raise ValueError(f"{where}: field {field!r} holds {value!r}; expected text or a number")
  if isinstance(value, float):
    if not math.isfinite(value):
      raise ValueError(f"{where}: field {field!r} holds {value!r}; expected a finite number")
    text = str(int(value)) if value.is_integer() else repr(value)
  else:
    text = str(value).strip()
  if len(text) >= 2 and text.startswith("$") and text.endswith("$"):
    text = text.strip("$").strip()
  if not text:
    raise ValueError(f"{where}: field {field!r} is empty")
  return text


def normalize_record(record: Any, benchmark_format: BenchmarkFormat, *, where: str) -> tuple[str, str, str | None]:
  """(question, answer, problem id or None) of one record, or ValueError naming `where` and the fields."""
  if not isinstance(record, dict):
    raise ValueError(f"{where}: row is a {type(record).__name__}, not an object")
  question = _first(record, benchmark_format.question_fields)
  if question is None or not isinstance(question[1], str) or not question[1].strip():
    raise ValueError(f"{where}: row has no non-empty text field {' / '.join(benchmark_format.question_fields)}")
  answer = _first(record, benchmark_format.answer_fields)
  if answer is not None:
    answer_text = _answer_text(answer[1], list_answers=benchmark_format.list_answers, where=where, field=answer[0])
  else:
    solution = _first(record, benchmark_format.solution_fields)
    if solution is None:
      fields = benchmark_format.answer_fields + benchmark_format.solution_fields
      raise ValueError(f"{where}: row has none of the answer fields {' / '.join(fields)}")
    text = solution[1][-1] if isinstance(solution[1], list) and solution[1] else solution[1]
    boxed = last_boxed(text) if isinstance(text, str) else None
    if boxed is None:
      raise ValueError(f"{where}: row has no answer field and its {solution[0]!r} has no \\boxed{{}} answer")
    answer_text = boxed
  problem_id = _first(record, benchmark_format.id_fields)
  return question[1].strip(), answer_text, None if problem_id is None else str(problem_id[1])


def load_benchmark(spec: BenchmarkSpec) -> Benchmark:
  """Reads and normalizes every row of the spec's file (its default file when no path is given)."""
  benchmark_format = BENCHMARKS.get(spec.name, field="benchmark")
  path = spec.path if spec.path is not None else benchmark_format.default_path()
  rows, ids = [], []
  if benchmark_format.convert is not None:
    located = list(read_records(path))
    for where, record in located:
      if not isinstance(record, dict):
        raise ValueError(f"{where}: row is a {type(record).__name__}, not an object")
    try:
      converted = benchmark_format.convert([record for _, record in located])
    except ValueError as e:
      raise ValueError(f"{path}: {e}") from None
    if len(converted) != len(located):  # row ids index the file: one row per record, in order
      raise ValueError(f"benchmark {spec.name!r}: its converter made {len(converted)} rows of the "
                       f"{len(located)} records of {path!r}")
    for row_id, ((where, _), row) in enumerate(zip(located, converted)):
      rows.append(PromptRow(question=row["question"], answer=row["answer"], row_id=row_id, where=where))
      ids.append(row["id"])
  else:
    for row_id, (where, record) in enumerate(read_records(path)):
      question, answer, problem_id = normalize_record(record, benchmark_format, where=where)
      rows.append(PromptRow(question=question, answer=answer, row_id=row_id, where=where))
      ids.append(problem_id if problem_id is not None else str(row_id))
  if not rows:
    raise ValueError(f"benchmark {spec.name!r}: file {path!r} holds no rows")
  duplicates = sorted(i for i, count in collections.Counter(ids).items() if count > 1)
  if duplicates:
    raise ValueError(f"benchmark {spec.name!r}: file {path!r} repeats problem id(s) {duplicates[:5]}")
  return Benchmark(name=spec.name, path=path, rows=tuple(rows), ids=tuple(ids),
                   majority_vote=benchmark_format.majority_vote)


def write_rows(benchmark: Benchmark, path: str) -> None:
  """Normalized rows as JSONL {"id", "question", "answer"}, readable by the standard prompt pipeline."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    for problem_id, row in zip(benchmark.ids, benchmark.rows):
      f.write(json.dumps({"id": problem_id, "question": row.question, "answer": row.answer}) + "\n")


def load_benchmarks(text: str, *, field: str) -> tuple[Benchmark, ...]:
  """Parses a 'name[=path],...' list and loads every benchmark; errors name `field` and its value."""
  specs = parse_benchmark_specs(text, field=field)
  try:
    return tuple(load_benchmark(spec) for spec in specs)
  except FileNotFoundError as e:
    raise FileNotFoundError(f"{field}={text!r}: {e}") from None
  except ValueError as e:
    raise ValueError(f"{field}={text!r}: {e}") from None
