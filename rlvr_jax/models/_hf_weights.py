"""HF safetensors <-> Flax weights, through one declarative table used in both directions.

Each row names an HF tensor, the Flax parameter path it becomes, and how the array is rearranged:
HF stores linear layers as [out, in]; the Flax port stores einsum-friendly kernels such as q [D, N, H]
and o [N, H, D]. Loading transposes (if marked) and reshapes to the Flax shape; saving inverts it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from typing import Iterator

import numpy as np

_LAYER = "{layer}"


@dataclasses.dataclass(frozen=True)
class WeightRule:
  """One HF tensor name pattern <-> one Flax parameter path pattern.

  Attributes:
    hf: HF name, with `{layer}` for the decoder layer index.
    flax: dotted Flax path, with the same `{layer}`.
    transpose: HF keeps [out, in]; transpose before reshaping to the Flax shape.
    split: HF layout is 2-D (prod(flax_shape[:split]), prod(flax_shape[split:])) (before the transpose);
      None: HF layout is the flattened 1-D array (biases, norms).
  """

  hf: str
  flax: str
  transpose: bool = False
  split: int | None = None

  def hf_shape(self, flax_shape: tuple[int, ...]) -> tuple[int, ...]:
    if self.split is None:
      return (math.prod(flax_shape),)
    two_d = (math.prod(flax_shape[:self.split]), math.prod(flax_shape[self.split:]))
    return two_d[::-1] if self.transpose else two_d

  def to_flax(self, hf_array: np.ndarray, flax_shape: tuple[int, ...], name: str) -> np.ndarray:
    expected = self.hf_shape(flax_shape)
    if tuple(hf_array.shape) != expected:
      raise ValueError(f"weight {name!r}: checkpoint shape {tuple(hf_array.shape)} does not match the "
                       f"model config, which expects {expected}")
    array = hf_array.T if self.transpose else hf_array
    return np.ascontiguousarray(array).reshape(flax_shape)

  def to_hf(self, flax_array: np.ndarray) -> np.ndarray:
    shape = tuple(flax_array.shape)
    array = flax_array.reshape(self.hf_shape(shape)[::-1] if self.transpose else self.hf_shape(shape))
    return np.ascontiguousarray(array.T if self.transpose else array)


_ATTN = "model.layers.{layer}.self_attn"
_MLP = "model.layers.{layer}.mlp"
_BLOCK = "layers.{layer}"

WEIGHT_MAP: tuple[WeightRule, ...] = (
    WeightRule("model.embed_tokens.weight", "embed", split=1),
    WeightRule("lm_head.weight", "lm_head", split=1),
    WeightRule("model.norm.weight", "final_norm.scale"),
    WeightRule("model.layers.{layer}.input_layernorm.weight", f"{_BLOCK}.input_norm.scale"),
    WeightRule("model.layers.{layer}.post_attention_layernorm.weight", f"{_BLOCK}.post_attn_norm.scale"),
    WeightRule(f"{_ATTN}.q_proj.weight", f"{_BLOCK}.attn.q_proj", transpose=True, split=1),
    WeightRule(f"{_ATTN}.k_proj.weight", f"{_BLOCK}.attn.k_proj", transpose=True, split=1),
    WeightRule(f"{_ATTN}.v_proj.weight", f"{_BLOCK}.attn.v_proj", transpose=True, split=1),
    WeightRule(f"{_ATTN}.o_proj.weight", f"{_BLOCK}.attn.o_proj", transpose=True, split=2),
    WeightRule(f"{_ATTN}.q_proj.bias", f"{_BLOCK}.attn.q_bias"),
    WeightRule(f"{_ATTN}.k_proj.bias", f"{_BLOCK}.attn.k_bias"),
    WeightRule(f"{_ATTN}.v_proj.bias", f"{_BLOCK}.attn.v_bias"),
    WeightRule(f"{_ATTN}.o_proj.bias", f"{_BLOCK}.attn.o_bias"),
    WeightRule(f"{_ATTN}.q_norm.weight", f"{_BLOCK}.attn.q_norm.scale"),
    WeightRule(f"{_ATTN}.k_norm.weight", f"{_BLOCK}.attn.k_norm.scale"),
    WeightRule(f"{_MLP}.gate_proj.weight", f"{_BLOCK}.mlp.gate_proj", transpose=True, split=1),
    WeightRule(f"{_MLP}.up_proj.weight", f"{_BLOCK}.mlp.up_proj", transpose=True, split=1),
    WeightRule(f"{_MLP}.down_proj.weight", f"{_BLOCK}.mlp.down_proj", transpose=True, split=1),
)

# HF tensors that carry no parameters of this port (a tied checkpoint may still store lm_head).
IGNORED_HF = (re.compile(r".*rotary_emb\.inv_freq$"),)


def _pattern(template: str) -> re.Pattern:
  return re.compile("^" + re.escape(template).replace(re.escape(_LAYER), r"(\d+)") + "$")


_FLAX_PATTERNS = tuple((_pattern(rule.flax), rule) for rule in WEIGHT_MAP)


def layer_path(stacked_path: str, layer: int) -> str:
  """The per-layer Flax path of layer `layer` of a stacked (scanned-layers) parameter:
  "layers.attn.q_proj" -> "layers.3.attn.q_proj"."""
  prefix = _BLOCK.split(".")[0] + "."
  if not stacked_path.startswith(prefix):
    raise KeyError(f"stacked parameter {stacked_path!r} is not under {prefix!r}")
  return f"{_BLOCK.format(layer=layer)}.{stacked_path[len(prefix):]}"


def hf_name(flax_path: str) -> tuple[str, WeightRule]:
  """The HF tensor name and the rule for a dotted Flax parameter path."""
  for pattern, rule in _FLAX_PATTERNS:
    match = pattern.match(flax_path)
    if match:
      return (rule.hf.replace(_LAYER, match.group(1)) if match.groups() else rule.hf), rule
  raise KeyError(f"Flax parameter {flax_path!r} has no HF weight rule")


# --------------------------------------------------------------------------------------------------
# safetensors files
# --------------------------------------------------------------------------------------------------

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


def checkpoint_files(path: str) -> dict[str, str]:
  """Maps each HF tensor name to the safetensors file that holds it (single file or sharded index)."""
  if not os.path.isdir(path):
    raise FileNotFoundError(f"model path {path!r} does not exist or is not a directory")
  index = os.path.join(path, INDEX_FILE)
  if os.path.isfile(index):
    with open(index) as f:
      weight_map = json.load(f).get("weight_map")
    if not isinstance(weight_map, dict):
      raise ValueError(f"{index}: no 'weight_map' object")
    files = {name: os.path.join(path, file) for name, file in weight_map.items()}
    for file in sorted(set(files.values())):
      if not os.path.isfile(file):
        raise FileNotFoundError(f"{index} lists {os.path.basename(file)!r}, which is missing")
    return files
  single = os.path.join(path, SINGLE_FILE)
  if os.path.isfile(single):
    from safetensors import safe_open

    with safe_open(single, framework="np") as f:
      return {name: single for name in f.keys()}
  raise FileNotFoundError(f"model path {path!r} has neither {SINGLE_FILE} nor {INDEX_FILE}")


_SAFETENSORS_DTYPES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32", "F64": "float64"}


def stored_dtype(path: str) -> str:
  """The floating dtype a checkpoint's weights are stored in ("bfloat16", "float32", ...), read from the
  safetensors headers (no tensor is read). An export writes this dtype back, so a bfloat16 checkpoint
  trained with float32 master weights is exported at its own size."""
  found = set()
  for file in sorted(set(checkpoint_files(path).values())):
    with open(file, "rb") as f:
      header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    found.update(entry["dtype"] for name, entry in header.items() if name != "__metadata__")
  floating = sorted(_SAFETENSORS_DTYPES[d] for d in found if d in _SAFETENSORS_DTYPES)
  if len(floating) != 1:
    raise ValueError(f"model path {path!r}: weights are stored in {sorted(found)}; expected one floating dtype")
  return floating[0]


def header_shapes(files: dict[str, str]) -> dict[str, tuple[int, ...]]:
  """HF tensor name -> shape, from the safetensors headers of `checkpoint_files` (no tensor is read)."""
  from safetensors import safe_open

  shapes = {}
  for file in sorted(set(files.values())):
    with safe_open(file, framework="np") as f:
      shapes.update({name: tuple(f.get_slice(name).get_shape()) for name in f.keys() if files.get(name) == file})
  return shapes


class TensorReader:
  """Reads one tensor at a time from a (possibly sharded) safetensors checkpoint, keeping files open."""

  def __init__(self, files: dict[str, str]):
    self._files = files
    self._handles = {}

  def read(self, name: str) -> np.ndarray:
    from safetensors import safe_open

    if name not in self._files:
      raise KeyError(name)
    file = self._files[name]
    if file not in self._handles:
      self._handles[file] = safe_open(file, framework="np")
    return self._handles[file].get_tensor(name)

  def close(self):
    self._handles.clear()


def shard_names(named_sizes: list[tuple[str, int]], max_shard_bytes: int) -> Iterator[list[str]]:
  """Groups tensor names into consecutive shards of at most `max_shard_bytes` (one tensor may exceed it)."""
  shard, size = [], 0
  for name, nbytes in named_sizes:
    if shard and size + nbytes > max_shard_bytes:
      yield shard
      shard, size = [], 0
    shard.append(name)
    size += nbytes
  if shard:
    yield shard
