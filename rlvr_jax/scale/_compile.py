"""Lowers and compiles one program for the mesh's devices and reads XLA's per-device memory analysis.

A program that cannot fit is a result, not a crash: libtpu refuses to compile it with RESOURCE_EXHAUSTED
("the total memory required for HLO temporaries (128.48G) exceeds available HBM (95.74G)"), and the
figures in that message are what the check reports.

Results can be kept in a cache directory, keyed by a hash of the lowered program's text and the target
devices: configs whose programs are identical (same model, shapes, mesh and objective terms) compile once
between them (docs/scale.md's table is built that way).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import time
from typing import Callable

import jax

_SIZE = r"([0-9.]+)([KMGT]?)"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
# libtpu's messages for a program over HBM (0.0.42); either gives the bytes needed and the bytes available.
_OOM_PATTERNS = (
    re.compile(r"required for HLO temporaries \(" + _SIZE + r"\) exceeds available HBM \(" + _SIZE + r"\)"),
    re.compile(r"Used " + _SIZE + r" of " + _SIZE + r" hbm"))


@dataclasses.dataclass(frozen=True)
class Compiled:
  """XLA's memory analysis of one compiled program, per device, and how long compiling took.

  Attributes:
    argument_bytes, temp_bytes, output_bytes, alias_bytes: XLA's `memory_analysis()` (alias = outputs
      that reuse a donated argument's buffer); temp_bytes is the compiler's requirement when it refused.
    compile_seconds: lowering + compiling.
    out_of_memory: the compiler's message when it refused to compile for lack of memory, else "".
    available_bytes: the memory the compiler said it had, when it refused.
    cached: the figures come from the cache directory (compile_seconds is the original compile's).
  """

  argument_bytes: int
  temp_bytes: int
  output_bytes: int
  alias_bytes: int
  compile_seconds: float
  out_of_memory: str = ""
  available_bytes: int = 0
  cached: bool = False

  @property
  def program_bytes(self) -> int:
    """What the program holds at its peak: arguments + temporaries + outputs not aliased to arguments."""
    return self.argument_bytes + self.temp_bytes + self.output_bytes - self.alias_bytes


def parse_out_of_memory(message: str) -> tuple[int, int] | None:
  """(bytes required, bytes available) from the compiler's RESOURCE_EXHAUSTED message, or None."""
  for pattern in _OOM_PATTERNS:
    match = pattern.search(message)
    if match:
      required = float(match.group(1)) * _UNITS[match.group(2)]
      available = float(match.group(3)) * _UNITS[match.group(4)]
      return int(required), int(available)
  return None


def compile_program(fn: Callable, args: tuple, *, argument_bytes: int, target: str,
                    cache_dir: str | None = None) -> Compiled:
  """Compiles `fn` for `args` (abstract, with shardings on the target devices).

  `argument_bytes` (per device, from the abstract arguments) stands in for XLA's figure when the compiler
  refuses; `target` names the devices (a topology, or the local device kind) for the cache key.
  """
  start = time.perf_counter()
  lowered = fn.lower(*args)
  key = hashlib.sha256((target + "\n" + lowered.as_text()).encode()).hexdigest()
  cached = _read_cache(cache_dir, key)
  if cached is not None:
    return cached
  try:
    memory = lowered.compile().memory_analysis()
  except jax.errors.JaxRuntimeError as e:
    message = str(e)
    if "RESOURCE_EXHAUSTED" not in message:
      raise
    parsed = parse_out_of_memory(message)
    required, available = parsed if parsed is not None else (0, 0)
    result = Compiled(argument_bytes=argument_bytes, temp_bytes=required, output_bytes=0, alias_bytes=0,
                      compile_seconds=time.perf_counter() - start,
                      out_of_memory=message.strip().splitlines()[0], available_bytes=available)
  else:
    result = Compiled(argument_bytes=memory.argument_size_in_bytes, temp_bytes=memory.temp_size_in_bytes,
                      output_bytes=memory.output_size_in_bytes, alias_bytes=memory.alias_size_in_bytes,
                      compile_seconds=time.perf_counter() - start)
  _write_cache(cache_dir, key, result)
  return result


def _read_cache(cache_dir: str | None, key: str) -> Compiled | None:
  path = os.path.join(cache_dir, f"{key}.json") if cache_dir else None
  if path is None or not os.path.isfile(path):
    return None
  with open(path, encoding="utf-8") as f:
    return dataclasses.replace(Compiled(**json.load(f)), cached=True)


def _write_cache(cache_dir: str | None, key: str, result: Compiled) -> None:
  if not cache_dir:
    return
  os.makedirs(cache_dir, exist_ok=True)
  path = os.path.join(cache_dir, f"{key}.json")
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    json.dump(dataclasses.asdict(result), f)
  os.replace(path + ".tmp", path)
