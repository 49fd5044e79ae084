"""Continuous batching (slot refill) against the static sampler: the same tokens, and log-probs to float32
rounding, at several slot counts, greedy and sampled, with ragged lengths; bitwise independence of slot
assignment; its tail phases, its counters, a mesh;
decode attention that reads only filled blocks; greedy parity with transformers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from rlvr_jax import models, sharding
from rlvr_jax.models import hf_reference
from rlvr_jax.models._decode_attention import blocked_decode_attention
from rlvr_jax.models._attention import masked_attention
from rlvr_jax.sampling import DecodeSchedule, continuous_schedule, generate, static_schedule
from rlvr_jax.sampling._continuous import slot_phases
from tests.sampling.ragged_rows import CONFIG, SAMPLED, STOPS, left_padded_prompts

FIELDS = ("tokens", "response_mask", "lengths", "finish_reason", "logprobs", "sampling_logprobs")


@pytest.fixture(scope="module")
def model():
  return models.init(CONFIG, key=jax.random.key(0), dtype=jnp.float32)


def _host(out):
  return {f: None if getattr(out, f) is None else np.asarray(getattr(out, f)) for f in FIELDS}


@pytest.mark.parametrize("settings", [dict(temperature=0.0), SAMPLED], ids=["greedy", "sampled"])
def test_continuous_equals_static_at_any_slot_count(model, settings):
  """32 rows (4 prompts x 8 samples) with ragged lengths: 1 (one tile of 8) and 24 slots give the static
  sampler's tokens, masks and finish reasons exactly, and its log-probs to float32 rounding. (Not bit
  for bit: XLA:CPU's matmuls and row reductions round a row differently at different batch sizes,
  and the slot count is the decode batch size; docs/benchmarks.md. With the batch size fixed, results
  are bitwise independent of which rows share it: next test.)"""
  ids, mask = left_padded_prompts()
  common = dict(key=jax.random.key(7), max_new_tokens=24, num_samples=8, stop_token_ids=STOPS,
                return_sampling_logprobs=True, decode_block=8, **settings)
  static = _host(generate(model, ids, mask, **common))
  lengths = static["lengths"]
  if settings["temperature"] > 0:
    assert lengths.min() < 6 and lengths.max() == 24, lengths  # ragged: refills happen mid-batch
  for slots in (1, 24):
    out = _host(generate(model, ids, mask, slots=slots, **common))
    for field in ("tokens", "response_mask", "lengths", "finish_reason"):
      np.testing.assert_array_equal(static[field], out[field], err_msg=f"{field} at {slots} slots")
    for field in ("logprobs", "sampling_logprobs"):
      np.testing.assert_allclose(static[field], out[field], atol=2e-6, rtol=0, err_msg=f"{field} at {slots} slots")


@pytest.mark.parametrize("settings", [dict(temperature=0.0), SAMPLED], ids=["greedy", "sampled"])
def test_batch_invariant_mode_equals_static_bitwise_at_any_slot_count(model, settings):
  """With batch_invariant=True (each decode step on tiles of 8 rows), 8, 16 and 32 slots (phases of 8, of
  16 then 8, of 32 then 16 then 8) give the static sampler's tokens and both log-probs bit for bit, on
  ragged lengths."""
  ids, mask = left_padded_prompts()
  common = dict(key=jax.random.key(7), max_new_tokens=24, num_samples=8, stop_token_ids=STOPS,
                return_sampling_logprobs=True, decode_block=8, batch_invariant=True, **settings)
  static = _host(generate(model, ids, mask, **common))
  if settings["temperature"] > 0:
    assert static["lengths"].min() < 6 and static["lengths"].max() == 24, static["lengths"]
  for slots in (8, 16, 32):
    out = _host(generate(model, ids, mask, slots=slots, **common))
    for field in FIELDS:
      np.testing.assert_array_equal(static[field], out[field], err_msg=f"{field} at {slots} slots")


def test_shuffled_prompt_order_gives_the_same_rows(model):
  """Rows are admitted in row order, so shuffling the prompts changes which rows share slots and when;
  each prompt's samples (keyed by its id) stay the same, bit for bit (8 slots: one phase, one batch size)."""
  ids, mask = left_padded_prompts(batch=6, seed=3)
  common = dict(key=jax.random.key(2), max_new_tokens=20, num_samples=4, stop_token_ids=STOPS, slots=8,
                decode_block=8, return_sampling_logprobs=True, **SAMPLED)
  rng_ids = np.arange(100, 106)
  out = _host(generate(model, ids, mask, prompt_ids_for_rng=rng_ids, **common))
  order = np.array([4, 0, 5, 2, 1, 3])
  shuffled = _host(generate(model, ids[order], mask[order], prompt_ids_for_rng=rng_ids[order], **common))
  rows = (order[:, None] * 4 + np.arange(4)).reshape(-1)
  assert out["lengths"].min() < 5 and out["lengths"].max() == 20  # refills happen in both orders
  for field in FIELDS:
    np.testing.assert_array_equal(out[field][rows], shuffled[field], err_msg=field)


