"""The attention option: kernel choice per platform and dtype, build-time errors, and the fused kernels'
parity with the XLA path (splash in Pallas interpret mode on CPU; cuDNN's mask semantics on XLA)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlvr_jax import models, sharding
from rlvr_jax.models import hf_reference
from rlvr_jax.models._attention import (AttentionKernel, masked_attention, resolve_attention, same_segment_causal_mask,
                                       splash_attention)
from tests.models.test_qwen_parity import REL_TOL, relative_error

SPLASH_INTERPRET = AttentionKernel("splash", interpret=True)


@pytest.mark.parametrize("option, platform, dtype, expected", [
    ("auto", "cpu", jnp.float32, "xla"),
    ("auto", "cpu", jnp.bfloat16, "xla"),
    ("auto", "tpu", jnp.float32, "splash"),
    ("auto", "tpu", jnp.bfloat16, "splash"),
    ("auto", "gpu", jnp.bfloat16, "cudnn"),
    ("auto", "cuda", jnp.float16, "cudnn"),
    ("auto", "gpu", jnp.float32, "xla"),  # cuDNN flash attention has no float32 kernel
    ("xla", "tpu", jnp.bfloat16, "xla"),
    ("splash", "tpu", jnp.float32, "splash"),
    ("cudnn", "gpu", jnp.bfloat16, "cudnn"),
])
def test_auto_picks_what_can_run(option, platform, dtype, expected):
  assert resolve_attention(option, platform=platform, dtype=dtype) == AttentionKernel(expected)


@pytest.mark.parametrize("option, platform, dtype, message", [
    ("splash", "cpu", jnp.float32, r"model\.attention='splash' is a TPU .*platform is 'cpu'"),
    ("splash", "gpu", jnp.bfloat16, r"model\.attention='splash' is a TPU .*platform is 'gpu'"),
    ("cudnn", "cpu", jnp.bfloat16, r"model\.attention='cudnn' needs an NVIDIA GPU; the platform is 'cpu'"),
    ("cudnn", "tpu", jnp.bfloat16, r"model\.attention='cudnn' needs an NVIDIA GPU; the platform is 'tpu'"),
    ("cudnn", "gpu", jnp.float32, r"model\.attention='cudnn' runs in bfloat16 or float16 only.*float32"),
    ("flash", "tpu", jnp.bfloat16, r"model\.attention='flash'; known: 'auto', 'xla', 'splash', 'cudnn'"),
])
def test_kernel_that_cannot_run_raises_at_build_time(option, platform, dtype, message):
  """No silent fallback: the model refuses to build, naming the option and the reason."""
  with pytest.raises(ValueError, match=message):
    models.abstract_model(models.preset("tiny", num_layers=1), dtype, attention=option, platform=platform)


def test_model_records_the_resolved_kernel():
  """The default backend here is CPU: auto is the XLA path; an explicit target platform changes it."""
  config = models.preset("tiny", num_layers=1)
  assert models.abstract_model(config).attention == AttentionKernel("xla")
  assert models.abstract_model(config, platform="tpu").attention == AttentionKernel("splash")
  assert models.abstract_model(config, platform="tpu").layers[0].attn.kernel == AttentionKernel("splash")


def test_same_segment_causal_mask_by_hand():
  """valid [0, 1, 1, 0]: pad 0 sees itself; real 1, 2 see real tokens up to themselves; pad 3 sees 0 and 3."""
  got = np.asarray(same_segment_causal_mask(jnp.asarray([[0, 1, 1, 0]], bool)))[0, 0]
  want = np.array([[1, 0, 0, 0],
                   [0, 1, 0, 0],
                   [0, 1, 1, 0],
                   [1, 0, 0, 1]], bool)
  np.testing.assert_array_equal(got, want)


def _qkv_and_masks(seq_len=100, seed=0):
  keys = jax.random.split(jax.random.key(seed), 3)
  q = jax.random.normal(keys[0], (3, seq_len, 4, 32))  # B, T, N, H
  k = jax.random.normal(keys[1], (3, seq_len, 2, 32))  # K = 2: grouped-query attention
  v = jax.random.normal(keys[2], (3, seq_len, 2, 32))
  valid = np.zeros((3, seq_len), bool)
  valid[0, 30:] = True  # left padding
  valid[1, :61] = True  # right padding
  valid[2, 10:80] = True  # both (a left-padded prompt followed by a right-padded completion)
  return q, k, v, jnp.asarray(valid)


def test_same_segment_mask_equals_the_xla_mask_on_real_tokens():
  """The mask the cuDNN path hands to cuDNN gives, on real query tokens, the XLA path's attention."""
  q, k, v, valid = _qkv_and_masks()
  xla = jax.jit(masked_attention)(q, k, v, valid, jnp.arange(q.shape[1]))
  mask = same_segment_causal_mask(valid)
  segment = jax.jit(lambda q, k, v: jax.nn.dot_product_attention(q, k, v, mask=mask))(q, k, v)
  real = np.asarray(valid)
  np.testing.assert_allclose(np.asarray(segment)[real], np.asarray(xla)[real], atol=1e-6)
  assert np.abs(np.asarray(segment)[~real] - np.asarray(xla)[~real]).max() > 1e-3  # padding rows do differ


