"""Rollout semantics of `generate`: stops and finish reasons, masking, determinism across batch
composition and meshes, no recompiles for new weights or new sampling values, input validation."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlvr_jax import models, sharding
from rlvr_jax.sampling import FinishReason, SamplingSettings, generate, make_generate_fn
from tests.compile_events import program_counter

CONFIG = dataclasses.replace(models.preset("tiny"), vocab_size=128, hidden_size=64, intermediate_size=144,
                             num_layers=2, num_heads=4, num_kv_heads=2, head_dim=16)
STOPS = tuple(range(100, 120))  # 20 of 128 ids: sampled rows usually stop within a few tokens
PAD = 1
# One shape shared by most tests, so they reuse one compiled sampler.
COMMON = dict(max_new_tokens=12, num_samples=2, stop_token_ids=STOPS, temperature=1.0, pad_id=PAD)

_compiles = program_counter()


def _model(seed: int = 0, config=CONFIG, mesh=None):
  return models.init(config, key=jax.random.key(seed), dtype=jnp.float32, mesh=mesh)


@pytest.fixture(scope="module")
def model():
  return _model()


def _prompts(batch: int = 4, seed: int = 0):
  rng = np.random.default_rng(seed)
  ids = rng.integers(2, 100, (batch, 8)).astype(np.int32)
  mask = np.ones_like(ids)
  for row, pad in enumerate([0, 3, 5, 1][:batch]):
    mask[row, :pad] = 0
  return np.where(mask == 1, ids, 0), mask


def _host(out):
  return jax.tree.map(np.asarray, out)


def test_greedy_rows_stop_at_any_stop_id(model):
  """Two stop ids taken from a free greedy run: each row ends at its first stop (kept, unmasked), the
  prefix equals the free run, everything after is pad with mask 0 and log-prob 0."""
  ids, mask = _prompts()
  free = _host(generate(model, ids, mask, key=jax.random.key(0), max_new_tokens=10, temperature=0.0, pad_id=PAD))
  assert (free.finish_reason == FinishReason.LENGTH).all() and (free.lengths == 10).all()
  stops = (int(free.tokens[0, 2]), int(free.tokens[1, 4]))
  out = _host(generate(model, ids, mask, key=jax.random.key(0), max_new_tokens=10, temperature=0.0, pad_id=PAD,
                       stop_token_ids=stops))
  for row in range(len(ids)):
    hits = [t for t in range(10) if free.tokens[row, t] in stops]
    length = hits[0] + 1 if hits else 10
    assert out.lengths[row] == length
    assert out.finish_reason[row] == (FinishReason.STOP if hits else FinishReason.LENGTH)
    np.testing.assert_array_equal(out.tokens[row, :length], free.tokens[row, :length])
    assert (out.tokens[row, length:] == PAD).all()
    assert out.response_mask[row].tolist() == [True] * length + [False] * (10 - length)
    np.testing.assert_allclose(out.logprobs[row, :length], free.logprobs[row, :length], atol=1e-6)
    assert (out.logprobs[row, length:] == 0).all()
  assert out.lengths[0] <= 3 and out.lengths[1] <= 5
  np.testing.assert_array_equal(out.truncated, out.finish_reason != FinishReason.STOP)


def test_sampled_rows_obey_stop_invariants(model):
  """Sampling with 20 stop ids: a stop id appears only as a row's last token and only with reason STOP;
  LENGTH rows are full; masks are prefixes of the reported length; the loop ends every row."""
  ids, mask = _prompts()
  out = _host(generate(model, ids, mask, key=jax.random.key(3), **COMMON))
  reasons = out.finish_reason
  assert (reasons == FinishReason.STOP).any() and set(reasons.tolist()) <= {FinishReason.STOP, FinishReason.LENGTH}
  for row in range(out.tokens.shape[0]):
    length, tokens = out.lengths[row], out.tokens[row]
    assert out.response_mask[row].tolist() == [True] * length + [False] * (12 - length)
    is_stop = np.isin(tokens[:length], STOPS)
    assert not is_stop[:-1].any()
    assert bool(is_stop[-1]) == (reasons[row] == FinishReason.STOP)
    if reasons[row] == FinishReason.LENGTH:
      assert length == 12
    assert (tokens[length:] == PAD).all()


def test_same_key_same_samples_other_key_other_samples(model):
  """Reproducible under a fixed key (typed or raw key data); a different key or prompt id changes them."""
  ids, mask = _prompts()
  a = _host(generate(model, ids, mask, key=jax.random.key(3), **COMMON))
  b = _host(generate(model, ids, mask, key=jax.random.key(3), **COMMON))
  c = _host(generate(model, ids, mask, key=jax.random.key(4), **COMMON))
  d = _host(generate(model, ids, mask, key=jax.random.key(3), prompt_ids_for_rng=np.arange(10, 14), **COMMON))
  raw = _host(generate(model, ids, mask, key=jax.random.key_data(jax.random.key(3)), **COMMON))
  np.testing.assert_array_equal(a.tokens, b.tokens)
  np.testing.assert_array_equal(a.tokens, raw.tokens)  # raw uint32 key data (as in a train state) works too
  np.testing.assert_array_equal(a.logprobs, b.logprobs)
  assert (a.tokens != c.tokens).any() and (a.tokens != d.tokens).any()
  # The n samples of one prompt are different streams, not copies.
  assert (a.tokens[0::2] != a.tokens[1::2]).any()


def test_samples_do_not_depend_on_batch_composition(model):
  """A prompt with id 5 gets the same samples alone and as the second row of a batch of 4."""
  ids, mask = _prompts()
  batched = _host(generate(model, ids, mask, key=jax.random.key(8), prompt_ids_for_rng=np.array([3, 5, 9, 11]),
                           **COMMON))
  alone = _host(generate(model, ids[1:2], mask[1:2], key=jax.random.key(8), prompt_ids_for_rng=np.array([5]),
                         **COMMON))
  np.testing.assert_array_equal(alone.tokens, batched.tokens[2:4])
  np.testing.assert_array_equal(alone.lengths, batched.lengths[2:4])
  np.testing.assert_allclose(alone.logprobs, batched.logprobs[2:4], atol=1e-5)


def test_eight_device_mesh_gives_the_same_samples(model):
  """Weights in the trainer's FSDP + tensor layout on a (2, 2, 2) mesh, rows over data x fsdp: the same
  tokens and log-probs as on one device, outputs sharded by rows."""
  assert jax.device_count() == 8
  ids, mask = _prompts()
  mesh = sharding.make_mesh(sharding.MeshConfig(data=2, fsdp=2, tensor=2))
  sharded = _model(mesh=mesh)
  assert sharded.layers[0].mlp.gate_proj[...].sharding.spec == jax.sharding.PartitionSpec("fsdp", "tensor")
  single = _host(generate(model, ids, mask, key=jax.random.key(3), **COMMON))
  out = generate(sharded, ids, mask, key=jax.random.key(3), mesh=mesh, **COMMON)
  assert out.tokens.sharding.spec == jax.sharding.PartitionSpec(("data", "fsdp"), None)
  assert len(out.tokens.sharding.device_set) == 8
  out = _host(out)
  np.testing.assert_array_equal(out.tokens, single.tokens)
  np.testing.assert_array_equal(out.finish_reason, single.finish_reason)
  np.testing.assert_allclose(out.logprobs, single.logprobs, atol=1e-5)


def test_scanned_layers_on_the_mesh_give_the_same_samples(model):
  """scan_layers=True (stacked weights, stacked [L, B, S, K, H] cache fanned out and sharded with the
  layer axis unsplit) on the (2, 2, 2) mesh: the same samples as the unrolled model on one device."""
  ids, mask = _prompts()
  mesh = sharding.make_mesh(sharding.MeshConfig(data=2, fsdp=2, tensor=2))
  scanned = models.init(CONFIG, key=jax.random.key(0), dtype=jnp.float32, mesh=mesh, scan_layers=True)
  single = _host(generate(model, ids, mask, key=jax.random.key(3), **COMMON))
  out = _host(generate(scanned, ids, mask, key=jax.random.key(3), mesh=mesh, **COMMON))
  np.testing.assert_array_equal(out.tokens, single.tokens)
  np.testing.assert_array_equal(out.lengths, single.lengths)
  np.testing.assert_allclose(out.logprobs, single.logprobs, atol=1e-5)


def test_new_weights_and_sampling_values_do_not_recompile(model):
  """After one warm call, new weights of the same shapes and new temperature / top-p values run the
  already-compiled programs: zero backend compilations, yet the outputs change."""
  ids, mask = _prompts()
  common = dict(COMMON, top_p=0.9)
  first = _host(generate(model, ids, mask, key=jax.random.key(3), **common))
  retrained = _model(seed=1)
  before = len(_compiles)
  second = _host(generate(retrained, ids, mask, key=jax.random.key(3), **common))
  third = _host(generate(retrained, ids, mask, key=jax.random.key(3), **dict(common, temperature=0.6, top_p=0.8)))
  assert len(_compiles) == before, _compiles[before:]
  assert (first.tokens != second.tokens).any() and (second.logprobs != third.logprobs).any()


def test_context_window_truncates_rows():
  """With max_position_embeddings=12 and an 8-token prompt bucket, a full prompt gets 4 tokens and
  finishes TRUNCATED; a 3-token prompt reaches max_new_tokens=8 first and finishes LENGTH."""
  model = _model(config=dataclasses.replace(CONFIG, max_position_embeddings=12))
  ids, mask = _prompts(batch=3)
  mask[2, :] = 0
  mask[2, -3:] = 1
  out = _host(generate(model, ids, mask, key=jax.random.key(0), max_new_tokens=8, temperature=0.0, pad_id=PAD))
  assert out.lengths.tolist() == [4, 7, 8]  # real prompt lengths 8, 5, 3
  assert out.finish_reason.tolist() == [FinishReason.TRUNCATED, FinishReason.TRUNCATED, FinishReason.LENGTH]
  assert out.truncated.all()
  assert (out.tokens[0, 4:] == PAD).all()


@pytest.mark.parametrize("change,field", [
    (dict(max_new_tokens=0), "max_new_tokens"),
    (dict(num_samples=0), "num_samples"),
    (dict(stop_token_ids=(128,)), "stop_token_ids"),
    (dict(pad_id=-1), "pad_id"),
    (dict(temperature=-1.0), "temperature"),
    (dict(top_p=0.0), "top_p"),
    (dict(prompt_ids_for_rng=np.arange(3)), "prompt_ids_for_rng"),
    (dict(prompt_mask=np.ones((4, 7), np.int32)), "prompt_mask"),
    (dict(prompt_mask=np.pad(np.ones((4, 6), np.int32), ((0, 0), (0, 2)))), "left-padded"),
    (dict(prompt_ids=np.full((4, 8), 300, np.int32)), "prompt_ids"),
    (dict(key=0), "key"),
])
def test_bad_arguments_raise_before_compiling(model, change, field):
  """Each bad argument raises ValueError naming it, before anything is compiled."""
  ids, mask = _prompts()
  kwargs = dict(COMMON, prompt_ids=ids, prompt_mask=mask, key=jax.random.key(0)) | change
  before = len(_compiles)
  with pytest.raises(ValueError, match=field):
    generate(model, kwargs.pop("prompt_ids"), kwargs.pop("prompt_mask"), **kwargs)
  assert len(_compiles) == before


def test_a_batch_split_into_sampler_calls_gives_the_same_samples(model):
  """rollout.prompts_per_call: `make_generate_fn(calls=2)` decodes a batch of 4 prompts as two calls of 2
  (one compiled program, a KV cache half the size) and returns exactly the rows of one call of 4."""
  ids, mask = _prompts()
  graphdef, params = nnx.split(model)
  settings = SamplingSettings(num_samples=2, max_new_tokens=12, temperature=1.0, top_p=1.0, top_k=0,
                              stop_token_ids=STOPS)
  row_ids = np.array([3, 5, 9, 11])
  whole = _host(make_generate_fn(graphdef, settings, None)(params, ids, mask, row_ids, jax.random.key(4)))
  before = len(_compiles)
  split = _host(make_generate_fn(graphdef, settings, None, calls=2)(params, ids, mask, row_ids, jax.random.key(4)))
  halves = len(_compiles) - before
  assert split.tokens.shape == whole.tokens.shape == (8, 12)
  np.testing.assert_array_equal(split.tokens, whole.tokens)
  np.testing.assert_array_equal(split.lengths, whole.lengths)
  np.testing.assert_allclose(split.logprobs, whole.logprobs, atol=1e-5)
  again = len(_compiles)
  make_generate_fn(graphdef, settings, None, calls=2)(params, ids, mask, row_ids, jax.random.key(5))
  assert halves >= 1 and len(_compiles) == again, "the second split run must reuse the half-size program"
  with pytest.raises(ValueError, match="4 prompts do not split into 3 equal sampler calls"):
    make_generate_fn(graphdef, settings, None, calls=3)(params, ids, mask, row_ids, jax.random.key(4))