def test_slots_stay_busy_and_the_tail_shrinks(model):
  """The counters: both samplers decode the same useful tokens; the continuous one spends fewer
  slot-steps on them (refills, then the tail phases), and every slot-step it runs in its first phase is
  busy while rows are pending."""
  ids, mask = left_padded_prompts(batch=8)
  common = dict(key=jax.random.key(1), max_new_tokens=24, num_samples=8, stop_token_ids=STOPS, decode_block=8,
                **SAMPLED)
  static = generate(model, ids, mask, **common)
  continuous = generate(model, ids, mask, slots=16, **common)
  useful = int(np.asarray(static.lengths).sum()) - 64  # token 0 of each row comes from the prefill
  assert int(static.stats.busy_slot_steps) == int(continuous.stats.busy_slot_steps) == useful
  assert int(static.stats.slot_steps) == 64 * int(static.stats.steps)
  assert int(continuous.stats.slot_steps) < int(static.stats.slot_steps)
  assert useful / int(continuous.stats.slot_steps) > 0.8, jax.tree.map(int, continuous.stats)
  # The host transcription of both schedules gives the compiled loops' counters exactly.
  lengths = np.asarray(continuous.lengths)
  assert _counters(static) == static_schedule(lengths)
  assert _counters(continuous) == continuous_schedule(lengths, 16)
  assert slot_phases(64) == (64, 48, 32, 24, 16, 8) and slot_phases(24) == (24, 16, 8) and slot_phases(8) == (8,)
  assert slot_phases(256) == (256, 192, 128, 96, 64, 32, 16, 8) and slot_phases(64, groups=16) == (64, 48, 32, 16)


def _counters(out) -> DecodeSchedule:
  stats = jax.tree.map(int, out.stats)
  return DecodeSchedule(steps=stats.steps, slot_steps=stats.slot_steps, busy_slot_steps=stats.busy_slot_steps)


def test_schedules_by_hand():
  """Hand-counted: lengths [1, 3, 2, 5] (token 0 included) on 2 slots, phases (2,): rows 0 ends at
  admission, rows 1 and 2 take the slots; after 1 step row 2 ends and row 3 takes its slot; step 2 ends
  row 1; row 3 needs 4 decode tokens: 1 + 1 + 3 more steps alone = 5 steps, 10 slot-steps, 7 busy.
  The static loop runs to the longest row: 4 steps x 4 rows."""
  assert continuous_schedule([1, 3, 2, 5], 2) == DecodeSchedule(steps=5, slot_steps=10, busy_slot_steps=7)
  assert static_schedule([1, 3, 2, 5]) == DecodeSchedule(steps=4, slot_steps=16, busy_slot_steps=7)
  assert continuous_schedule([1, 1, 1], 1) == DecodeSchedule(steps=0, slot_steps=0, busy_slot_steps=0)
  # 16 slots, phases (16, 8): 64 rows of length 9 in four waves of 8 steps, then 8 rows of length 17.
  # Those were pending when the loop last checked its phase, so their first step runs on 16 slots and
  # the other 15 on 8.
  lengths = [9] * 64 + [17] * 8
  assert continuous_schedule(lengths, 16) == DecodeSchedule(steps=4 * 8 + 16, slot_steps=4 * 8 * 16 + 16 + 15 * 8,
                                                            busy_slot_steps=64 * 8 + 8 * 16)
  with pytest.raises(ValueError, match="groups=3"):
    continuous_schedule([2] * 8, 8, groups=3)
  with pytest.raises(ValueError, match="lengths must be >= 1"):
    continuous_schedule([0, 2], 2)


def test_rows_that_end_at_token_zero_free_their_slot_at_once(model):
  """Every token a stop token: each row ends at its first token, during admission; all rows finish."""
  ids, mask = left_padded_prompts()
  out = generate(model, ids, mask, key=jax.random.key(0), max_new_tokens=5, num_samples=4, slots=8,
                 stop_token_ids=tuple(range(CONFIG.vocab_size)), temperature=1.0)
  np.testing.assert_array_equal(np.asarray(out.lengths), 1)
  assert int(out.stats.steps) == 0


def test_eight_device_mesh_gives_the_same_rows(model):
  """Slots and rows over data x fsdp, heads over tensor on a (2, 2, 2) mesh, scanned layers: the same
  rows as the unsharded continuous sampler."""
  ids, mask = left_padded_prompts()
  mesh = sharding.make_mesh(sharding.MeshConfig(data=2, fsdp=2, tensor=2))
  scanned = models.init(CONFIG, key=jax.random.key(0), dtype=jnp.float32, mesh=mesh, scan_layers=True)
  common = dict(key=jax.random.key(4), max_new_tokens=16, num_samples=8, stop_token_ids=STOPS, slots=16,
                decode_block=8, **SAMPLED)
  single = _host(generate(model, ids, mask, **common))
  sharded_out = generate(scanned, ids, mask, mesh=mesh, **common)
  sharded = _host(sharded_out)
  # One slot group per data-parallel shard (data x fsdp = 4): the schedule of 4 groups of 4 slots.
  assert _counters(sharded_out) == continuous_schedule(sharded["lengths"], 16, groups=4)
  assert continuous_schedule(sharded["lengths"], 16, groups=4) != continuous_schedule(sharded["lengths"], 16)
  np.testing.assert_array_equal(single["tokens"], sharded["tokens"])
  np.testing.assert_allclose(single["logprobs"], sharded["logprobs"], atol=1e-5)


