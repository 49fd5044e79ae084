"""The strict wire format between the judge and the candidate process (both sandboxed).

Grading must not depend on any object the candidate made: an object whose `__eq__` is always True,
a `str` subclass, or a patched `json` would decide a verdict if the tests touched it. So values cross
between the two processes only as bytes in this format, and the receiver rebuilds them from its own
builtin types: None, bool, int, float, complex, str, bytes, bytearray, list, tuple, set, frozenset and
dict, nothing else (no subclasses, no custom `__eq__`, nothing that runs code when compared). Any
other object stays in the process that owns it and crosses as a *reference* (a number), which the
judge wraps in an opaque proxy (_judge.py) that compares only by identity.

Decoding is iterative and bounded (depth `MAX_DEPTH`, the message's length), and every malformed
input -- unknown tags, truncated data, bad UTF-8, unhashable set members, trailing bytes -- raises
`WireError`, never anything else, so a hostile sender can only get its own value refused.

Encoding:  value  = tag payload
  N | T | F                     None, True, False
  i varint(n) n bytes           int, signed little-endian
  f 8 bytes | c 16 bytes        float, complex (IEEE little-endian)
  s | b | y varint(n) n bytes   str (UTF-8, surrogates passed), bytes, bytearray
  l | t | S | z varint(k) items list, tuple, set, frozenset of k values
  d varint(k) k key-value pairs dict
  r varint(id)                  reference to an object of the candidate process
A frame is a 4-byte big-endian length and one encoded value.

This file runs under the sandbox interpreter (Python >= 3.9, stdlib only) as well as in the trainer's
tests; it imports nothing of rlvr_jax.
"""

import struct

MAX_DEPTH = 200
_FLOAT, _COMPLEX, _LENGTH = struct.Struct("<d"), struct.Struct("<dd"), struct.Struct(">I")
_SCALARS = {None: b"N", True: b"T", False: b"F"}
_SEQUENCES = {list: b"l", tuple: b"t", set: b"S", frozenset: b"z"}
_BUILDERS = {ord("l"): list, ord("t"): tuple, ord("S"): set, ord("z"): frozenset}
# A subclass of a builtin crosses as its builtin value, read through the builtin's own methods (so
# an overridden __iter__ / __str__ / __eq__ of the subclass plays no part).
_BASES = ((int, int.__index__), (float, float.__float__),
          (complex, lambda v: complex(complex.real.__get__(v), complex.imag.__get__(v))),
          (str, str.__str__), (bytes, lambda v: bytes.__getitem__(v, slice(None))),
          (bytearray, lambda v: bytearray(bytes(memoryview(v)))),
          (list, list), (tuple, tuple), (frozenset, frozenset), (set, set), (dict, dict))


class WireError(ValueError):
  """A value that cannot be encoded, or bytes that are not a well-formed encoding."""


def _varint(n, out):
  while n >= 0x80:
    out.append((n & 0x7F) | 0x80)
    n >>= 7
  out.append(n)


def _builtin_value(value):
  """`value` itself when its type is a supported builtin, its builtin copy for a subclass, else None
  (and a flag saying whether it was supported)."""
  kind = type(value)
  if kind in (int, float, complex, str, bytes, bytearray, list, tuple, set, frozenset, dict, bool):
    return value, True
  for base, convert in _BASES:
    if issubclass(kind, base):
      try:
        if base in (list, tuple, set, frozenset):
          return base(base.__iter__(value)), True
        if base is dict:
          return dict(dict.items(value)), True
        return convert(value), True
      except Exception:  # noqa: BLE001 -- a subclass whose builtin data cannot be read
        return None, False
  return None, False