def test_splash_interpret_matches_xla_forward_and_gradient():
  """The splash kernel (Pallas interpret mode; T = 100 padded to the 128 tile), grouped-query, left/right
  padding as segment ids: output and the gradient of a loss over real tokens equal the XLA path's."""
  q, k, v, valid = _qkv_and_masks()
  real = valid[:, :, None, None]

  def loss(attend, q, k, v):
    return jnp.sum(jnp.where(real, attend(q, k, v), 0.0) ** 2)

  def xla(q, k, v):
    return masked_attention(q, k, v, valid, jnp.arange(q.shape[1]))

  def fused(q, k, v):
    return splash_attention(q, k, v, valid, interpret=True)

  np.testing.assert_allclose(np.asarray(jax.jit(fused)(q, k, v))[np.asarray(valid)],
                             np.asarray(jax.jit(xla)(q, k, v))[np.asarray(valid)], atol=2e-6)
  grads_fused = jax.jit(jax.grad(lambda *a: loss(fused, *a), argnums=(0, 1, 2)))(q, k, v)
  grads_xla = jax.jit(jax.grad(lambda *a: loss(xla, *a), argnums=(0, 1, 2)))(q, k, v)
  for name, g, want in zip("qkv", grads_fused, grads_xla):
    np.testing.assert_allclose(np.asarray(g), np.asarray(want), atol=2e-5, err_msg=name)


@pytest.fixture(scope="module")
def splash_model(hf_checkpoints):
  """qwen3-tied-bias (N = 4, K = 2) with scanned layers and the splash kernel in interpret mode."""
  path, torch_model, config = hf_checkpoints["qwen3-tied-bias"]
  return path, torch_model, config, models.load_pretrained(path, dtype=jnp.float32, scan_layers=True,
                                                           attention=SPLASH_INTERPRET)


def test_splash_model_logits_match_transformers(splash_model):
  path, torch_model, config, model = splash_model
  ids, mask = hf_reference.padded_batch([9, 16, 4, 1], 16, config.vocab_size, side="left", seed=1)
  ours = np.asarray(models.logits(model, ids, mask))
  assert relative_error(ours, hf_reference.reference_logits(torch_model, ids, mask), mask) <= REL_TOL


def test_splash_under_shard_map_equals_single_device(splash_model):
  """On a (1, 2, 4) mesh the 4 query heads split over tensor=4 but the 2 KV heads cannot: the kernel runs
  per shard (shard_map) with the KV heads repeated; logits equal the single-device XLA model's."""
  path, _, config, _ = splash_model
  mesh = sharding.make_mesh(sharding.MeshConfig(data=1, fsdp=2, tensor=4))
  sharded = models.load_pretrained(path, dtype=jnp.float32, mesh=mesh, scan_layers=True, attention=SPLASH_INTERPRET)
  acts = sharding.ActivationSharding(mesh, "train")
  ids, mask = hf_reference.padded_batch([16, 9, 3, 12], 16, config.vocab_size, side="left", seed=5)

  @nnx.jit
  def forward(model, ids, mask):
    hidden, _ = model(ids, mask, constrain=acts.constrain)
    return model.logits(hidden, constrain=acts.constrain)

  reference = models.logits(models.load_pretrained(path, dtype=jnp.float32), ids, mask)
  real = mask.astype(bool)
  np.testing.assert_allclose(np.asarray(forward(sharded, ids, mask))[real], np.asarray(reference)[real], atol=2e-5)
