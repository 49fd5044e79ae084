"""`generate`: validate, then run the compiled prefill and decode programs on the live parameters.

Compilation: the parameters are jit *arguments* (`nnx.split`; the graphdef is static), so new weights of
the same shapes reuse the compiled programs. The programs are cached per (graphdef, `SamplerSpec`, mesh,
cache dtype, batch, prompt bucket): max_new_tokens, num_samples, stop ids, greedy-vs-sampling, top-k and
"top-p on/off" are static; temperature, top-p and min-p values are traced (`SamplingKnobs`) and never
recompile. Prompt lengths should come in a few buckets (`rlvr_jax.sampling._buckets`).

Sharding: with a mesh, rows are split over ('data', 'fsdp') and heads / vocabulary over 'tensor' (the
"sample" layout of `rlvr_jax.sharding`). Parameters are accepted in whatever layout they live in (the
trainer's FSDP layout included) and constrained to the sampling layout inside the program: the FSDP
all-gather happens once per call, before the loop, not once per token, and no second copy of the
weights is kept between calls.

Precision: weights stored in float32 (the trainer's master weights) are cast to the model's compute
dtype once at the start of each program (before the FSDP all-gather, which then moves half the bytes),
so the decode loop reads compute-dtype weights and the cast copy lives only as long as the program. The decode state (KV cache included) is donated into the decode program,
so the loop updates the prefill's buffers in place.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from rlvr_jax import sharding as shd
from rlvr_jax.models import KVCache, QwenConfig
from rlvr_jax.models._modules import no_constraint
from rlvr_jax.models._precision import cast_params
from rlvr_jax.models._qwen import Qwen, cache_role
from rlvr_jax.sampling._continuous import (PromptStore, cache_slots, continuous_decode, continuous_output,
                                           continuous_prefill)
from rlvr_jax.sampling._draw import ROW_TILE, Draw, LogitsProcessor, SamplerSpec
from rlvr_jax.sampling._loop import decode
from rlvr_jax.sampling._prefill import prefill
from rlvr_jax.sampling._state import DecodeState, DecodeStats, SamplerOutput, row_keys
from rlvr_jax.sampling._strategies import SamplingKnobs, make_strategy

# Slots of KV cache a decode step's attention reads at a time (`rlvr_jax.models._decode_attention`).
DEFAULT_DECODE_BLOCK = 128


def generate(
    model: Qwen,
    prompt_ids: Any,  # [B, P] int, left-padded
    prompt_mask: Any,  # [B, P] 1 = real prompt token
    *,
    key: jax.Array,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 0,
    min_p: float = 0.0,
    stop_token_ids: Sequence[int] = (),
    num_samples: int = 1,
    mesh: Mesh | None = None,
    prompt_ids_for_rng: Any | None = None,  # [B] int
    pad_id: int = 0,
    return_sampling_logprobs: bool = False,
    cache_dtype: Any | None = None,
    slots: int = 0,
    decode_block: int = DEFAULT_DECODE_BLOCK,
    batch_invariant: bool = False,
    logits_processor: LogitsProcessor | None = None,
) -> SamplerOutput:
  """Samples `num_samples` completions of up to `max_new_tokens` tokens for each left-padded prompt.

  Args:
    model: the policy; its current parameters are read (not copied) on every call.
    prompt_ids, prompt_mask: [B, P], left-padded (every row's last column is a real token).
    key: PRNG key (typed or raw uint32). Row (prompt p, sample j) at step t draws from
      fold_in(fold_in(fold_in(key, prompt_ids_for_rng[p]), j), t).
    max_new_tokens: response buffer length N.
    temperature: 0 = greedy (behaviour log-probs are then taken at temperature 1).
    top_p, top_k, min_p: truncation of the sampling distribution (1.0 / 0 / 0.0 = off).
    stop_token_ids: ids that end a row (kept as its last, unmasked token).
    num_samples: completions per prompt; rows are prompt-major (row p * n + j).
    mesh: a ('data', 'fsdp', 'tensor') mesh to run on in the sampling layout; None = unsharded.
    prompt_ids_for_rng: [B] an id per prompt (e.g. its dataset row) that picks its random streams, so
      its samples do not depend on the rest of the batch; default arange(B).
    pad_id: token written after a row's end.
    return_sampling_logprobs: also return log-probs under the truncated sampling distribution.
    cache_dtype: KV cache dtype; default the model's compute dtype.
    slots: 0 = static batch: all R rows decode together until the last one ends. S > 0 = continuous
      batching with S decode slots refilled as rows end (`rlvr_jax.sampling._continuous`), allocated in
      whole tiles of 8 (S rounded up) and at most R; the same tokens and log-probs as the static batch.
    decode_block: decode attention reads the KV cache in blocks of this many slots, only up to the
      highest filled slot (0 = every slot through XLA's masked attention).
    batch_invariant: run each decode step on tiles of 8 rows, so a row's arithmetic is the same at any
      batch size (bitwise reproducible across slot counts; slower: `rlvr_jax.sampling._row_tiles`).
    logits_processor: (logits [R, V], row ids [R], steps [R]) -> logits, applied before each draw; static
      (a new function object compiles new programs).

  Returns:
    `SamplerOutput` with R = B * num_samples rows; arrays stay on device (nothing is synced to host).
  """
  ids, mask = _check_prompts(prompt_ids, prompt_mask, model.config.vocab_size)
  batch, prompt_len = ids.shape
  spec = _sampler_spec(model.config, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                       top_k=top_k, min_p=min_p, stop_token_ids=stop_token_ids, num_samples=num_samples,
                       pad_id=pad_id, return_sampling_logprobs=return_sampling_logprobs, slots=slots,
                       decode_block=decode_block, rows=batch * num_samples, batch_invariant=batch_invariant,
                       logits_processor=logits_processor)
  if prompt_ids_for_rng is None:
    prompt_ids_for_rng = np.arange(batch, dtype=np.int32)
  if tuple(np.shape(prompt_ids_for_rng)) != (batch,):
    raise ValueError(f"prompt_ids_for_rng has shape {tuple(np.shape(prompt_ids_for_rng))}; expected ({batch},), "
                     "one id per prompt")
  if not isinstance(key, jax.Array):
    raise ValueError(f"key={key!r}: expected a PRNG key (jax.random.key(seed)), not {type(key).__name__}")
  if not jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.wrap_key_data(key)  # raw uint32 key data, as stored in a train state

  params, programs = _model_programs(model, spec, mesh, cache_dtype, batch, prompt_len)
  knobs = SamplingKnobs.create(temperature, top_p, min_p)
  inputs = programs.place_inputs(ids, mask, jnp.asarray(prompt_ids_for_rng, jnp.int32))
  state = programs.prefill(params, *inputs, key, knobs)
  state = programs.decode(params, state, knobs)
  return programs.finish(programs.strip(state))


class SamplerPrograms(NamedTuple):
  """The prefill and decode programs of one `generate` call shape, with abstract arguments to lower and
  compile them ahead of time (`rlvr_jax.scale`: a compile check for a TPU slice from any machine).

  The programs are the very jitted functions `generate` runs for the same model structure, settings,
  mesh and shapes (one cache), so what is compiled here is what a rollout runs.
  """

  prefill: Callable  # (params, prompt_ids, prompt_mask, rng_ids, key, knobs) -> DecodeState
  decode: Callable  # (params, state [donated], knobs) -> DecodeState
  prefill_args: tuple  # jax.ShapeDtypeStruct pytrees (with shardings on a mesh) of prefill's arguments
  decode_args: tuple  # and of decode's: the parameters, prefill's output state, the knobs


def sampler_programs(model: Qwen, batch: int, prompt_len: int, *, max_new_tokens: int, temperature: float = 1.0,
                     top_p: float = 1.0, top_k: int = 0, min_p: float = 0.0, stop_token_ids: Sequence[int] = (),
                     num_samples: int = 1, mesh: Mesh | None = None, pad_id: int = 0,
                     return_sampling_logprobs: bool = False, cache_dtype: Any | None = None, slots: int = 0,
                     decode_block: int = DEFAULT_DECODE_BLOCK, batch_invariant: bool = False,
                     logits_processor: LogitsProcessor | None = None) -> SamplerPrograms:
  """The programs `generate(model, [batch, prompt_len] prompts, ...)` runs, and their abstract arguments.

  `model` may be abstract (`rlvr_jax.models.abstract_model`, or `nnx.merge` of a graphdef with
  `jax.ShapeDtypeStruct` parameters): its parameters' shapes, dtypes and shardings are the parameter
  arguments. Every other argument means what it means for `generate`.
  """
  _check_positive_int("batch", batch)
  spec = _sampler_spec(model.config, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p,
                       top_k=top_k, min_p=min_p, stop_token_ids=stop_token_ids, num_samples=num_samples,
                       pad_id=pad_id, return_sampling_logprobs=return_sampling_logprobs, slots=slots,
                       decode_block=decode_block, rows=batch * num_samples, batch_invariant=batch_invariant,
                       logits_processor=logits_processor)
  _check_positive_int("prompt_len", prompt_len)
  params, programs = _model_programs(model, spec, mesh, cache_dtype, batch, prompt_len)
  params = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None)),
                        params)
  replicated = None if mesh is None else NamedSharding(mesh, P())
  abstract = lambda shape, dtype, sharding: jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)  # noqa: E731
  rows = lambda shape: None if mesh is None else _row_sharding(mesh, shape)  # noqa: E731
  key = abstract((), jax.eval_shape(lambda: jax.random.key(0)).dtype, replicated)
  knobs = jax.tree.map(lambda x: abstract(x.shape, x.dtype, replicated), SamplingKnobs.create(1.0, 1.0, 0.0))
  prefill_args = (params, abstract((batch, prompt_len), jnp.int32, rows((batch, prompt_len))),
                  abstract((batch, prompt_len), jnp.int32, rows((batch, prompt_len))),
                  abstract((batch,), jnp.int32, rows((batch,))), key, knobs)
  state = jax.eval_shape(programs.prefill, *prefill_args)
  if mesh is not None:
    state = jax.tree.map(lambda x, s: abstract(x.shape, x.dtype, s), state, programs.state_shardings)
  return SamplerPrograms(prefill=programs.prefill, decode=programs.decode, prefill_args=prefill_args,
                         decode_args=(params, state, knobs))


def _sampler_spec(config: QwenConfig, *, max_new_tokens: int, temperature: float, top_p: float, top_k: int,
                  min_p: float, stop_token_ids: Sequence[int], num_samples: int, pad_id: int,
                  return_sampling_logprobs: bool, slots: int, decode_block: int, rows: int,
                  batch_invariant: bool = False, logits_processor: LogitsProcessor | None = None) -> SamplerSpec:
  """Checks the sampling settings and returns their static half."""
  strategy = make_strategy(temperature=temperature, top_p=top_p, top_k=top_k, min_p=min_p)
  _check_positive_int("max_new_tokens", max_new_tokens)
  _check_positive_int("num_samples", num_samples)
  for name, value in (("slots", slots), ("decode_block", decode_block)):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
      raise ValueError(f"{name}={value!r}: must be an int >= 0 (0 = off)")
  stop_token_ids = tuple(stop_token_ids)
  for token in stop_token_ids:
    _check_token("stop_token_ids", token, config.vocab_size)
  _check_token("pad_id", pad_id, config.vocab_size)
  return SamplerSpec(max_new_tokens=max_new_tokens, num_samples=num_samples,
                     stop_token_ids=tuple(int(t) for t in stop_token_ids), strategy=strategy, pad_id=int(pad_id),
                     context_limit=config.max_position_embeddings, sampling_logprobs=return_sampling_logprobs,
                     decode_block=int(decode_block), slots=min(-(-int(slots) // ROW_TILE) * ROW_TILE, rows),
                     batch_invariant=bool(batch_invariant), logits_processor=logits_processor)


def _model_programs(model: Qwen, spec: SamplerSpec, mesh: Mesh | None, cache_dtype: Any | None, batch: int,
                    prompt_len: int) -> tuple[nnx.State, _Programs]:
  """The model's parameters and the (cached) programs for its structure, these settings and shapes."""
  spec = dataclasses.replace(spec, slot_groups=_slot_groups(spec, mesh, batch))
  graphdef, params = nnx.split(model)
  dtype = jnp.dtype(model.dtype if cache_dtype is None else cache_dtype)
  return params, _programs(graphdef, model.config, spec, mesh, jnp.dtype(model.dtype).name, dtype.name, batch,
                           prompt_len, model.scan_layers)


def _slot_groups(spec: SamplerSpec, mesh: Mesh | None, batch: int) -> int:
  """One slot group per data-parallel shard when the prompts and the slots split evenly over them."""
  if mesh is None or not spec.slots:
    return 1
  shards = mesh.shape["data"] * mesh.shape["fsdp"]
  return shards if batch % shards == 0 and spec.slots % shards == 0 else 1


class _Programs(NamedTuple):
  """The jitted functions of one (model structure, spec, mesh, cache dtype, input shape) combination."""

  prefill: Callable  # (params, prompt_ids, prompt_mask, rng_ids, key, knobs) -> loop state
  decode: Callable  # (params, state [donated], knobs) -> loop state
  strip: Callable  # decode's result -> the part `finish` reads (no KV cache)
  finish: Callable  # stripped result -> SamplerOutput (the continuous decode program returns it already)
  place_inputs: Callable  # host or device arrays -> arrays in the prefill's input layout
  state_shardings: DecodeState | PromptStore | None  # the prefill's result's layout (None without a mesh)


@functools.lru_cache(maxsize=64)
def _programs(graphdef: nnx.GraphDef, config: QwenConfig, spec: SamplerSpec, mesh: Mesh | None,
              compute_dtype: str, cache_dtype: str, batch: int, prompt_len: int, scan_layers: bool) -> _Programs:
  constrain = no_constraint if mesh is None else shd.ActivationSharding(mesh, "sample").constrain

  def model_from(params) -> Qwen:
    params = cast_params(params, jnp.dtype(compute_dtype))
    if mesh is not None:
      params = _constrain_params(params, mesh)
    return nnx.merge(graphdef, params)

  def run_prefill(params, prompt_ids, prompt_mask, rng_ids, key, knobs):
    keys = row_keys(key, rng_ids, spec.num_samples)
    if spec.slots:  # the prompts' caches and every row's token 0, for admitting rows to slots
      return continuous_prefill(model_from(params), prompt_ids, prompt_mask, keys, knobs, spec,
                                cache_dtype=jnp.dtype(cache_dtype), constrain=constrain)
    return prefill(model_from(params), prompt_ids, prompt_mask, keys, knobs, spec,
                   cache_dtype=jnp.dtype(cache_dtype), constrain=constrain)

  def run_decode(params, state, knobs):
    if spec.slots:  # the rows' outputs: the slots end in a smaller tail phase than they start
      return continuous_output(continuous_decode(model_from(params), state, knobs, spec, constrain=constrain))
    return decode(model_from(params), state, knobs, spec, constrain=constrain)

  if spec.slots:  # the decode program already returns the output
    strip = finish = lambda output: output  # noqa: E731
  else:
    strip, finish = (lambda state: state.replace(cache=None)), SamplerOutput.from_state
  # The static decode updates the prefill's state in place (donated). The continuous decode builds its
  # slot state inside the program and only reads the prefill's prompts, which it returns none of.
  donate = () if spec.slots else (1,)
  if mesh is None:
    return _Programs(jax.jit(run_prefill), jax.jit(run_decode, donate_argnums=donate), strip,
                     finish if spec.slots else jax.jit(finish), lambda *arrays: arrays, None)

  replicated = NamedSharding(mesh, P())
  input_shardings = (_row_sharding(mesh, (batch, prompt_len)),) * 2 + (_row_sharding(mesh, (batch,)),)
  knob_shardings = jax.tree.map(lambda _: replicated, SamplingKnobs.create(1.0, 1.0, 0.0))
  state_shardings = _state_shardings(mesh, config, spec, batch, prompt_len, scan_layers)
  output_shardings = _output_shardings(mesh, spec, batch)
  decode_shardings = output_shardings if spec.slots else state_shardings
  finish_shardings = None if spec.slots else state_shardings.replace(cache=None)

  def place_inputs(*arrays):
    return tuple(jax.device_put(a, s) for a, s in zip(arrays, input_shardings))

  return _Programs(
      prefill=jax.jit(run_prefill, in_shardings=(None, *input_shardings, replicated, knob_shardings),
                      out_shardings=state_shardings),
      decode=jax.jit(run_decode, in_shardings=(None, state_shardings, knob_shardings), out_shardings=decode_shardings,
                     donate_argnums=donate),
      strip=strip,
      finish=finish if spec.slots else jax.jit(finish, in_shardings=(finish_shardings,), out_shardings=output_shardings),
      place_inputs=place_inputs,
      state_shardings=state_shardings,
  )


def _state_shardings(mesh: Mesh, config: QwenConfig, spec: SamplerSpec, batch: int, prompt_len: int,
                     scan_layers: bool) -> DecodeState | PromptStore:
  """The prefill's result's layout (the static loop state, or the continuous sampler's prompt store): rows (and slots, and prompts) over ('data', 'fsdp'), the caches' KV heads
  over 'tensor' (and their stacked layer axis, with scanned layers, unsplit)."""
  rows, new_tokens = batch * spec.num_samples, spec.max_new_tokens
  slots = cache_slots(prompt_len, spec)
  acts = shd.ActivationSharding(mesh, "sample")

  def kv(cache_rows: int, length: int):
    shape = (cache_rows, length, config.num_kv_heads, config.head_dim)
    if scan_layers:
      return acts.sharding(cache_role(True), (config.num_layers,) + shape)
    return (acts.sharding(cache_role(False), shape),) * config.num_layers

  def cache(cache_rows: int, end_index: NamedSharding) -> KVCache:
    return KVCache(k=kv(cache_rows, slots), v=kv(cache_rows, slots), kv_mask=_row_sharding(mesh, (cache_rows, slots)),
                   end_index=end_index, decode_block=spec.decode_block)

  per_row, per_token = _row_sharding(mesh, (rows,)), _row_sharding(mesh, (rows, new_tokens))
  scalar = NamedSharding(mesh, P())
  stats = DecodeStats(steps=scalar, slot_steps=scalar, busy_slot_steps=scalar, kv_slots_read=scalar,
                      kv_slots_row_bound=scalar)
  sampling_logprobs = per_token if spec.sampling_logprobs else None
  if not spec.slots:
    return DecodeState(
        step=scalar, tokens=per_token, logprobs=per_token, sampling_logprobs=sampling_logprobs,
        lengths=per_row, done=per_row, finish_reason=per_row, last_token=per_row, last_position=per_row,
        row_keys=per_row, cache=cache(rows, per_row), stats=stats)
  return PromptStore(k=kv(batch, prompt_len), v=kv(batch, prompt_len), mask=_row_sharding(mesh, (batch, prompt_len)),
                     first=Draw(*(per_row,) * len(Draw._fields)), row_keys=per_row)


def _output_shardings(mesh: Mesh, spec: SamplerSpec, batch: int) -> SamplerOutput:
  """The output's layout: rows over ('data', 'fsdp'), counters replicated."""
  rows = batch * spec.num_samples
  per_row, per_token = _row_sharding(mesh, (rows,)), _row_sharding(mesh, (rows, spec.max_new_tokens))
  scalar = NamedSharding(mesh, P())
  return SamplerOutput(tokens=per_token, response_mask=per_token, lengths=per_row, finish_reason=per_row,
                       logprobs=per_token, sampling_logprobs=per_token if spec.sampling_logprobs else None,
                       stats=DecodeStats(steps=scalar, slot_steps=scalar, busy_slot_steps=scalar,
                                         kv_slots_read=scalar, kv_slots_row_bound=scalar))


def _constrain_params(params: nnx.State, mesh: Mesh) -> nnx.State:
  """Puts every weight in the sampling layout (tensor-parallel only): one FSDP all-gather per call."""
  shardings = shd.state_shardings(params, mesh, "sample")
  return jax.tree.map(lambda v, s: v.replace(jax.lax.with_sharding_constraint(v[...], s)), params, shardings,
                      is_leaf=lambda x: isinstance(x, nnx.Variable))


def _row_sharding(mesh: Mesh, shape: tuple[int, ...]) -> NamedSharding:
  """Rows (dimension 0) over ('data', 'fsdp') where they divide evenly; other dimensions replicated."""
  return shd.named_sharding(mesh, P(shd.BATCH), shape)


def _check_prompts(prompt_ids: Any, prompt_mask: Any, vocab_size: int) -> tuple[Any, Any]:
  ids_shape, mask_shape = tuple(np.shape(prompt_ids)), tuple(np.shape(prompt_mask))
  if len(ids_shape) != 2 or ids_shape[0] < 1 or ids_shape[1] < 1:
    raise ValueError(f"prompt_ids has shape {ids_shape}; expected a non-empty [batch, prompt_len] array")
  if mask_shape != ids_shape:
    raise ValueError(f"prompt_mask has shape {mask_shape}; expected {ids_shape} like prompt_ids")
  if not jnp.issubdtype(jnp.result_type(prompt_ids), jnp.integer):
    raise ValueError(f"prompt_ids has dtype {jnp.result_type(prompt_ids)}; expected integer token ids")
  if isinstance(prompt_mask, np.ndarray):  # host data: checking costs no device sync
    real = prompt_mask.astype(bool)
    left_padded = np.all(real[:, 1:] >= real[:, :-1], axis=1) & real[:, -1]
    if not left_padded.all():
      raise ValueError(f"prompt_mask rows {np.flatnonzero(~left_padded).tolist()} are not left-padded with a real "
                       "last token; pad prompts on the left (see rlvr_jax.sampling.pad_to_bucket)")
  if isinstance(prompt_ids, np.ndarray) and (prompt_ids.min() < 0 or prompt_ids.max() >= vocab_size):
    raise ValueError(f"prompt_ids hold values in [{prompt_ids.min()}, {prompt_ids.max()}]; the vocabulary is "
                     f"[0, {vocab_size})")
  return jnp.asarray(prompt_ids, jnp.int32), jnp.asarray(prompt_mask, jnp.int32)


def _check_positive_int(name: str, value: Any) -> None:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
    raise ValueError(f"{name}={value!r}: must be an int >= 1")


def _check_token(name: str, value: Any, vocab_size: int) -> None:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < vocab_size:
    raise ValueError(f"{name}: {value!r} is not a token id in [0, {vocab_size})")
