"""Continuous batching inside one compiled program: a fixed number of decode slots, refilled as rows end.

Why: RLVR responses have long-tailed lengths. The static sampler keeps every row in its slot until the
longest row of the batch ends, so at a typical length distribution (mean ~40% of the budget) most
slot-steps decode padding. Here S slots decode R = B x n rows: when a row ends (stop token, budget or
context), the next pending (prompt, sample) row takes its slot at the next iteration, until every row
is done, as vLLM and JetStream keep their slots full. All of it is one `lax.while_loop` on device; the
parameters are program arguments (no recompile per call).

Refill without a prefill stall: the prefill program runs every prompt once ([B, P], batched, like the
static sampler's), keeps its keys / values and draws token 0 of every row from the prompts' last-position
logits, as the static sampler's prefill does ([R, V], once). Admitting a row copies its prompt's keys /
values into the slot's first P cache slots and takes its drawn token 0: no model call and no draw over
the vocabulary, so a refill never stalls the other slots.

Bitwise the same as the static sampler: a slot's cache has the static layout (the prompt in slots
[0, P), response token t - 1 written at slot P + t - 1), row r draws token t from
fold_in(row_keys[r], t) with `draw_tokens` (the static sampler's own function), and decode attention
reads blocks with an exact online softmax (`rlvr_jax.models._decode_attention`). So a row's tokens and
log-probs do not depend on which slot, or which other rows, it decoded with. They can depend on the
decode batch size (the slot count) in their last bits, because XLA's kernels round a row differently at
different batch sizes; `batch_invariant=True` removes that too (`rlvr_jax.sampling._row_tiles`), and
then the continuous and static samplers agree bit for bit.

Rows are admitted in row order (prompt-major), so the first S rows start together, as in the static
sampler's first S rows.

Slot groups (sharding): on a mesh the rows, the prompts and the slots are split over the data-parallel
devices. A slot admitted from any prompt, or a tail phase that gathers the live slots from anywhere,
would make the partitioner all-gather the prompt store or the whole slot cache onto every device
(measured: 53 GiB of temporaries per device for STEER's 7B rollout on a v5p-128, against 4 GiB for the
static decode). So the slots are `SamplerSpec.slot_groups` groups, one per data-parallel shard: a
group's slots take only its own rows (its own prompts), write only its own outputs, and compact among
themselves; every gather and scatter is vmapped over the group axis, which the partitioner keeps local.
Which slot decodes a row changes nothing in its tokens (its key and step pick them).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

from rlvr_jax.models import KVCache, init_cache, positions_from_mask
from rlvr_jax.models._decode_attention import decode_slots_read
from rlvr_jax.models._ragged_decode import fetch_tile_rows
from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.models._qwen import Qwen
from rlvr_jax.sampling._draw import ROW_TILE, Draw, SamplerSpec
from rlvr_jax.sampling._row_tiles import decode_logits, draw_rows
from rlvr_jax.sampling._state import DecodeStats, FinishReason, SamplerOutput
from rlvr_jax.sampling._strategies import SamplingKnobs

# Slots each group fills per admission round. A decode step frees a few slots (about S / mean length), so
# one round of 8 covers a step; the first step, with every slot free, takes S / G / 8 rounds once.
ADMIT_PER_ROUND = 8


@struct.dataclass
class PromptStore:
  """What the prefill keeps of each of the B prompts for admitting its rows.

  Attributes:
    k, v: the prompts' keys / values, in the cache layout of the model ([B, P, K, H] per layer, or
      stacked [L, B, P, K, H]).
    mask: [B, P] bool, real prompt tokens.
    first: token 0 of every row ([R] arrays), drawn from its prompt's next-token logits.
    row_keys: [R] PRNG keys, one stream per (prompt id, sample index).
  """

  k: tuple[jax.Array, ...] | jax.Array
  v: tuple[jax.Array, ...] | jax.Array
  mask: jax.Array
  first: Draw
  row_keys: jax.Array


@struct.dataclass
class SlotState:
  """The continuous decode loop's carry (donated into the decode program).

  Attributes:
    row: [S] int32, the output row each slot decodes (R when empty).
    step: [S] int32, the index of the slot's next response token.
    active: [S] bool, the slot holds an unfinished row.
    last_token, last_position: [S] int32, the token the next decode step feeds and its position.
    cache: the slots' KV cache (S rows, per-slot write index).
    next_row: [G] int32, each slot group's first row not yet admitted (`SamplerSpec.slot_groups`).
    tokens, logprobs: [R, N] outputs; sampling_logprobs [R, N] or None.
    lengths, finish_reason: [R] int32.
    row_keys: [R] PRNG keys, one stream per (prompt id, sample index).
    prompts: the prefill's `PromptStore`.
    stats: `DecodeStats` counters.
  """

  row: jax.Array
  step: jax.Array
  active: jax.Array
  last_token: jax.Array
  last_position: jax.Array
  cache: KVCache
  next_row: jax.Array
  tokens: jax.Array
  logprobs: jax.Array
  sampling_logprobs: jax.Array | None
  lengths: jax.Array
  finish_reason: jax.Array
  row_keys: jax.Array
  prompts: PromptStore
  stats: DecodeStats


def cache_slots(prompt_len: int, spec: SamplerSpec) -> int:
  """Slots per row: the prompt, then one per decode step (P + N - 1), as in the static sampler's cache."""
  return prompt_len + spec.max_new_tokens - 1


