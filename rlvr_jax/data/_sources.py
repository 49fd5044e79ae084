"""Reading prompt rows from local JSONL / Parquet files, with row validation.

A malformed row either stops the run with the file and line that caused it (the default: a silently
shrinking dataset hides data bugs), or is skipped and counted when the config asks for it. Malformed:
not an object, no (or a null, empty or non-text) question, no usable answer, invalid JSON, not UTF-8,
or over the row limit in bytes. Files are read record by record in bounded memory
(`rlvr_jax.data._record_readers`); a file without a single record is an error either way.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterator, Sequence

from rlvr_jax.data._record_readers import DataFileError, RowLimit, read_records
from rlvr_jax.data._templates import Question

# What load_rows allows a row when its caller gives no limit (the pipeline derives one from
# data.max_prompt_length: `rlvr_jax.data._pipeline.row_limits`).
DEFAULT_ROW_LIMIT = RowLimit(32 << 20, "load_rows' default")


@dataclasses.dataclass(frozen=True)
class PromptRow:
  """One dataset row.

  Attributes:
    question: text, or chat messages [{"role", "content"}, ...].
    answer: the reference answer, as text.
    row_id: position of the row among all records of the files (malformed ones included), so it is
      stable across runs and across filtering settings; used to fold per-prompt PRNG keys.
    where: "file:line" (or "file:row N" for Parquet) for error messages.
  """

  question: Question
  answer: str
  row_id: int
  where: str


@dataclasses.dataclass
class LoadCounts:
  """What loading saw: records read, malformed rows skipped, and (after tokenizing) over-long drops."""

  records: int = 0
  malformed: int = 0
  too_long: int = 0
  kept: int = 0

  def as_dict(self) -> dict[str, int]:
    return dataclasses.asdict(self)


def _lookup(record: dict, field: str) -> Any:
  """`field` may be dotted to reach nested values (verl parquet: 'reward_model.ground_truth').

  A null counts as absent: Parquet stores a field that some rows lack as a null column, and treating
  it as missing lets a fallback field name take over and gives the same error as in JSONL.
  """
  value: Any = record
  for part in field.split("."):
    if not isinstance(value, dict) or value.get(part) is None:
      raise KeyError(field)
    value = value[part]
  return value


def _first_present(record: dict, fields: Sequence[str]) -> Any:
  for field in fields:
    try:
      return _lookup(record, field)
    except KeyError:
      continue
  raise KeyError(fields[0] if len(fields) == 1 else " / ".join(fields))


def _validate(record: Any, question_fields: Sequence[str], answer_field: str) -> tuple[Question, str]:
  """(question, answer) of a record, or ValueError saying what is wrong with it."""
  if not isinstance(record, dict):
    raise ValueError(f"row is a {type(record).__name__}, not an object")
  try:
    question = _first_present(record, question_fields)
  except KeyError as e:
    raise ValueError(f"row has no field {e.args[0]!r}") from None
  try:
    answer = _lookup(record, answer_field)
  except KeyError:
    raise ValueError(f"row has no field {answer_field!r}") from None
  if isinstance(question, str):
    if not question.strip():
      raise ValueError("row has an empty question")
  elif isinstance(question, (list, tuple)) and question and all(
      isinstance(m, dict) and isinstance(m.get("content"), str) for m in question):
    question = [dict(m) for m in question]
    if not any(m.get("role") == "user" for m in question):
      raise ValueError("row's chat-message question has no 'user' message")
  else:
    raise ValueError(f"row's question must be text or chat messages, got {type(question).__name__}")
  if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
    raise ValueError(f"row's answer {answer!r} must be text or a number")
  answer = str(answer)
  if not answer.strip():
    raise ValueError("row has an empty answer")
  return question, answer


def _records(path: str, limit: RowLimit, columns: Sequence[str]) -> Iterator[tuple[str, Any]]:
  if not os.path.exists(path):
    raise FileNotFoundError(f"data file {path!r} does not exist")
  if not path.endswith((".jsonl", ".json", ".parquet")):
    raise DataFileError(f"data file {path!r}: unsupported extension; use .jsonl, .json or .parquet")
  return read_records(path, limit, columns=columns)


def load_rows(files: Sequence[str], *, question_field: str | Sequence[str] = "question",
              answer_field: str = "answer", skip_malformed: bool = False,
              counts: LoadCounts | None = None, row_limit: RowLimit = DEFAULT_ROW_LIMIT) -> list[PromptRow]:
  """Valid rows of `files`, in file order.

  Args:
    question_field: a field name, or names tried in order (the first present is used).
    skip_malformed: False raises DataFileError("file:line: row has no field 'answer'") at the first bad
      row; True skips bad rows and counts them in `counts.malformed`.
    counts: updated in place (records, malformed).
    row_limit: the most bytes a row may take (a longer JSONL line is never read whole).
  """
  if isinstance(files, str):
    files = [files]
  if not files:
    raise ValueError("data files: the list is empty")
  question_fields = (question_field,) if isinstance(question_field, str) else tuple(question_field)
  columns = [field.split(".")[0] for field in (*question_fields, answer_field)]
  counts = counts if counts is not None else LoadCounts()
  rows: list[PromptRow] = []
  for path in files:
    path = os.fspath(path)
    first = counts.records
    for where, record in _records(path, row_limit, columns):
      row_id = counts.records
      counts.records += 1
      try:
        if isinstance(record, ValueError):
          raise record
        question, answer = _validate(record, question_fields, answer_field)
      except ValueError as e:
        if not skip_malformed:
          raise DataFileError(f"{where}: {e}") from None
        counts.malformed += 1
        continue
      rows.append(PromptRow(question=question, answer=answer, row_id=row_id, where=where))
    if counts.records == first:
      raise DataFileError(f"data file {path!r} has no rows (it is empty or holds only whitespace)")
  return rows
