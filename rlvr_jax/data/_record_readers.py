"""Data files read record by record in bounded memory, and the cheap checks `validate` runs on them.

Formats: JSON Lines (`.jsonl`, or `.json` holding one object a line), a JSON array (`.json` whose first
character is `[`, as e.g. DeepScaleR ships; read element by element, never as one document) and Parquet
(read a batch at a time from each row group, only the columns the fields name). A UTF-8 byte-order mark
is accepted.

Memory: a JSONL line is read with a bounded `readline`, so a line longer than the row limit is never
held whole: it is skipped in 1 MiB chunks and reported as an oversized row (an error naming file and
line, or skipped and counted under data.skip_malformed). A JSON array element is decoded from a buffer
that may grow to the row limit, no further. Parquet is read a row group at a time (the unit the format
stores a column in), so the bound there is the writer's row-group size; rows over the limit are
reported like JSONL lines. The limit itself comes from the pipeline (`rlvr_jax.data._pipeline`).

A record is `(where, value)`: where is "file:line" ("file:row N" for Parquet, "file:item N (line L)" for
a JSON array) and value the decoded JSON value, or a ValueError saying what is wrong with that row
(invalid JSON, not UTF-8, over the limit). Damage that ends the file (truncated Parquet, invalid JSON
inside an array) raises `DataFileError` naming the file and position, whatever data.skip_malformed says.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
from typing import Any, Iterator, Sequence

from rlvr_jax.errors import ConfigError

BOM = codecs.BOM_UTF8
_CHUNK = 1 << 20  # bytes read at a time when skipping an oversized line or filling a JSON array buffer
_PARQUET_BATCH_ROWS = 256
_SNIFF_BYTES = 1 << 16
# Magic numbers of files that are often given a .jsonl / .json name by mistake.
_WRONG_FORMATS = ((b"PAR1", "a Parquet file; give it the .parquet extension"),
                  (b"\x1f\x8b", "gzip-compressed; decompress it first (gunzip)"),
                  (b"PK\x03\x04", "a zip archive; extract it first"),
                  (codecs.BOM_UTF16_LE, "UTF-16 text; save it as UTF-8"),
                  (codecs.BOM_UTF16_BE, "UTF-16 text; save it as UTF-8"))

Record = tuple[str, Any]


class DataFileError(ConfigError):
  """A data file, or a row of one, that cannot be used; the message names the file and the line or row.

  A ConfigError, so the launcher reports it in one line with exit code 2, before any weight is loaded."""


@dataclasses.dataclass(frozen=True)
class RowLimit:
  """The most bytes one row may take, and how that number was derived (quoted in the error)."""

  bytes: int
  why: str

  def message(self, size: int | str) -> str:
    return f"row is {size} bytes, over the limit of {self.bytes} bytes ({self.why})"


def read_records(path: str, limit: RowLimit, *, columns: Sequence[str] | None = None) -> Iterator[Record]:
  """Every record of `path` in file order (blank JSONL lines are skipped, but counted in line numbers).

  `columns`: the top-level Parquet columns to read (None = all); the other formats ignore it.
  """
  if path.endswith(".parquet"):
    return _parquet_records(path, limit, columns)
  if path.endswith(".json") and _first_character(path) == b"[":
    return _json_array_records(path, limit)
  return _jsonl_records(path, limit)


# --------------------------------------------------------------------------------------------------
# JSON Lines
# --------------------------------------------------------------------------------------------------


def _jsonl_records(path: str, limit: RowLimit) -> Iterator[Record]:
  with open(path, "rb") as f:
    number = 0
    while True:
      line = f.readline(limit.bytes + 1)
      if not line:
        return
      number += 1
      where = f"{path}:{number}"
      if len(line) > limit.bytes and not line.endswith(b"\n"):
        yield where, ValueError(limit.message(len(line) + _skip_line(f)))
        continue
      if number == 1 and line.startswith(BOM):
        line = line[len(BOM):]
      if not line.strip():
        continue
      try:
        text = line.decode("utf-8")
      except UnicodeDecodeError as e:
        yield where, ValueError(f"not UTF-8 text (byte 0x{line[e.start]:02x} at column {e.start + 1}); the file "
                                f"must be UTF-8 JSON Lines")
        continue
      try:
        yield where, json.loads(text)
      except json.JSONDecodeError as e:
        yield where, ValueError(f"invalid JSON ({e.msg} at column {e.colno})")


def _skip_line(f) -> int:
  """Reads past the rest of the current line in bounded chunks; returns its bytes skipped (the newline
  not counted)."""
  skipped = 0
  while True:
    chunk = f.readline(_CHUNK)
    if not chunk or chunk.endswith(b"\n"):
      return skipped + len(chunk.rstrip(b"\r\n"))
    skipped += len(chunk)


# --------------------------------------------------------------------------------------------------
# JSON array
# --------------------------------------------------------------------------------------------------


class _TextStream:
  """UTF-8 text of a binary file, decoded a chunk at a time (the BOM dropped)."""

  def __init__(self, f, path: str):
    self._f, self._path = f, path
    self._decoder = codecs.getincrementaldecoder("utf-8")()
    self._offset = 0
    self.eof = False
    head = f.read(len(BOM))
    self._pending = b"" if head == BOM else head

  def read(self) -> str:
    data = self._pending + self._f.read(_CHUNK)
    self._pending = b""
    self.eof = not data
    try:
      text = self._decoder.decode(data, final=self.eof)
    except UnicodeDecodeError as e:
      raise DataFileError(f"{self._path}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset "
                          f"{self._offset + e.start}); the file must be UTF-8 JSON") from None
    self._offset += len(data)
    return text


def _json_array_records(path: str, limit: RowLimit) -> Iterator[Record]:
  """Elements of a top-level JSON array, one at a time. An element is decoded from a buffer that grows to
  the row limit at most; an invalid or oversized element ends the file (an array cannot be resynchronized
  the way a JSONL file restarts at the next line), so it raises whatever data.skip_malformed says."""
  decoder = json.JSONDecoder()
  with open(path, "rb") as f:
    stream = _TextStream(f, path)
    buffer, pos, line, index = "", 0, 1, 0

    def fill(at_least: int = 1) -> None:
      nonlocal buffer
      while len(buffer) - pos < at_least and not stream.eof:
        buffer += stream.read()

    def skip_space() -> None:
      nonlocal pos, line
      while True:
        fill()
        start = pos
        while pos < len(buffer) and buffer[pos] in " \t\r\n":
          pos += 1
        line += buffer.count("\n", start, pos)
        if pos < len(buffer) or stream.eof:
          return

    skip_space()
    if buffer[pos:pos + 1] != "[":
      raise DataFileError(f"{path}: not a JSON array")
    pos += 1
    while True:
      skip_space()
      if buffer[pos:pos + 1] == "]" and index == 0:
        pos += 1
        break
      where = f"{path}:item {index} (line {line})"
      while True:  # decode one element, reading more while it is incomplete and under the limit
        try:
          value, end = decoder.raw_decode(buffer, pos)
          if end < len(buffer) or stream.eof:  # a number at the buffer's end may continue in the next chunk
            break
        except json.JSONDecodeError as e:
          if stream.eof:
            raise DataFileError(f"{where}: invalid JSON ({e.msg} at line {line + buffer.count(chr(10), pos, e.pos)}); "
                                f"the array cannot be read past it") from None
        if len(buffer) - pos > limit.bytes:
          raise DataFileError(f"{where}: {limit.message(f'over {limit.bytes}')}; an element of a JSON array cannot "
                              f"be skipped: convert the file to JSON Lines (jq -c '.[]') to skip such rows")
        fill(len(buffer) - pos + _CHUNK)
      size = end - pos
      if size * 4 > limit.bytes and len(buffer[pos:end].encode("utf-8")) > limit.bytes:
        value = ValueError(limit.message(len(buffer[pos:end].encode("utf-8"))))
      line += buffer.count("\n", pos, end)
      buffer, pos = buffer[end:], 0  # the decoded element is dropped from the buffer
      yield where, value
      index += 1
      skip_space()
      separator = buffer[pos:pos + 1]
      pos += 1
      if separator == "]":
        break
      if separator != ",":
        raise DataFileError(f"{path}:item {index} (line {line}): expected ',' or ']' after item {index - 1}, "
                            f"found {separator or 'the end of the file'!r}")
    skip_space()
    if pos < len(buffer):
      raise DataFileError(f"{path}: line {line}: text after the end of the JSON array")


def _first_character(path: str) -> bytes:
  """The first non-whitespace byte after a BOM (b"" for an empty or whitespace-only file)."""
  with open(path, "rb") as f:
    head = f.read(len(BOM))
    if head != BOM:
      f.seek(0)
    while True:
      chunk = f.read(_SNIFF_BYTES)
      if not chunk:
        return b""
      stripped = chunk.lstrip()
      if stripped:
        return stripped[:1]


# --------------------------------------------------------------------------------------------------
# Parquet
# --------------------------------------------------------------------------------------------------


def _parquet_module(path: str):
  try:
    import pyarrow.parquet as pq  # optional dependency, only needed for Parquet files
  except ImportError:
    raise ImportError(f"reading {path} needs pyarrow, which is not installed; `pip install pyarrow` "
                      "or convert the file to JSONL") from None
  return pq


def _open_parquet(path: str):
  pq = _parquet_module(path)
  try:
    return pq.ParquetFile(path)
  except Exception as e:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ... for damaged files
    raise DataFileError(f"{path!r} is not a readable Parquet file ({type(e).__name__}: {_first_line(e)}); it is "
                        f"damaged, truncated or not Parquet") from None


def _parquet_records(path: str, limit: RowLimit, columns: Sequence[str] | None) -> Iterator[Record]:
  parquet = _open_parquet(path)
  names = parquet.schema_arrow.names
  selected = None if columns is None else [c for c in dict.fromkeys(columns) if c in names]
  index = 0
  batches = parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS, columns=selected)
  while True:
    try:
      batch = next(batches, None)
      records = [] if batch is None else batch.to_pylist()
    except Exception as e:  # noqa: BLE001 - a damaged page or column chunk, text that is not UTF-8
      raise DataFileError(f"{path}:row {index}: the file cannot be read from this row on ({type(e).__name__}: "
                          f"{_first_line(e)}); it is damaged or truncated") from None
    if batch is None:
      return
    for record in records:
      size = _value_bytes(record)
      yield f"{path}:row {index}", ValueError(limit.message(size)) if size > limit.bytes else record
      index += 1


def utf8_size(text: str) -> int:
  """len(text.encode("utf-8")) without the copy for ASCII text (a 100 MB question is not copied to measure it)."""
  return len(text) if text.isascii() else len(text.encode("utf-8"))


def _value_bytes(value: Any) -> int:
  """The UTF-8 size of the text in a decoded row (numbers count 8): what the row limit measures."""
  if isinstance(value, str):
    return utf8_size(value)
  if isinstance(value, dict):
    return sum(_value_bytes(v) for v in value.values())
  if isinstance(value, (list, tuple)):
    return sum(_value_bytes(v) for v in value)
  return len(value) if isinstance(value, (bytes, bytearray)) else 8


# --------------------------------------------------------------------------------------------------
# Cheap checks, for `validate`
# --------------------------------------------------------------------------------------------------


def check_data_file(path: str, *, question_fields: Sequence[str] = (), answer_field: str | None = None) -> None:
  """What can be told about `path` from its first bytes or its Parquet footer, without reading its rows:
  JSON text at all (not binary, compressed, UTF-16 or Parquet under another name), not empty; a Parquet
  file readable, with rows and with the question and answer columns, of usable types. Raises
  DataFileError naming the file."""
  if path.endswith(".parquet"):
    _check_parquet(path, question_fields, answer_field)
    return
  with open(path, "rb") as f:
    head = f.read(_SNIFF_BYTES)
  for magic, what in _WRONG_FORMATS:
    if head.startswith(magic):
      raise DataFileError(f"{path!r} is {what}; expected UTF-8 JSON Lines")
  if b"\0" in head:
    raise DataFileError(f"{path!r} is binary (a NUL byte at offset {head.index(bytes(1))}), not UTF-8 JSON Lines")
  if not _first_character(path):
    raise DataFileError(f"{path!r} has no rows (the file is empty or holds only whitespace)")


def _check_parquet(path: str, question_fields: Sequence[str], answer_field: str | None) -> None:
  parquet = _open_parquet(path)
  if parquet.metadata.num_rows == 0:
    raise DataFileError(f"{path!r} has no rows (a Parquet file of 0 rows)")
  schema = parquet.schema_arrow
  if question_fields:
    found = {field: _field_type(schema, field) for field in question_fields}
    if all(t is None for t in found.values()):
      raise DataFileError(f"{path!r} has no column {' / '.join(question_fields)!r} for the question (columns: "
                          f"{', '.join(schema.names)}); set data.question_field")
    for field, field_type in found.items():
      if field_type is not None and not _is_question_type(field_type):
        raise DataFileError(f"{path!r}: column {field!r} is {field_type}; a question must be text or chat "
                            f"messages (a list of {{role, content}})")
  if answer_field:
    field_type = _field_type(schema, answer_field)
    if field_type is None:
      raise DataFileError(f"{path!r} has no column {answer_field!r} for the answer (columns: "
                          f"{', '.join(schema.names)}); set data.answer_field")
    if not _is_answer_type(field_type):
      raise DataFileError(f"{path!r}: column {answer_field!r} is {field_type}; an answer must be text or a number")


def _field_type(schema, dotted: str):
  """The Arrow type of a dotted field ('reward_model.ground_truth' in a struct column), or None."""
  import pyarrow as pa

  first, *rest = dotted.split(".")
  if first not in schema.names:
    return None
  field_type = schema.field(first).type
  for part in rest:
    if not pa.types.is_struct(field_type) or field_type.get_field_index(part) < 0:
      return None
    field_type = field_type.field(part).type
  return field_type


def _is_text(field_type) -> bool:
  import pyarrow as pa

  return (pa.types.is_string(field_type) or pa.types.is_large_string(field_type)
          or pa.types.is_null(field_type) or getattr(pa.types, "is_string_view", lambda t: False)(field_type))


def _is_question_type(field_type) -> bool:
  import pyarrow as pa

  if _is_text(field_type):
    return True
  if pa.types.is_list(field_type) or pa.types.is_large_list(field_type):
    item = field_type.value_type
    return (pa.types.is_struct(item) and item.get_field_index("content") >= 0
            and _is_text(item.field("content").type))
  return False


def _is_answer_type(field_type) -> bool:
  import pyarrow as pa

  return (_is_text(field_type) or pa.types.is_integer(field_type) or pa.types.is_floating(field_type)
          or pa.types.is_decimal(field_type))


def _first_line(error: Exception) -> str:
  text = str(error).strip()
  return text.splitlines()[0][:300] if text else ""
