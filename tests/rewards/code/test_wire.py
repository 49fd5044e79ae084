"""The strict wire format: exact encodings, builtin-only decoding, and refusal of anything malformed."""

from __future__ import annotations

import collections
import enum
import math
import random

import pytest

from rlvr_jax.rewards.code import _wire as wire

CAP = 1 << 20


@pytest.mark.parametrize("value, encoded", [
    (None, b"N"), (True, b"T"), (False, b"F"),
    (0, b"i\x01\x00"), (127, b"i\x01\x7f"), (128, b"i\x02\x80\x00"), (-1, b"i\x01\xff"), (-129, b"i\x02\x7f\xff"),
    (1.5, b"f\x00\x00\x00\x00\x00\x00\xf8\x3f"),
    ("hé", b"s\x03h\xc3\xa9"), (b"\x00", b"b\x01\x00"), (bytearray(b"a"), b"y\x01a"),
    ([1, "a"], b"l\x02i\x01\x01s\x01a"), ((), b"t\x00"), ({"k": None}, b"d\x01s\x01kN"),
    ("x" * 200, b"s\xc8\x01" + b"x" * 200),  # a two-byte varint length: 200 = 0x48 | 0x80, 0x01
])
def test_hand_computed_encodings(value, encoded):
  assert wire.encode(value, max_bytes=CAP) == encoded
  decoded = wire.decode(encoded)
  assert decoded == value and type(decoded) is type(value)


def test_round_trip_keeps_builtin_types_exactly():
  value = {"ints": [0, -(10 ** 5000), 2 ** 64], "floats": (math.inf, -0.0, 1e-300), "nan": math.nan,
           "complex": 1 - 2j, "sets": {frozenset({1, (2, 3)}), None}, "nested": [[[["deep"]]]], 3: b"\xff",
           "surrogate": "\udcff"}
  decoded = wire.decode(wire.encode(value, max_bytes=CAP))
  assert math.isnan(decoded.pop("nan")) and math.isnan(value.pop("nan"))
  assert decoded == value
  assert type(decoded["floats"]) is tuple and type(next(iter(decoded["sets"] - {None}))) is frozenset


def test_subclasses_cross_as_their_builtin_value():
  """A subclass is read through the builtin's own methods: its overrides play no part."""

  class Liar(int):
    def __eq__(self, other):
      return True

    __hash__ = int.__hash__

  class Color(enum.IntEnum):
    RED = 3

  class Text(str):
    def __str__(self):
      return "lie"

  point = collections.namedtuple("Point", "x y")(1, 2)
  ordered = collections.OrderedDict(a=1)
  for value, plain in ((Liar(5), 5), (Color.RED, 3), (Text("truth"), "truth"), (point, (1, 2)),
                       (ordered, {"a": 1}), (collections.Counter("aa"), {"a": 2})):
    decoded = wire.decode(wire.encode(value, max_bytes=CAP))
    assert decoded == plain and type(decoded) is type(plain)


def test_other_objects_need_a_reference():
  class Thing:
    pass

  thing = Thing()
  with pytest.raises(wire.WireError, match="a Thing object cannot be sent"):
    wire.encode([thing], max_bytes=CAP)
  encoded = wire.encode([thing, thing], max_bytes=CAP, reference=lambda obj: 7)
  assert encoded == b"l\x02r\x07r\x07"
  assert wire.decode(encoded, resolve=lambda ref: ("ref", ref)) == [("ref", 7), ("ref", 7)]
  with pytest.raises(wire.WireError, match="references are not accepted"):
    wire.decode(encoded)


@pytest.mark.parametrize("build, max_bytes, message", [
    (lambda: _cycle(), CAP, "contains itself"),
    (lambda: _nested(wire.MAX_DEPTH + 2), CAP, "nested deeper"),
    (lambda: "x" * 100, 64, "longer than 64 bytes"),
    (lambda: _shared(40), CAP, "longer than"),  # 2**40 leaves through shared references
])
def test_encoding_refusals(build, max_bytes, message):
  with pytest.raises(wire.WireError, match=message):
    wire.encode(build(), max_bytes=max_bytes)


def _cycle():
  x = [1]
  x.append(x)
  return x


def _nested(depth):
  x = []
  for _ in range(depth):
    x = [x]
  return x


def _shared(levels):
  x = [0]
  for _ in range(levels):
    x = [x, x]
  return x


@pytest.mark.parametrize("data, message", [
    (b"", "truncated"), (b"Q", "unknown tag"), (b"i\x05\x01", "truncated"), (b"s\x02\xff\xfe", "UTF-8"),
    (b"NN", "trailing bytes"), (b"l\x03N", "truncated"), (b"S\x01l\x00", "malformed container"),
    (b"d\x01l\x00N", "malformed container"), (b"l" + b"\xff" * 11, "varint too long"),
    (b"l\x01" * (wire.MAX_DEPTH + 1) + b"N", "nested deeper"), (b"i\x80\x80\x80\x80\x10", "truncated"),
])
def test_malformed_bytes_are_refused(data, message):
  with pytest.raises(wire.WireError, match=message):
    wire.decode(data)


def test_random_and_mutated_bytes_only_ever_raise_wire_error():
  """Property: any bytes decode to builtin data or raise WireError, never anything else."""
  rng = random.Random(0)
  seeds = [wire.encode(v, max_bytes=CAP) for v in ([1, "a", {2: (3.0, None)}], {"k": [b"x", {1, 2}]}, 10 ** 40)]
  allowed = (type(None), bool, int, float, complex, str, bytes, bytearray, list, tuple, set, frozenset, dict)
  for trial in range(3000):
    if trial % 2:
      data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
    else:
      data = bytearray(rng.choice(seeds))
      for _ in range(rng.randrange(1, 4)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    try:
      value = wire.decode(bytes(data))
    except wire.WireError:
      continue
    stack = [value]
    while stack:
      item = stack.pop()
      assert type(item) in allowed
      if type(item) is dict:
        stack += list(item.items())
      elif type(item) in (list, tuple, set, frozenset):
        stack += list(item)


def test_frames():
  frame = wire.frame(b"N")
  assert frame == b"\x00\x00\x00\x01N" and wire.frame_length(frame[:4]) == 1