def continuous_prefill(model: Qwen, prompt_ids: jax.Array, prompt_mask: jax.Array, row_keys: jax.Array,
                       knobs: SamplingKnobs, spec: SamplerSpec, *, cache_dtype,
                       constrain: Constrain = no_constraint) -> PromptStore:
  """prompt_ids / prompt_mask [B, P] left-padded, row_keys [R = B * n] -> what admitting their rows needs."""
  positions = positions_from_mask(prompt_mask)  # [B, P]
  cache = init_cache(model.config, prompt_ids.shape[0], prompt_ids.shape[1], cache_dtype, constrain,
                     scan_layers=model.scan_layers)
  hidden, cache = model(prompt_ids, prompt_mask, positions, cache=cache, constrain=constrain)  # [B, P, D]
  logits = model.logits(hidden[:, -1:], constrain)[:, 0]  # [B, V]; left padding: the last column is real
  fan_out = lambda x: jnp.repeat(x, spec.num_samples, axis=0)  # noqa: E731  [B, ...] -> [R, ...], prompt-major
  rows = row_keys.shape[0]
  first = draw_rows(fan_out(logits), row_keys, jnp.arange(rows), jnp.zeros((rows,), jnp.int32),
                    fan_out(positions[:, -1]), jnp.ones((rows,), jnp.bool_), knobs, spec)
  return PromptStore(k=cache.k, v=cache.v, mask=prompt_mask.astype(jnp.bool_), first=first, row_keys=row_keys)


def _empty_slots(model: Qwen, store: PromptStore, spec: SamplerSpec, constrain: Constrain) -> SlotState:
  """The loop state before the first admission: every slot empty, every row pending. Built inside the
  decode program, so the loop updates its own buffers in place."""
  batch, prompt_len = store.mask.shape
  rows, new_tokens, slots = batch * spec.num_samples, spec.max_new_tokens, spec.slots
  dtype = (store.k[0] if isinstance(store.k, tuple) else store.k).dtype
  slot_cache = init_cache(model.config, slots, cache_slots(prompt_len, spec), dtype, constrain,
                          scan_layers=model.scan_layers, decode_block=spec.decode_block)
  slot_cache = slot_cache.replace(end_index=jnp.zeros((slots,), jnp.int32))
  per_slot = lambda fill, dtype: constrain(jnp.full((slots,), fill, dtype), "act_b")  # noqa: E731
  buffer = lambda dtype, fill: constrain(jnp.full((rows, new_tokens), fill, dtype), "act_bt")  # noqa: E731
  return SlotState(
      row=per_slot(rows, jnp.int32), step=per_slot(0, jnp.int32), active=per_slot(False, jnp.bool_),
      last_token=per_slot(0, jnp.int32), last_position=per_slot(0, jnp.int32), cache=slot_cache,
      next_row=jnp.zeros((spec.slot_groups,), jnp.int32),
      tokens=buffer(jnp.int32, spec.pad_id), logprobs=buffer(jnp.float32, 0.0),
      sampling_logprobs=buffer(jnp.float32, 0.0) if spec.sampling_logprobs else None,
      lengths=jnp.zeros((rows,), jnp.int32), finish_reason=jnp.full((rows,), FinishReason.LENGTH, jnp.int32),
      row_keys=store.row_keys, prompts=store, stats=DecodeStats.zero())


