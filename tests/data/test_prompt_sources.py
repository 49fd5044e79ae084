"""Reading rows: malformed rows raise with file and line, or are skipped and counted; field options."""

from __future__ import annotations

import importlib.util
import json

import pytest

from rlvr_jax.data import LoadCounts, load_rows


def _write(path, lines):
  path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
  return str(path)


GOOD = {"question": "1+1?", "answer": "2"}


@pytest.mark.parametrize("bad_line, message", [
    ({"question": "q"}, "row has no field 'answer'"),
    ({"answer": "2"}, "row has no field 'question'"),
    ("{not json", "invalid JSON"),
    ("[1, 2]", "row is a list, not an object"),
    ({"question": "  ", "answer": "1"}, "empty question"),
    ({"question": "q", "answer": None}, "row has no field 'answer'"),  # null = absent (as in Parquet)
    ({"question": "q", "answer": [1]}, "answer \\[1\\] must be text or a number"),
    ({"question": 5, "answer": "1"}, "question must be text or chat messages"),
])
def test_malformed_row_raises_with_file_and_line(tmp_path, bad_line, message):
  """The error names the file and the 1-based line (blank lines counted) and what is wrong."""
  path = _write(tmp_path / "d.jsonl", [GOOD, "", bad_line, GOOD])
  with pytest.raises(ValueError, match=f"d.jsonl:3: .*{message}"):
    load_rows([path])


def test_skip_and_count(tmp_path):
  """skip_malformed keeps the valid rows and counts the bad ones; row ids count every record."""
  path = _write(tmp_path / "d.jsonl", [GOOD, {"question": "q"}, "{oops", {"question": "3+4?", "answer": 7}])
  counts = LoadCounts()
  rows = load_rows([path], skip_malformed=True, counts=counts)
  assert [(r.question, r.answer, r.row_id) for r in rows] == [("1+1?", "2", 0), ("3+4?", "7", 3)]
  assert (counts.records, counts.malformed) == (4, 2)
  assert rows[1].where.endswith("d.jsonl:4")


def test_row_ids_continue_across_files(tmp_path):
  """Row ids are positions over all files in order, so they are stable identifiers."""
  a = _write(tmp_path / "a.jsonl", [GOOD, GOOD])
  b = _write(tmp_path / "b.jsonl", [GOOD])
  assert [r.row_id for r in load_rows([a, b])] == [0, 1, 2]


def test_field_names_dotted_and_fallback(tmp_path):
  """Field names are configurable, dotted for nested values, and tried in order; chat messages allowed."""
  rows = [
      {"prompt": [{"role": "user", "content": "hi"}], "reward_model": {"ground_truth": "5"}},
      {"problem": "p?", "reward_model": {"ground_truth": 6}},
  ]
  path = _write(tmp_path / "verl.jsonl", rows)
  loaded = load_rows([path], question_field=("problem", "prompt"), answer_field="reward_model.ground_truth")
  assert loaded[0].question == [{"role": "user", "content": "hi"}] and loaded[0].answer == "5"
  assert loaded[1].question == "p?" and loaded[1].answer == "6"
  with pytest.raises(ValueError, match="row has no field 'problem / prompt'"):
    load_rows([_write(tmp_path / "x.jsonl", [{"q": "x", "reward_model": {"ground_truth": 1}}])],
              question_field=("problem", "prompt"), answer_field="reward_model.ground_truth")


def test_missing_file_and_bad_extension(tmp_path):
  """A missing file or an unsupported extension fails before anything is read."""
  with pytest.raises(FileNotFoundError, match="nope.jsonl"):
    load_rows([str(tmp_path / "nope.jsonl")])
  csv = tmp_path / "d.csv"
  csv.write_text("question,answer\n")
  with pytest.raises(ValueError, match="unsupported extension"):
    load_rows([str(csv)])
  with pytest.raises(ValueError, match="list is empty"):
    load_rows([])


def test_parquet(tmp_path):
  """Parquet rows load like JSONL when pyarrow is installed; otherwise the error says to install it."""
  path = tmp_path / "d.parquet"
  if importlib.util.find_spec("pyarrow") is None:
    path.write_bytes(b"PAR1")
    with pytest.raises(ImportError, match="needs pyarrow"):
      load_rows([str(path)])
  else:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([GOOD, {"question": "q"}]), str(path))
    with pytest.raises(ValueError, match="d.parquet:row 1: row has no field 'answer'"):
      load_rows([str(path)])
    assert [r.answer for r in load_rows([str(path)], skip_malformed=True)] == ["2"]
