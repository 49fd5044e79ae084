"""HF checkpoint directories: `load_pretrained` and `save_pretrained`.

Loading reads one tensor at a time and places it straight into its sharded layout with
`jax.make_array_from_callback` (each process materializes only the shards its devices hold), so the
host never holds more than one full tensor. Every expected weight is checked before it is placed: a
missing tensor, an unexpected one or a shape that disagrees with `config.json` raises naming it
(`rlvr_jax.config.validate` runs the same check on the headers, `expected_hf_shapes`, before any load),
and so does a tensor holding NaN or inf (`NonFiniteWeightsError`): a policy of NaN weights would only
skip every update and export NaN again.

Scanned layers (`scan_layers=True`) store each block parameter as one [L, ...] array. Loading places a
sharded [L, ...] buffer and writes layer after layer into it in place (one HF tensor on the host at a
time, one layer of it in flight on the devices); saving slices one layer at a time back out.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from rlvr_jax import sharding as shd
from rlvr_jax.models import _hf_weights as hf_weights
from rlvr_jax.models._attention import AttentionKernel
from rlvr_jax.models._config import QwenConfig
from rlvr_jax.models._factory import abstract_model, is_stacked, model_from_arrays
from rlvr_jax.models._qwen import Qwen
from flax import nnx


class CheckpointMismatchError(ValueError):
  """The checkpoint's tensors do not match what its config.json describes."""


class NonFiniteWeightsError(CheckpointMismatchError):
  """A checkpoint tensor holds NaN or inf; the message names the tensor and the count."""


def expected_hf_shapes(config: QwenConfig) -> dict[str, tuple[int, ...]]:
  """HF tensor name -> the shape `config` implies, for every tensor the model loads. Built from an
  abstract one-layer model (no allocation, milliseconds at any size) and repeated per layer."""
  _, state = nnx.split(abstract_model(dataclasses.replace(config, num_layers=1)))
  shapes = {}
  for flat_path, variable in nnx.to_flat_state(state):
    name, rule = hf_weights.hf_name(".".join(str(p) for p in flat_path))
    shape = rule.hf_shape(tuple(variable.shape))
    if ".layers.0." in name:
      shapes.update({name.replace(".layers.0.", f".layers.{layer}.", 1): shape for layer in range(config.num_layers)})
    else:
      shapes[name] = shape
  return shapes


def check_finite(name: str, array: np.ndarray, path: str) -> None:
  """Raises NonFiniteWeightsError naming the tensor if `array` holds NaN or inf. A float64 sum is finite
  exactly when every element is (no float32 / bfloat16 tensor can overflow it), and numpy casts in
  buffered chunks, so no tensor-sized temporary is made unless the check fails."""
  if not np.isfinite(np.sum(array, dtype=np.float64)):
    finite = np.isfinite(array)
    nans = int(np.isnan(array).sum())
    raise NonFiniteWeightsError(
        f"{path}: weight {name!r} holds non-finite values ({nans} NaN, {int(finite.size - finite.sum()) - nans} inf "
        f"of {array.size}); the checkpoint is damaged or was exported from a diverged run")


def load_pretrained(path: str | os.PathLike, *, dtype=jnp.bfloat16, param_dtype=None, mesh: Mesh | None = None,
                    layout: shd.Layout = "train", scan_layers: bool = False,
                    attention: str | AttentionKernel = "auto", platform: str | None = None) -> Qwen:
  """Loads an HF Qwen2/Qwen3 directory (`config.json` + one or many `*.safetensors`).

  `dtype` is the compute dtype; `param_dtype` (default `dtype`) the dtype the weights are stored in,
  float32 for training (master weights) whatever the checkpoint's own dtype. `scan_layers`, `attention`
  and `platform` are the `Qwen` build options.
  """
  path = os.fspath(path)
  param_dtype = jnp.dtype(dtype if param_dtype is None else param_dtype)
  config = QwenConfig.from_pretrained(path)
  files = hf_weights.checkpoint_files(path)
  _check_names(config, files, path)
  abstract = abstract_model(config, dtype, param_dtype, scan_layers=scan_layers, attention=attention,
                            platform=platform)

  shardings = {}
  if mesh is not None:
    _, abstract_state = nnx.split(abstract)
    for p, sharding in nnx.to_flat_state(shd.state_shardings(abstract_state, mesh, layout)):
      shardings[".".join(str(x) for x in p)] = sharding
  reader = hf_weights.TensorReader(files)

  def place(flax_path: str, shape: tuple[int, ...], sharding: NamedSharding | None) -> jax.Array:
    name, rule = hf_weights.hf_name(flax_path)
    try:
      array = rule.to_flax(reader.read(name), shape, name)
    except ValueError as e:
      raise CheckpointMismatchError(f"{path}: {e}") from None
    check_finite(name, array, path)
    array = array.astype(param_dtype)
    if sharding is None:
      return jax.device_put(array)
    return jax.make_array_from_callback(shape, sharding, lambda index: array[index])

  def read(flax_path: str, variable: nnx.Variable) -> jax.Array:
    shape, sharding = tuple(variable.shape), shardings.get(flax_path)
    if not is_stacked(variable):
      return place(flax_path, shape, sharding)
    layer_sharding = None if sharding is None else NamedSharding(mesh, P(*sharding.spec[1:]))
    stacked = _zeros(shape, param_dtype, sharding)
    for layer in range(shape[0]):
      layer_array = place(hf_weights.layer_path(flax_path, layer), shape[1:], layer_sharding)
      stacked = _write_layer(stacked, layer_array, layer)
    return stacked

  try:
    return model_from_arrays(abstract, read)
  finally:
    reader.close()