def encode(value, *, max_bytes, reference=None):
  """The encoding of `value` (at most `max_bytes` long).

  Args:
    reference: object -> reference id (int) for an object that is not builtin data, or None when
      it cannot cross (then encoding raises WireError). Without it only builtin data crosses.

  Raises:
    WireError: a cycle, nesting deeper than MAX_DEPTH, more than `max_bytes`, or an object that
      can neither be encoded nor referenced.
  """
  out = bytearray()
  stack = [(value, 0)]
  path = []  # ids of the containers being encoded (a cycle is a container inside itself)
  while stack:
    item, depth = stack.pop()
    if item is _EXIT:
      path.pop()
      continue
    if len(out) > max_bytes:
      raise WireError(f"value longer than {max_bytes} bytes")
    if depth > MAX_DEPTH:
      raise WireError(f"value nested deeper than {MAX_DEPTH}")
    if item is None or item is True or item is False:
      out += _SCALARS[item]
      continue
    data, supported = _builtin_value(item)
    if not supported:
      ref = reference(item) if reference is not None else None
      if ref is None:
        raise WireError(f"a {type(item).__name__} object cannot be sent")
      out += b"r"
      _varint(ref, out)
      continue
    kind = type(data)
    if kind is int:
      size = (data + (data < 0)).bit_length() // 8 + 1
      out += b"i"
      _varint(size, out)
      out += data.to_bytes(size, "little", signed=True)
    elif kind is float:
      out += b"f" + _FLOAT.pack(data)
    elif kind is complex:
      out += b"c" + _COMPLEX.pack(data.real, data.imag)
    elif kind in (str, bytes, bytearray):
      raw = data.encode("utf-8", "surrogatepass") if kind is str else bytes(data)
      out += b"s" if kind is str else b"b" if kind is bytes else b"y"
      _varint(len(raw), out)
      out += raw
    else:
      if id(item) in path:
        raise WireError("value contains itself")
      members = list(data.items()) if kind is dict else list(data)
      out += b"d" if kind is dict else _SEQUENCES[kind]
      _varint(len(members), out)
      path.append(id(item))
      stack.append((_EXIT, depth))
      if kind is dict:
        for key, member in reversed(members):
          stack.append((member, depth + 1))
          stack.append((key, depth + 1))
      else:
        stack.extend((member, depth + 1) for member in reversed(members))
  if len(out) > max_bytes:
    raise WireError(f"value longer than {max_bytes} bytes")
  return bytes(out)


_EXIT = object()


class _Reader:
  __slots__ = ("data", "pos")

  def __init__(self, data):
    self.data, self.pos = data, 0

  def take(self, n):
    end = self.pos + n
    if n < 0 or end > len(self.data):
      raise WireError("truncated value")
    chunk = self.data[self.pos:end]
    self.pos = end
    return chunk

  def varint(self):
    shift = result = 0
    while True:
      if self.pos >= len(self.data):
        raise WireError("truncated value")
      byte = self.data[self.pos]
      self.pos += 1
      result |= (byte & 0x7F) << shift
      if not byte & 0x80:
        return result
      shift += 7
      if shift > 63:
        raise WireError("varint too long")


def _finish(kind, items):
  try:
    if kind == ord("d"):
      result = {}
      for i in range(0, len(items), 2):
        result[items[i]] = items[i + 1]
      return result
    return _BUILDERS[kind](items)
  except TypeError as e:  # an unhashable set member or dict key
    raise WireError(f"malformed container: {e}") from None


def decode(data, *, resolve=None):
  """The value `data` encodes, built from fresh builtin objects.

  Args:
    resolve: reference id -> object for `r` tags (None: references are refused).

  Raises:
    WireError: for any malformed input.
  """
  reader = _Reader(bytes(data))
  stack = []  # [kind, remaining count, items]
  while True:
    tag = reader.take(1)[0]
    if tag in (78, 84, 70):  # N T F
      value = {78: None, 84: True, 70: False}[tag]
    elif tag == ord("i"):
      value = int.from_bytes(reader.take(reader.varint()), "little", signed=True)
    elif tag == ord("f"):
      value = _FLOAT.unpack(reader.take(8))[0]
    elif tag == ord("c"):
      value = complex(*_COMPLEX.unpack(reader.take(16)))
    elif tag in (ord("s"), ord("b"), ord("y")):
      raw = reader.take(reader.varint())
      if tag == ord("s"):
        try:
          value = raw.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
          raise WireError("malformed UTF-8 in a str") from None
      else:
        value = raw if tag == ord("b") else bytearray(raw)
    elif tag == ord("r"):
      ref = reader.varint()
      if resolve is None:
        raise WireError("references are not accepted here")
      value = resolve(ref)
    elif tag in _BUILDERS or tag == ord("d"):
      count = reader.varint() * (2 if tag == ord("d") else 1)
      if count > len(reader.data) - reader.pos:  # every member takes at least one byte
        raise WireError("truncated value")
      if len(stack) >= MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH}")
      if count:
        stack.append([tag, count, []])
        continue
      value = _finish(tag, [])
    else:
      raise WireError(f"unknown tag {tag!r}")
    while stack:  # attach the value to its container, closing every container that is now full
      frame = stack[-1]
      frame[2].append(value)
      frame[1] -= 1
      if frame[1]:
        break
      stack.pop()
      value = _finish(frame[0], frame[2])
    else:
      if reader.pos != len(reader.data):
        raise WireError("trailing bytes after the value")
      return value


def frame(payload):
  """A length-prefixed frame holding an encoded value."""
  return _LENGTH.pack(len(payload)) + payload


def frame_length(header):
  return _LENGTH.unpack(header)[0]