def test_continuous_greedy_matches_transformers(tmp_path):
  """Greedy continuous batching (4 slots for 6 rows: refills) equals transformers generate token for token."""
  config = hf_reference.tiny_hf_config("qwen2", tied=True, attention_bias=False)
  torch_model = hf_reference.make_random_checkpoint(tmp_path, config, seed=3)
  model = models.load_pretrained(str(tmp_path), dtype=jnp.float32)
  ids, mask = hf_reference.padded_batch([8, 3, 5, 6, 2, 7], 8, config.vocab_size, side="left", seed=11)
  with torch.no_grad():
    reference = torch_model.generate(input_ids=torch.as_tensor(ids, dtype=torch.long),
                                     attention_mask=torch.as_tensor(mask, dtype=torch.long), max_new_tokens=12,
                                     do_sample=False, pad_token_id=0).numpy()[:, 8:]
  out = generate(model, ids, mask, key=jax.random.key(0), max_new_tokens=12, temperature=0.0, slots=4,
                 decode_block=8)
  np.testing.assert_array_equal(np.asarray(out.tokens), reference)


def test_blocked_decode_attention_equals_masked_attention():
  """One query per row against a 30-slot cache read in blocks of 8 (the last block overlaps the third),
  rows filled to different lengths (one with leading padding): equal to XLA's masked attention over
  every slot; trailing empty blocks change nothing, bit for bit."""
  rng = np.random.default_rng(0)
  batch, slots, kv_heads, groups, head_dim = 3, 30, 2, 3, 16
  q = jnp.asarray(rng.standard_normal((batch, 1, kv_heads * groups, head_dim)), jnp.float32)
  keys = jnp.asarray(rng.standard_normal((batch, slots, kv_heads, head_dim)), jnp.float32)
  values = jnp.asarray(rng.standard_normal((batch, slots, kv_heads, head_dim)), jnp.float32)
  filled = np.array([5, 19, 13])
  kv_mask = np.arange(slots)[None, :] < filled[:, None]
  kv_mask[2, :9] = False  # left padding: the first real slot is in the second block
  kv_mask = jnp.asarray(kv_mask)
  # Jitted, as the sampler runs them (op by op: ~50 compiled programs).
  masked = jax.jit(masked_attention)
  blocked_attention = jax.jit(blocked_decode_attention, static_argnames="block")
  reference = masked(q, keys, values, kv_mask, jnp.full((1,), slots - 1))
  blocked = blocked_attention(q, keys, values, kv_mask, jnp.asarray(19), 8)
  np.testing.assert_allclose(blocked, reference, rtol=1e-5, atol=1e-6)
  more_blocks = blocked_attention(q, keys, values, kv_mask, jnp.asarray(30), 8)
  np.testing.assert_array_equal(blocked, more_blocks)
  full = np.asarray(kv_mask).copy()
  full[1] = True  # a row filled to the end: the overlapping last block counts slots 24-29 once
  reference = masked(q, keys, values, jnp.asarray(full), jnp.full((1,), slots - 1))
  np.testing.assert_allclose(blocked_attention(q, keys, values, jnp.asarray(full), jnp.asarray(30), 8),
                             reference, rtol=1e-5, atol=1e-6)


def test_decode_reads_only_filled_blocks(model):
  """The static sampler with blocks of 8 reads fewer cache slots than with one block of every slot,
  for the same tokens."""
  ids, mask = left_padded_prompts()
  common = dict(key=jax.random.key(3), max_new_tokens=40, num_samples=2, temperature=1.0)
  whole = generate(model, ids, mask, decode_block=0, **common)
  blocked = generate(model, ids, mask, decode_block=8, **common)
  np.testing.assert_array_equal(np.asarray(whole.tokens), np.asarray(blocked.tokens))
  np.testing.assert_allclose(np.asarray(whole.logprobs), np.asarray(blocked.logprobs), atol=2e-5)
  assert float(blocked.stats.kv_slots_read) < 0.75 * float(whole.stats.kv_slots_read)


def test_bad_slot_settings_name_the_field(model):
  ids, mask = left_padded_prompts()
  with pytest.raises(ValueError, match="slots=-1"):
    generate(model, ids, mask, key=jax.random.key(0), max_new_tokens=4, slots=-1)
  with pytest.raises(ValueError, match="decode_block=1.5"):
    generate(model, ids, mask, key=jax.random.key(0), max_new_tokens=4, decode_block=1.5)
