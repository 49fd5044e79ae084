"""The TPU ragged decode kernel (Pallas, run in interpret mode on CPU): equal to XLA's masked attention per
row (left padding, rows of different fills, a row with nothing filled, the stacked cache of scanned layers,
a bfloat16 cache); its block index map stops at each row's own fill; the samplers built on it give the XLA
path's rows, on one device and on a mesh, and count the slots it reads per row."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax import models, sharding
from rlvr_jax.models import AttentionKernel
from rlvr_jax.models._attention import masked_attention
from rlvr_jax.models._modules import no_constraint
from rlvr_jax.models._decode_attention import decode_slots_read
from rlvr_jax.models._ragged_decode import (fetch_tile_rows, kv_block_index, local_kv_heads, ragged_block,
                                            ragged_decode_attention)
from rlvr_jax.sampling import generate
from tests.sampling.ragged_rows import CONFIG, SAMPLED, STOPS, left_padded_prompts

KV_HEADS, GROUPS, HEAD_DIM, SLOTS = 2, 3, 16, 30
RAGGED = AttentionKernel("splash", interpret=True)


def _cache(layers: int, dtype, kv_heads: int, batch: int, seed: int = 0):
  rng = np.random.default_rng(seed)
  q = jnp.asarray(rng.standard_normal((batch, 1, kv_heads * GROUPS, HEAD_DIM)), jnp.float32)
  shape = (layers, batch, SLOTS, kv_heads, HEAD_DIM)
  keys = jnp.asarray(rng.standard_normal(shape), dtype)
  values = jnp.asarray(rng.standard_normal(shape), dtype)
  # Row 2 ends in the partial last block (30 = 3 x 8 + 6); row 3 has nothing filled; the rest at random.
  filled = np.concatenate([[5, 19, 30, 0], rng.integers(1, SLOTS + 1, batch - 4)])
  kv_mask = np.arange(SLOTS)[None, :] < filled[:, None]
  kv_mask[1, :9] = False  # left padding: the first real slot is in the second block
  return q, keys, values, jnp.asarray(kv_mask), jnp.asarray(filled, jnp.int32)


def _reference(q, keys, values, kv_mask, filled):
  """XLA's masked attention, each row's query at its own last filled slot, in float32."""
  out = jax.jit(masked_attention)(q, keys.astype(jnp.float32), values.astype(jnp.float32), kv_mask,
                                  jnp.maximum(filled - 1, 0)[:, None])
  return np.asarray(out)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("kv_heads, batch", [(2, 4), (1, 4), (1, 32)],
                         ids=["two_heads", "one_head_one_tile", "one_head_tiles"])
def test_ragged_decode_equals_masked_attention_per_row(dtype, kv_heads, batch):
  """Blocks of 8 over 30 slots; stacked cache of 3 layers read at layer 1 (and an unstacked one). One KV
  head reads the [L, S, B, H] view in row tiles (32 rows: 4 tiles of 8 in float32, 2 of 16 in bfloat16)."""
  q, keys, values, kv_mask, filled = _cache(3, dtype, kv_heads, batch)
  kernel = jax.jit(lambda *a, layer: ragged_decode_attention(*a, block=8, layer=layer, interpret=True))
  stacked = np.asarray(kernel(q, keys, values, kv_mask, filled, layer=jnp.asarray(1)))
  single = np.asarray(jax.jit(lambda *a: ragged_decode_attention(*a, block=8, interpret=True))(
      q, keys[1], values[1], kv_mask, filled))
  reference = _reference(q, keys[1], values[1], kv_mask, filled)
  real = np.asarray(filled) > 0
  np.testing.assert_allclose(stacked[real], reference[real], rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(stacked, single)
  np.testing.assert_array_equal(stacked[~real], 0.0)  # a row with nothing filled reads nothing


def test_blocks_past_a_rows_fill_are_never_fetched():
  """The index map: a row with 19 slots filled (blocks of 8) fetches blocks 0, 1, 2, then block 2 again
  (no copy); an empty row stays on block 0, whose compute the kernel skips."""
  fetched = [int(kv_block_index(jnp.asarray(19), jnp.asarray(i), 8)) for i in range(6)]
  assert fetched == [0, 1, 2, 2, 2, 2]
  assert [int(kv_block_index(jnp.asarray(0), jnp.asarray(i), 8)) for i in range(3)] == [0, 0, 0]


def test_tpu_block_must_fill_the_lanes():
  assert ragged_block(256, 1535) == 256 and ragged_block(0, 1535) == 1535 and ragged_block(2048, 1535) == 1535
  assert ragged_block(8, 30, interpret=True) == 8
  with pytest.raises(ValueError, match=r"rollout\.decode_block=64 must be a multiple of 128"):
    ragged_block(64, 1535)


@pytest.fixture(scope="module")
def models_by_kernel():
  """The same weights with XLA attention and with the TPU kernels (splash prefill, ragged decode)."""
  xla = models.init(CONFIG, key=jax.random.key(0), dtype=jnp.float32, attention="xla")
  ragged = models.init(CONFIG, key=jax.random.key(0), dtype=jnp.float32, attention=RAGGED)
  return xla, ragged


@pytest.mark.parametrize("slots", [0, 8], ids=["static", "continuous"])
def test_samplers_on_the_ragged_kernel_give_the_xla_rows(models_by_kernel, slots):
  """32 sampled rows of ragged lengths, blocks of 8: the same tokens and finish reasons as on the XLA path,
  log-probs to float32 rounding; continuous batching counts the slots each row read by itself, fewer than
  the XLA loop's batch-wide bound."""
  xla, ragged = models_by_kernel
  ids, mask = left_padded_prompts()
  common = dict(key=jax.random.key(7), max_new_tokens=24, num_samples=8, stop_token_ids=STOPS, decode_block=8,
                slots=slots, **SAMPLED)
  want, got = generate(xla, ids, mask, **common), generate(ragged, ids, mask, **common)
  lengths = np.asarray(want.lengths)
  assert lengths.min() < 6 and lengths.max() == 24, lengths
  for field in ("tokens", "lengths", "finish_reason"):
    np.testing.assert_array_equal(np.asarray(getattr(want, field)), np.asarray(getattr(got, field)), err_msg=field)
  np.testing.assert_allclose(np.asarray(want.logprobs), np.asarray(got.logprobs), atol=2e-5)
  # The ragged run read what the XLA run counts as each row's own bound (the same lengths).
  assert float(got.stats.kv_slots_read) == float(want.stats.kv_slots_row_bound)
  if not slots:  # every row writes the same slot: the per-row bound is the batch's bound
    assert float(got.stats.kv_slots_read) == float(want.stats.kv_slots_read)
  else:
    assert float(got.stats.kv_slots_read) < 0.9 * float(want.stats.kv_slots_read)