def _grouped(x: jax.Array, groups: int, axis: int = 0) -> jax.Array:
  """[..., S, ...] -> [..., G, S / G, ...] along `axis`: the slots (or rows, or prompts) of each group."""
  return x.reshape(x.shape[:axis] + (groups, x.shape[axis] // groups) + x.shape[axis + 1:])


def _flat(x: jax.Array, axis: int = 0) -> jax.Array:
  """The inverse of `_grouped`."""
  return x.reshape(x.shape[:axis] + (x.shape[axis] * x.shape[axis + 1],) + x.shape[axis + 2:])


def _per_group(fn, groups: int, *arrays: jax.Array, axes: tuple[int, ...] | None = None) -> jax.Array:
  """fn applied to each group's part of `arrays` (each split into `groups` along its axis), re-flattened.

  A vmapped gather / scatter keeps the group as a batch dimension, which the SPMD partitioner splits over
  the devices with no communication, where one over the flat axis would all-gather the operand first."""
  axes = axes or (0,) * len(arrays)
  out = jax.vmap(fn, in_axes=axes, out_axes=axes[0])(*(_grouped(x, groups, a) for x, a in zip(arrays, axes)))
  return _flat(out, axes[0])


def _record(s: SlotState, rows: jax.Array, step: jax.Array, draw, active: jax.Array, spec: SamplerSpec) -> SlotState:
  """Writes each active slot's drawn token into its row's outputs (inactive slots write nowhere); a
  group's slots write only its own rows."""
  groups, total = spec.slot_groups, s.tokens.shape[0]
  per_group = total // groups
  group = jnp.arange(rows.shape[0]) // (rows.shape[0] // groups)  # [S] each slot's group
  local = jnp.where(active, rows - group * per_group, per_group)  # [S] row within the group; out of range: dropped
  step = jnp.broadcast_to(step, rows.shape)

  def put(buffer: jax.Array, values: jax.Array) -> jax.Array:  # [R, N] <- [S] at (row, step)
    return _per_group(lambda b, r, t, v: b.at[r, t].set(v, mode="drop"), groups, buffer, local, step,
                      values.astype(buffer.dtype))

  def put_row(buffer: jax.Array, values: jax.Array) -> jax.Array:  # [R] <- [S] at row
    return _per_group(lambda b, r, v: b.at[r].set(v, mode="drop"), groups, buffer, local, values)

  sampling = s.sampling_logprobs
  if sampling is not None:
    sampling = put(sampling, draw.sampling)
  finish = jnp.where(draw.finished, draw.reason, FinishReason.LENGTH)
  return s.replace(tokens=put(s.tokens, draw.tokens), logprobs=put(s.logprobs, draw.behaviour),
                   sampling_logprobs=sampling, lengths=put_row(s.lengths, step + 1),
                   finish_reason=put_row(s.finish_reason, finish))


def _group_base(groups: int, per_group: int) -> jax.Array:
  """[G, 1]: the first row (or prompt) of each group."""
  return (jnp.arange(groups, dtype=jnp.int32) * per_group)[:, None]


def _copy_prompts(cache: KVCache, store: PromptStore, taken: jax.Array, prompt: jax.Array, width: int,
                  spec: SamplerSpec) -> KVCache:
  """Slots `taken` [S] get the keys / values of prompt `prompt` [S] (an index within the slot's group)
  in slots [0, P) and an empty response part; at most `width` slots per group are taken.

  Only the taken slots' prompts are gathered and written ([(L,) W, P, K, H] per group), not every slot's:
  a step frees a few slots, and copying all S / G slots' prompt parts each step read and wrote
  S x P x K x H values per layer whatever was admitted (on an accelerator at scale, as many bytes as the
  decode step's weights)."""
  groups, prompt_len = spec.slot_groups, store.mask.shape[1]
  per_group = taken.shape[0] // groups
  grouped_taken = _grouped(taken, groups)  # [G, S/G]
  chosen = jnp.argsort(~grouped_taken, axis=1, stable=True)[:, :width]  # [G, W] the taken slots first
  valid = jnp.take_along_axis(grouped_taken, chosen, axis=1)
  target = jnp.where(valid, chosen, per_group)  # [G, W] slot within the group; out of range: dropped
  source = jnp.take_along_axis(_grouped(prompt, groups), chosen, axis=1)  # [G, W] prompt within the group

  def fill(slot_kv: jax.Array, prompt_kv: jax.Array) -> jax.Array:  # [(L,) S, C, K, H] <- [(L,) B, P, K, H]
    lead = slot_kv.ndim - 4

    def one_group(slots, prompts, target, source):  # [(L,) S/G, C, K, H], [(L,) B/G, P, K, H], [W], [W]
      incoming = jnp.take(prompts, source, axis=lead)  # [(L,) W, P, K, H]
      index = (slice(None),) * lead + (target, slice(0, prompt_len))
      return slots.at[index].set(incoming, mode="drop")

    return _per_group(one_group, groups, slot_kv, prompt_kv, target.reshape(-1), source.reshape(-1),
                      axes=(lead, lead, 0, 0))

  fill_all = fill if cache.stacked else lambda slot, new: tuple(map(fill, slot, new))  # noqa: E731
  prompt_mask = _per_group(lambda m, i: jnp.take(m, i, axis=0), groups, store.mask, prompt)  # [S, P]
  slot_mask = jnp.concatenate([prompt_mask, jnp.zeros_like(cache.kv_mask[:, prompt_len:])], axis=1)
  return cache.replace(k=fill_all(cache.k, store.k), v=fill_all(cache.v, store.v),
                       kv_mask=jnp.where(taken[:, None], slot_mask, cache.kv_mask),
                       end_index=jnp.where(taken, prompt_len, cache.end_index))


def _admit_once(s: SlotState, spec: SamplerSpec) -> SlotState:
  """Gives the first `ADMIT_PER_ROUND` empty slots of every group the next pending rows of the group (in
  row order), with their token 0; `_admit` runs rounds until no group has both a free slot and a pending row."""
  groups, total = spec.slot_groups, s.tokens.shape[0]
  per_group = total // groups
  free = _grouped(~s.active, groups)  # [G, S/G]
  width = min(ADMIT_PER_ROUND, free.shape[1])
  rank = jnp.cumsum(free.astype(jnp.int32), axis=1)  # [G, S/G] 1, 2, ... over each group's free slots
  local = s.next_row[:, None] + rank - 1  # row within the group
  taken = free & (rank <= width) & (local < per_group)
  local = jnp.minimum(local, per_group - 1)
  rows = jnp.where(taken, local + _group_base(groups, per_group), total).reshape(-1)  # [S] global row ids
  prompt = (local // spec.num_samples).reshape(-1)  # [S] prompt within the group
  taken_slots = taken.reshape(-1)
  take_row = lambda x: _per_group(lambda a, i: jnp.take(a, i, axis=0), groups, x, local.reshape(-1))  # noqa: E731
  draw = Draw(*map(take_row, s.prompts.first))  # [S] each; read only where taken
  s = _record(s, rows, jnp.zeros_like(rows), draw, taken_slots, spec)
  cache = _copy_prompts(s.cache, s.prompts, taken_slots, prompt, width, spec)
  return s.replace(
      row=jnp.where(taken_slots, rows, s.row), step=jnp.where(taken_slots, 1, s.step),
      active=jnp.where(taken_slots, ~draw.finished, s.active),
      last_token=jnp.where(taken_slots, draw.tokens, s.last_token),
      last_position=jnp.where(taken_slots, draw.position, s.last_position),
      cache=cache, next_row=s.next_row + jnp.sum(taken.astype(jnp.int32), axis=1))


def _pending(s: SlotState, spec: SamplerSpec) -> jax.Array:
  """[G] bool: the group has rows not admitted yet."""
  return s.next_row < s.tokens.shape[0] // spec.slot_groups


def _admit(s: SlotState, spec: SamplerSpec) -> SlotState:
  """Admits pending rows until no group has both a free slot and a pending row (a row that ends at
  token 0 frees its slot again at once)."""
  def can_admit(s: SlotState) -> jax.Array:
    free = jnp.any(_grouped(~s.active, spec.slot_groups), axis=1)  # [G]
    return jnp.any(free & _pending(s, spec))

  return jax.lax.while_loop(can_admit, lambda s: _admit_once(s, spec), s)


def _decode_step(model: Qwen, s: SlotState, knobs: SamplingKnobs, spec: SamplerSpec,
                 constrain: Constrain) -> SlotState:
  """One token for every active slot: feed the last token at the slot's own cache slot, draw the next."""
  active = s.active
  row_filled = jnp.where(active, s.cache.end_index, 0) + 1  # [S] slots each row's attention may read
  logits, cache = decode_logits(model, s.last_token, active, s.last_position, s.cache, spec,
                                constrain)  # [S, V] float32
  keys = s.row_keys[jnp.minimum(s.row, s.tokens.shape[0] - 1)]
  draw = draw_rows(logits, keys, s.row, s.step, s.last_position, active, knobs, spec)
  s = _record(s, s.row, s.step, draw, active, spec)
  still = active & ~draw.finished
  # An empty slot keeps its write index at 0, so it does not raise the blocks the next step reads.
  cache = cache.replace(end_index=jnp.where(still, cache.end_index, 0))
  # The TPU kernel bounds each row (or tile of rows) by its own fill; the XLA loop every row by the batch's.
  cache_dtype = (cache.k[0] if isinstance(cache.k, tuple) else cache.k).dtype
  tile_rows = fetch_tile_rows(model.attention.name, spec.decode_block, model.config.num_kv_heads, active.shape[0],
                              cache_dtype, constrain)
  read = decode_slots_read(row_filled, cache.max_length, spec.decode_block, tile_rows=tile_rows)
  row_bound = decode_slots_read(row_filled, cache.max_length, spec.decode_block, tile_rows=1)
  return s.replace(step=s.step + 1, active=still, last_token=draw.tokens, last_position=draw.position,
                   cache=cache, stats=s.stats.count(active, read, row_bound))


def slot_phases(slots: int, groups: int = 1) -> tuple[int, ...]:
  """The slot counts the loop runs with: S while rows are pending, then 3/4, 1/2, 3/8 and 1/4 of S, then
  halves down to one tile as the last rows finish; each group's share in whole tiles of `ROW_TILE` / G.

  Why the finer steps at the top: a phase runs until its live rows fit the next one, so its slots are
  between the next count and its own busy; the first phases hold most of the tail's slot-steps, and
  quarter steps there keep the slots 95.7% busy where halving gave 93.2% (bench/sampler.py's long-tailed
  lengths, 512 rows on 128 slots; 93.1% against 88.7% on 256), for two more compiled copies of the decode step.
  Below S / 4 halving costs little. `rlvr_jax.sampling._schedule` counts a call's steps on the host.
  64 -> (64, 48, 32, 24, 16, 8); 24 -> (24, 16, 8); 64 in 16 groups -> (64, 48, 32, 16)."""
  tile = max(1, ROW_TILE // groups)  # a group's slots in one tile
  share = slots // groups
  targets = [share * 3 / 4, share / 2, share * 3 / 8]
  quarter = share / 4
  while quarter > tile:
    targets.append(quarter)
    quarter /= 2
  phases = [share]
  for target in targets + [tile]:
    whole_tiles = max(tile, math.ceil(target / tile) * tile)
    if whole_tiles < phases[-1]:
      phases.append(whole_tiles)
  return tuple(p * groups for p in phases)


def _compact(s: SlotState, slots: int, spec: SamplerSpec) -> SlotState:
  """The same loop state on `slots` slots: each group keeps its active slots first (every one fits)."""
  groups = spec.slot_groups
  keep = slots // groups
  order = jax.vmap(lambda a: jnp.argsort(~a, stable=True)[:keep])(_grouped(s.active, groups))  # [G, S'/G]
  order = order.reshape(-1)

  def take(x: jax.Array, axis: int = 0) -> jax.Array:
    return _per_group(lambda a, i: jnp.take(a, i, axis=axis), groups, x, order, axes=(axis, 0))

  lead = 1 if s.cache.stacked else 0
  take_kv = (lambda x: take(x, lead)) if s.cache.stacked else (lambda xs: tuple(take(x) for x in xs))  # noqa: E731
  cache = s.cache.replace(k=take_kv(s.cache.k), v=take_kv(s.cache.v), kv_mask=take(s.cache.kv_mask),
                          end_index=take(s.cache.end_index))
  return s.replace(row=take(s.row), step=take(s.step), active=take(s.active), last_token=take(s.last_token),
                   last_position=take(s.last_position), cache=cache)


def continuous_decode(model: Qwen, store: PromptStore, knobs: SamplingKnobs, spec: SamplerSpec, *,
                      constrain: Constrain = no_constraint) -> SlotState:
  """Admits and decodes every row of the prompts in `store` until all are done; returns the state
  without its caches (on the last phase's slots).

  The tail: once no row is pending, the slots empty out one by one and the static batch's waste would
  come back. So when every group's live rows fit in the next, smaller slot count of `slot_phases`, they
  move there (active slots first, caches gathered within each group) and decoding goes on with fewer
  slots: each phase is its own `while_loop` with static shapes in the same program.
  """
  state = _empty_slots(model, store, spec, constrain)

  def step(s: SlotState) -> SlotState:
    s = _admit(s, spec)
    # Skips the model when every admitted row ended at token 0. The branch is also its own computation,
    # so XLA compiles the decode step alike in every phase (the batch-invariant mode's bitwise parity
    # with the static sampler depends on that: fused into the admission, a one-tile step rounds apart).
    return jax.lax.cond(jnp.any(s.active), lambda s: _decode_step(model, s, knobs, spec, constrain),
                        lambda s: s, s)

  phases = slot_phases(spec.slots, spec.slot_groups)
  for following in phases[1:] + (0,):
    def keep_going(s: SlotState, following=following) -> jax.Array:
      pending = jnp.any(_pending(s, spec))
      live = jnp.sum(_grouped(s.active, spec.slot_groups).astype(jnp.int32), axis=1)  # [G]
      fits_smaller = ~pending & (jnp.max(live) <= following // spec.slot_groups)
      return (pending | jnp.any(live > 0)) & ~fits_smaller

    state = jax.lax.while_loop(keep_going, step, state)
    if following:
      state = _compact(state, following, spec)
  return state.replace(cache=None, prompts=None)


def continuous_output(state: SlotState) -> SamplerOutput:
  """The rows' outputs (prompt-major), as the static sampler returns them."""
  positions = jnp.arange(state.tokens.shape[1])
  return SamplerOutput(tokens=state.tokens, response_mask=positions[None, :] < state.lengths[:, None],
                       lengths=state.lengths, finish_reason=state.finish_reason, logprobs=state.logprobs,
                       sampling_logprobs=state.sampling_logprobs, stats=state.stats)