def _zeros(shape: tuple[int, ...], dtype, sharding: NamedSharding | None) -> jax.Array:
  return jax.jit(lambda: jnp.zeros(shape, dtype), out_shardings=sharding)()


@functools.partial(jax.jit, donate_argnums=0)
def _write_layer(stacked: jax.Array, layer_array: jax.Array, layer: int) -> jax.Array:
  """stacked[layer] = layer_array, in place (the stacked buffer is donated)."""
  return jax.lax.dynamic_update_index_in_dim(stacked, layer_array.astype(stacked.dtype), layer, 0)


def _check_names(config: QwenConfig, files: dict[str, str], path: str) -> None:
  expected = set(expected_hf_shapes(config))
  missing = sorted(expected - set(files))
  if missing:
    more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
    raise CheckpointMismatchError(f"{path}: missing weight(s) {missing[:5]}{more}")
  unexpected = sorted(
      name for name in set(files) - expected
      if not any(p.match(name) for p in hf_weights.IGNORED_HF)
      and not (name == "lm_head.weight" and config.tie_word_embeddings))
  if unexpected:
    more = f" (and {len(unexpected) - 5} more)" if len(unexpected) > 5 else ""
    raise CheckpointMismatchError(
        f"{path}: checkpoint has weight(s) the config does not describe: {unexpected[:5]}{more}")


def _to_host(array: jax.Array) -> np.ndarray:
  """Gathers one (possibly multi-host sharded) array to every host as numpy."""
  if array.is_fully_addressable:
    return np.asarray(jax.device_get(array))
  replicated = NamedSharding(array.sharding.mesh, P())
  return np.asarray(multihost_utils.process_allgather(
      jax.jit(lambda x: x, out_shardings=replicated)(array), tiled=True))


def _per_layer_params(model: Qwen) -> list[tuple[str, tuple[Callable[[], jax.Array], tuple[int, ...]]]]:
  """(per-layer dotted path, (getter, shape)) of every parameter in HF order of layers: a stacked
  parameter contributes one entry per layer, each slicing its layer only when fetched."""
  out = []
  for path, variable in nnx.to_flat_state(nnx.state(model, nnx.Param)):
    dotted, value = ".".join(str(p) for p in path), variable[...]
    if is_stacked(variable):
      for layer in range(value.shape[0]):
        out.append((hf_weights.layer_path(dotted, layer), (functools.partial(_layer_of, value, layer),
                                                           value.shape[1:])))
    else:
      out.append((dotted, (lambda value=value: value, value.shape)))
  return out


def _layer_of(stacked: jax.Array, layer: int) -> jax.Array:
  return stacked[layer]


def save_pretrained(model: Qwen, path: str | os.PathLike, *, dtype=None, max_shard_bytes: int = 4 << 30) -> None:
  """Writes an HF directory (`config.json`, safetensors shards and their index) that
  `transformers.AutoModelForCausalLM.from_pretrained` loads. On multi-host runs only process 0 writes;
  every process must call it (the gathers are collective).

  `dtype`: the dtype written (default: the parameters' storage dtype). The trainer passes the dtype of
  the checkpoint it started from, so float32 master weights of a bfloat16 checkpoint export as bfloat16.
  """
  from safetensors.numpy import save_file
  from transformers import AutoConfig

  path = os.fspath(path)
  dtype = jnp.dtype(model.param_dtype if dtype is None else dtype)
  writer = jax.process_index() == 0
  if writer:
    os.makedirs(path, exist_ok=True)
    hf = model.config.to_hf_dict()
    hf["torch_dtype"] = dtype.name
    AutoConfig.for_model(**hf).save_pretrained(path)

  params = dict(_per_layer_params(model))
  sizes = [(name, math.prod(shape) * dtype.itemsize) for name, (_, shape) in params.items()]
  shards = list(hf_weights.shard_names(sizes, max_shard_bytes))
  weight_map = {}
  for i, shard in enumerate(shards):
    file = hf_weights.SINGLE_FILE if len(shards) == 1 else f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
    tensors = {}
    for flax_path in shard:
      name, rule = hf_weights.hf_name(flax_path)
      tensors[name] = rule.to_hf(_to_host(params[flax_path][0]().astype(dtype)))
      weight_map[name] = file
    if writer:
      save_file(tensors, os.path.join(path, file), metadata={"format": "pt"})
  if writer and len(shards) > 1:
    total = sum(nbytes for _, nbytes in sizes)
    with open(os.path.join(path, hf_weights.INDEX_FILE), "w") as f:
      json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
