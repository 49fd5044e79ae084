"""Data files a careless user (or a broken download) hands the trainer: each fails with one message naming
the file and the line or row, in `validate` when the first bytes or the Parquet footer tell, else in the
data pipeline the loop runs before the weight load; under data.skip_malformed bad rows are counted
instead. A UTF-8 BOM is accepted and a JSON array is read. tests/data/test_record_readers.py covers the
readers themselves."""

import json
import os

import jax
import pytest

from rlvr_jax.config import ConfigError, validate
from rlvr_jax.data import prompt_pipeline
from rlvr_jax.data._record_readers import DataFileError
from rlvr_jax.embedded import builtin_tokenizer
from tests.reliability.conftest import config_with

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROWS = [{"question": f"Compute {i}+1.", "answer": str(i + 1)} for i in range(8)]


def _jsonl(rows) -> bytes:
  return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows).encode()


def _parquet(rows, path, schema=None) -> None:
  pq.write_table(pa.Table.from_pylist(rows, schema=schema), str(path))


def _good_parquet_truncated(path) -> None:
  _parquet(ROWS, path)
  os.truncate(path, os.path.getsize(path) // 2)


def _write(tmp_path, name, content):
  path = tmp_path / name
  if callable(content):
    content(path)
  else:
    path.write_bytes(content)
  return str(path)


def _pipeline(path, **fields):
  spec = validate(config_with(**{"data.train_files": path, **fields}), num_devices=1)
  return prompt_pipeline(spec.data.prompts((path,), prompts_per_batch=4, training=True), builtin_tokenizer())


@pytest.mark.parametrize("name, content, message", [
    ("empty.jsonl", b"", r"'.*empty\.jsonl' has no rows \(the file is empty or holds only whitespace\)"),
    ("blank.jsonl", b"  \n\n\t\n", r"'.*blank\.jsonl' has no rows"),
    ("random.jsonl", bytes(range(256)) * 40, r"'.*random\.jsonl' is binary \(a NUL byte at offset 0\), not UTF-8 "
                                             r"JSON Lines"),
    ("packed.jsonl", b"\x1f\x8b\x08\x00\x00", r"is gzip-compressed; decompress it first"),
    ("wide.jsonl", '{"question": "q", "answer": "1"}\n'.encode("utf-16"), r"is UTF-16 text; save it as UTF-8"),
    ("renamed.jsonl", b"PAR1....", r"is a Parquet file; give it the \.parquet extension"),
    ("zero.parquet", lambda p: _parquet(ROWS[:0], p), r"'.*zero\.parquet' has no rows \(a Parquet file of 0 rows\)"),
    ("nocol.parquet", lambda p: _parquet([{"problem": "q", "answer": "1"}], p),
     r"'.*nocol\.parquet' has no column 'question' for the question \(columns: problem, answer\); set "
     r"data\.question_field"),
    ("noanswer.parquet", lambda p: _parquet([{"question": "q", "solution": "1"}], p),
     r"has no column 'answer' for the answer \(columns: question, solution\); set data\.answer_field"),
    ("intq.parquet", lambda p: _parquet([{"question": 3, "answer": "1"}], p),
     r"column 'question' is int64; a question must be text or chat messages"),
    ("listanswer.parquet", lambda p: _parquet([{"question": "q", "answer": [1, 2]}], p),
     r"column 'answer' is list<element: int64>; an answer must be text or a number"),
    ("garbage.parquet", bytes(range(256)) * 20, r"'.*garbage\.parquet' is not a readable Parquet file "
                                                r"\(ArrowInvalid: .*\); it is damaged, truncated or not Parquet"),
    ("cut.parquet", _good_parquet_truncated, r"'.*cut\.parquet' is not a readable Parquet file"),
])
@pytest.mark.parametrize("field", ["data.train_files", "data.eval_files"])
def test_files_that_fail_validation(tmp_path, name, content, message, field):
  """What the first bytes or the Parquet footer show fails in `validate`, naming the field and file."""
  path = _write(tmp_path, name, content)
  with pytest.raises(ConfigError, match=rf"{field}='.*{name}': .*{message}"):
    validate(config_with(**{field: path}), num_devices=1)


@pytest.mark.parametrize("rows, message", [
    ([*ROWS, {"answer": "2"}], r"train\.jsonl:9: row has no field 'question'"),
    ([*ROWS, {"question": None, "answer": "2"}], r"train\.jsonl:9: row has no field 'question'"),
    ([*ROWS, {"question": 12, "answer": "2"}],
     r"train\.jsonl:9: row's question must be text or chat messages, got int"),
    ([*ROWS, {"question": ["a"], "answer": "2"}], r"train\.jsonl:9: row's question must be text or chat messages"),
    ([*ROWS, "[1, 2]"], r"train\.jsonl:9: row is a list, not an object"),
    ([*ROWS, '{"question": "q", "answer": "1"'], r"train\.jsonl:9: invalid JSON"),
    ([*ROWS, b'{"question": "caf\xe9", "answer": "1"}'.decode("latin-1")],
     r"train\.jsonl:9: not UTF-8 text \(byte 0xe9 at column 18\)"),
])
def test_malformed_rows_name_file_and_line_or_are_counted(tmp_path, rows, message):
  """Each bad row stops the run naming file and line (a ConfigError: the launcher's one line, exit code
  2); under data.skip_malformed it is skipped and counted. The latin-1 row is written as latin-1 bytes."""
  path = tmp_path / "train.jsonl"
  path.write_bytes(_jsonl(rows[:-1]) + (rows[-1].encode("latin-1") if isinstance(rows[-1], str) and "caf" in rows[-1]
                                        else _jsonl(rows[-1:])))
  with pytest.raises(DataFileError, match=message):
    _pipeline(str(path))
  counts = _pipeline(str(path), **{"data.skip_malformed": True}).counts
  assert (counts.records, counts.malformed, counts.kept) == (9, 1, 8)


@pytest.mark.parametrize("rows, message", [
    ([*ROWS, {"question": None, "answer": "1"}], r"bad\.parquet:row 8: row has no field 'question'"),
    ([*ROWS, {"question": "  ", "answer": "1"}], r"bad\.parquet:row 8: row has an empty question"),
    ([*ROWS, {"question": "q", "answer": None}], r"bad\.parquet:row 8: row has no field 'answer'"),
])
def test_parquet_rows_are_named_by_row(tmp_path, rows, message):
  path = tmp_path / "bad.parquet"
  _parquet(rows, path)
  with pytest.raises(DataFileError, match=message):
    _pipeline(str(path))
  assert _pipeline(str(path), **{"data.skip_malformed": True}).counts.malformed == 1


def test_damaged_parquet_page_names_the_row_even_when_skipping(tmp_path):
  """A Parquet file whose footer is intact but whose data is not: the reader's error names the file and
  the row it got to, and ends the file whatever data.skip_malformed says (nothing after it can be read)."""
  path = tmp_path / "damaged.parquet"
  pq.write_table(pa.Table.from_pylist([{"question": f"question number {i} " * 20, "answer": str(i)}
                                       for i in range(64)]), str(path), compression="snappy")
  data = bytearray(path.read_bytes())
  for offset in range(40, len(data) // 2, 7):  # scribble over the first column chunk, not the footer
    data[offset] ^= 0x5A
  path.write_bytes(bytes(data))
  validate(config_with(**{"data.train_files": str(path)}), num_devices=1)  # the footer reads fine
  for skip in (False, True):
    with pytest.raises(DataFileError, match=r"damaged\.parquet:row 0: the file cannot be read from this row on "
                                            r"\(.*\); it is damaged or truncated"):
      _pipeline(str(path), **{"data.skip_malformed": skip})


def test_random_binary_is_named_line_by_line_when_validation_is_bypassed(tmp_path):
  """Binary bytes the validate sniff does not see (no NUL in them): every line is a malformed row naming its
  file and line; skipping them all leaves nothing, which the error says with the counts."""
  path = tmp_path / "noise.jsonl"
  path.write_bytes(bytes(range(128, 256)) * 50 + b"\n" + bytes(range(200, 256)) * 10 + b"\n")
  with pytest.raises(DataFileError, match=r"noise\.jsonl:1: not UTF-8 text \(byte 0x80 at column 1\)"):
    _pipeline(str(path))
  with pytest.raises(DataFileError, match=r"no prompts left in .*noise\.jsonl \(counts: \{'records': 2, "
                                          r"'malformed': 2"):
    _pipeline(str(path), **{"data.skip_malformed": True})


def test_bom_and_json_array_are_read_like_jsonl(tmp_path):
  """A BOM is dropped; a JSON array (pretty-printed, as DeepScaleR's .json) gives the same prompts and row
  ids as the JSONL file, in the same order."""
  jsonl = tmp_path / "plain.jsonl"
  jsonl.write_bytes(_jsonl(ROWS))
  bom = tmp_path / "bom.jsonl"
  bom.write_bytes(b"\xef\xbb\xbf" + _jsonl(ROWS))
  array = tmp_path / "array.json"
  array.write_text(json.dumps(ROWS, indent=2))
  expected = next(_pipeline(str(jsonl)))
  for path in (bom, array):
    batch = next(_pipeline(str(path)))
    assert (batch.ids == expected.ids).all() and batch.answers == expected.answers


def test_oversized_row_is_named_or_counted(tmp_path):
  """A row over the byte limit (max_prompt_length x twice the longest token + 16 MiB) is an error naming
  file, line, size and how the limit is made up; skipped and counted under data.skip_malformed."""
  path = tmp_path / "big.jsonl"
  with open(path, "w") as f:
    f.write(_jsonl(ROWS).decode())
    f.write(json.dumps({"question": "x" * (17 << 20), "answer": "1"}) + "\n")
  with pytest.raises(DataFileError, match=r"big\.jsonl:9: row is 17825823 bytes, over the limit of 16788992 bytes "
                                          r"\(data\.max_prompt_length=128 tokens x 92 bytes, twice the tokenizer's "
                                          r"longest token, \+ 16 MiB for the answer and other fields\)"):
    _pipeline(str(path))
  counts = _pipeline(str(path), **{"data.skip_malformed": True}).counts
  assert (counts.malformed, counts.kept) == (1, 8)


def test_question_over_the_byte_bound_is_dropped_as_too_long_without_tokenizing(tmp_path, monkeypatch):
  """A question longer in bytes than max_prompt_length x twice the longest token cannot fit: it is counted
  as too long and never handed to the tokenizer (which is given only the prompts that may fit)."""
  path = tmp_path / "long.jsonl"
  path.write_bytes(_jsonl([*ROWS, {"question": "1+" * 100_000 + "1", "answer": "1"}]))
  tokenizer = builtin_tokenizer()
  lengths = []
  original = type(tokenizer).__call__

  def spy(self, texts, **kwargs):
    lengths.extend(len(t) for t in texts)
    return original(self, texts, **kwargs)

  monkeypatch.setattr(type(tokenizer), "__call__", spy)
  spec = validate(config_with(**{"data.train_files": str(path)}), num_devices=1)
  counts = prompt_pipeline(spec.data.prompts((str(path),), prompts_per_batch=4, training=True), tokenizer).counts
  assert (counts.too_long, counts.kept) == (1, 8)
  assert max(lengths) < 1000


@pytest.mark.parametrize("field, message", [
    ("data.eval_files", r"heldout\.jsonl:9: row has no field 'question'"),
    ("eval.benchmarks", r"eval\.benchmarks='math500=.*heldout\.jsonl': .*heldout\.jsonl:9: row has no non-empty text "
                        r"field"),
])
def test_bad_evaluation_rows_fail_before_the_model(tmp_path, monkeypatch, field, message):
  """The held-out rows and benchmark files are read in the data stage too, so a bad row there stops the run
  before the warm start or the weight load, not after them when the evaluator is built."""
  from rlvr_jax.train import _loop as loop

  def model_stage(*args, **kwargs):
    raise AssertionError("the model stage was reached")

  monkeypatch.setattr(loop, "ensure_policy", model_stage)
  monkeypatch.setattr(loop.models, "load_pretrained", model_stage)
  path = tmp_path / "heldout.jsonl"
  path.write_bytes(_jsonl([*ROWS, {"answer": "2"}]))
  value = str(path) if field == "data.eval_files" else f"math500={path}"
  spec = validate(config_with(**{field: value, "eval.every": 1, "train.run_dir": str(tmp_path / "run")}),
                  num_devices=1)
  with pytest.raises(DataFileError, match=message):
    loop.train(spec, devices=jax.devices()[:1])
