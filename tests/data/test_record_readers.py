"""The bounded record readers: JSON Lines with a BOM, blank lines and over-long lines; JSON arrays decoded
element by element (whatever the chunk size); Parquet a batch at a time; the cheap file checks."""

from __future__ import annotations

import json
import random

import pytest

from rlvr_jax.data import _record_readers as record_readers
from rlvr_jax.data._record_readers import DataFileError, RowLimit, check_data_file, read_records

LIMIT = RowLimit(1 << 20, "test limit")


def _values(path, limit=LIMIT, columns=None):
  return [value for _, value in read_records(str(path), limit, columns=columns)]


def test_jsonl_with_bom_blank_lines_and_crlf(tmp_path):
  path = tmp_path / "d.jsonl"
  path.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n\r\n  \n{"a": 2}')
  assert [(where.rsplit(":", 1)[1], value) for where, value in read_records(str(path), LIMIT)] == [
      ("1", {"a": 1}), ("4", {"a": 2})]


def test_jsonl_line_over_the_limit_is_reported_and_skipped_in_bounded_reads(tmp_path):
  """The 5000-byte line is reported with its size (read in chunks past the limit), the next line is read."""
  path = tmp_path / "d.jsonl"
  path.write_text(json.dumps({"q": "x" * 5000}) + "\n" + json.dumps({"q": "y"}) + "\n")
  records = list(read_records(str(path), RowLimit(100, "a small limit")))
  assert isinstance(records[0][1], ValueError)
  assert str(records[0][1]) == "row is 5009 bytes, over the limit of 100 bytes (a small limit)"
  assert records[1] == (f"{path}:2", {"q": "y"})


def test_jsonl_line_that_is_not_utf8_names_the_byte(tmp_path):
  path = tmp_path / "d.jsonl"
  path.write_bytes(b'{"q": "ok"}\n{"q": "caf\xe9"}\n')
  records = list(read_records(str(path), LIMIT))
  assert records[0][1] == {"q": "ok"}
  assert str(records[1][1]).startswith("not UTF-8 text (byte 0xe9 at column 11)")


@pytest.mark.parametrize("chunk", [3, 7, 64, 1 << 20])
def test_json_array_equals_json_load_whatever_the_chunk(tmp_path, monkeypatch, chunk):
  """Elements straddling chunk boundaries (numbers included, which raw_decode could end early) decode as
  json.load decodes the whole file; strings holding brackets, commas and escaped quotes too."""
  monkeypatch.setattr(record_readers, "_CHUNK", chunk)
  rng = random.Random(chunk)
  items = [{"question": f"[{i}], \"q\" {{x}}", "answer": rng.randint(0, 10 ** 12), "n": [1.5, None, True]}
           for i in range(20)] + [12345678901234567890, "text", [], {}]
  path = tmp_path / "d.json"
  path.write_text(" \n" + json.dumps(items, indent=1 if chunk % 2 else None) + "\n")
  assert _values(path) == json.loads(path.read_text())
  path.write_bytes(b"\xef\xbb\xbf" + json.dumps(items).encode())
  assert _values(path) == items


def test_json_array_locations_and_damage(tmp_path):
  path = tmp_path / "d.json"
  path.write_text('[\n  {"a": 1},\n  {"a": 2}\n]\n')
  assert [where for where, _ in read_records(str(path), LIMIT)] == [f"{path}:item 0 (line 2)",
                                                                       f"{path}:item 1 (line 3)"]
  path.write_text('[\n  {"a": 1},\n  {"a": \n]\n')
  with pytest.raises(DataFileError, match=r"d\.json:item 1 \(line 3\): invalid JSON"):
    _values(path)
  path.write_text('[{"a": 1} {"a": 2}]')
  with pytest.raises(DataFileError, match=r"expected ',' or '\]' after item 0"):
    _values(path)
  path.write_text('[{"a": 1}] [')
  with pytest.raises(DataFileError, match="text after the end of the JSON array"):
    _values(path)
  path.write_text("[]")
  assert _values(path) == []


def test_json_array_element_over_the_limit(tmp_path, monkeypatch):
  monkeypatch.setattr(record_readers, "_CHUNK", 64)
  path = tmp_path / "d.json"
  path.write_text(json.dumps([{"a": 1}, {"q": "x" * 1000}]))
  with pytest.raises(DataFileError, match=r"item 1 \(line 1\): row is over 200 bytes.*convert the file to JSON "
                                          r"Lines"):
    _values(path, RowLimit(200, "t"))


def test_parquet_reads_only_the_named_columns_in_batches(tmp_path, monkeypatch):
  pa = pytest.importorskip("pyarrow")
  pq = pytest.importorskip("pyarrow.parquet")
  monkeypatch.setattr(record_readers, "_PARQUET_BATCH_ROWS", 3)
  rows = [{"question": f"q{i}", "answer": i, "extra": "z" * 100} for i in range(10)]
  path = tmp_path / "d.parquet"
  pq.write_table(pa.Table.from_pylist(rows), str(path), row_group_size=4)
  assert _values(path, columns=["question", "answer"]) == [{"question": r["question"], "answer": r["answer"]}
                                                            for r in rows]
  records = list(read_records(str(path), RowLimit(50, "t")))  # all columns: 'extra' puts each row over 50 bytes
  assert records[9][0] == f"{path}:row 9" and str(records[9][1]).startswith("row is 110 bytes, over the limit")


@pytest.mark.parametrize("content, message", [
    (b"", r"has no rows \(the file is empty or holds only whitespace\)"),
    (b" \n\t\n" * 30000, r"has no rows"),
    (b"\xef\xbb\xbf\n", r"has no rows"),
    (b'{"q": 1}\n\x00\x01\x02', r"is binary \(a NUL byte at offset 9\)"),
    (b"\x1f\x8b\x08\x00rest", r"is gzip-compressed; decompress it first"),
    (b"PAR1\x00\x00", r"is a Parquet file; give it the \.parquet extension"),
    ("{}".encode("utf-16"), r"is UTF-16 text; save it as UTF-8"),
])
def test_cheap_checks_of_a_text_file(tmp_path, content, message):
  path = tmp_path / "d.jsonl"
  path.write_bytes(content)
  with pytest.raises(DataFileError, match=message):
    check_data_file(str(path))


def test_cheap_checks_pass_a_good_file(tmp_path):
  path = tmp_path / "d.json"
  path.write_text('\ufeff[{"question": "q", "answer": 1}]')
  check_data_file(str(path), question_fields=("question",), answer_field="answer")