@pytest.mark.parametrize("tensor", [1, 2], ids=["two_heads_per_device", "one_head_per_device"])
def test_ragged_kernel_on_a_mesh_equals_one_device(models_by_kernel, tensor):
  """Rows and slots over data x fsdp, scanned layers, the kernel per shard under shard_map on the stacked
  cache: with both KV heads on each device it fetches each row's own blocks; with the heads split over
  tensor=2 (one per device) it reads the one-head view by tiles of the device's rows. Either way the rows
  equal the single-device XLA sampler's."""
  xla, _ = models_by_kernel
  ids, mask = left_padded_prompts()
  mesh = sharding.make_mesh(sharding.MeshConfig(data=4 // tensor, fsdp=2, tensor=tensor))
  scanned = models.init(CONFIG, key=jax.random.key(0), dtype=jnp.float32, mesh=mesh, scan_layers=True,
                        attention=RAGGED)
  common = dict(key=jax.random.key(4), max_new_tokens=16, num_samples=8, stop_token_ids=STOPS, slots=16,
                decode_block=8, **SAMPLED)
  single = generate(xla, ids, mask, **common)
  sharded = generate(scanned, ids, mask, mesh=mesh, **common)
  np.testing.assert_array_equal(np.asarray(single.tokens), np.asarray(sharded.tokens))
  np.testing.assert_allclose(np.asarray(single.logprobs), np.asarray(sharded.logprobs), atol=1e-5)
  # The slot groups (one per data-parallel shard) schedule differently from one pool: compare within the run.
  read, row_bound = float(sharded.stats.kv_slots_read), float(sharded.stats.kv_slots_row_bound)
  assert read == row_bound if tensor == 1 else read > row_bound


def test_rows_sharing_a_fetch_bound():
  """Each row alone with several KV heads per device; a sublane tile of a device's rows with one (8 rows
  in float32, 16 in bfloat16, or all of them when the tile does not divide them); the whole batch on the
  XLA path; and the slots read follow."""
  mesh = sharding.make_mesh(sharding.MeshConfig(data=2, fsdp=1, tensor=4))
  on_mesh = sharding.ActivationSharding(mesh, "sample").constrain
  assert local_kv_heads(8, on_mesh) == 2 and local_kv_heads(4, on_mesh) == 1 and local_kv_heads(2, on_mesh) == 2
  assert fetch_tile_rows("splash", 128, 8, 64, jnp.bfloat16, on_mesh) == 1
  assert fetch_tile_rows("splash", 128, 4, 64, jnp.bfloat16, on_mesh) == 16  # 32 rows per device
  assert fetch_tile_rows("splash", 128, 4, 64, jnp.float32, on_mesh) == 8
  assert fetch_tile_rows("splash", 128, 4, 24, jnp.bfloat16, on_mesh) == 12  # 12 rows per device: all
  assert fetch_tile_rows("splash", 128, 4, 64, jnp.bfloat16, no_constraint) == 1
  assert fetch_tile_rows("splash", 0, 8, 64, jnp.bfloat16, no_constraint) == 64
  assert fetch_tile_rows("xla", 128, 8, 64, jnp.bfloat16, no_constraint) == 64
  filled = jnp.asarray([3, 20, 9, 1])
  assert int(decode_slots_read(filled, 30, 8, tile_rows=1)) == 8 + 24 + 16 + 8
  assert int(decode_slots_read(filled, 30, 8, tile_rows=2)) == 2 * 24 + 2 * 16
  assert int(decode_slots_read(filled, 30, 8, tile_rows=4)) == 4 * 24
