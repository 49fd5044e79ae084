"""Analytic FLOPs and bytes (rlvr_jax/scale/_costs.py): hand-computed cases, and XLA's own FLOP count on
loop-free programs (an unscanned model, no micro-batches), where that count is right."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlvr_jax import models
from rlvr_jax.scale import _costs as costs

# Wide enough for the matmuls to dominate XLA's count (it also counts every elementwise op).
WIDE = models.preset("tiny", hidden_size=512, intermediate_size=1536, num_heads=8, num_kv_heads=2, head_dim=64,
                     vocab_size=2048, num_layers=2)
ROWS, TOKENS = 4, 256


def test_block_and_matmul_params_by_hand():
  # tiny: D 128, F 384, N 4, K 2, H 32, L 4, V 512 -> q 128*128, k and v 128*64 each, o 128*128, MLP 3*128*384.
  tiny = models.preset("tiny")
  assert (tiny.hidden_size, tiny.intermediate_size, tiny.num_heads, tiny.num_kv_heads, tiny.head_dim) == (
      128, 384, 4, 2, 32)
  block = 128 * 128 + 2 * 128 * 64 + 128 * 128 + 3 * 128 * 384
  assert costs.block_params(tiny) == block
  assert costs.matmul_params(tiny) == 4 * block + 512 * 128


def test_matmul_params_match_the_model_s_weights():
  """Every parameter but the embedding table (a gather), the norms and the biases is a matmul weight."""
  for name in ("qwen2.5-math-7b", "qwen2.5-math-1.5b", "qwen3-8b"):
    config = models.preset(name)
    _, state = nnx.split(models.abstract_model(config))
    roles = [(v.get_metadata()["role"], v.size) for _, v in nnx.to_flat_state(state)]
    matmul = sum(size for role, size in roles if not role.startswith(("bias", "norm", "head_norm", "embed")))
    if config.tie_word_embeddings:
      matmul += config.vocab_size * config.hidden_size  # the LM head is the embedding table
    assert costs.matmul_params(config) == matmul


def test_forward_flops_by_hand():
  tiny = models.preset("tiny")
  rows, tokens, keys, lm = 2, 8, 8, 3
  expected = (2 * rows * tokens * 4 * costs.block_params(tiny) + 4 * rows * tokens * keys * 4 * 4 * 32
              + 2 * rows * lm * 128 * 512)
  assert costs.forward_flops(tiny, rows, tokens, keys, lm_tokens=lm) == expected
  half = costs.forward_flops(tiny, rows, tokens, keys, lm_tokens=lm, causal_fraction=0.5)
  assert expected - half == 2 * rows * tokens * keys * 4 * 4 * 32


@pytest.fixture(scope="module")
def wide_model():
  model = models.abstract_model(WIDE, jnp.float32, jnp.float32, attention="xla", platform="cpu")
  return nnx.split(model)


def _xla_flops(fn, state, ids) -> float:
  return jax.jit(fn).lower(state, ids).cost_analysis()["flops"]


def test_forward_flops_match_xla_on_a_loop_free_program(wide_model):
  graphdef, state = wide_model
  ids = jax.ShapeDtypeStruct((ROWS, TOKENS), jnp.int32)

  def forward(state, ids):
    model = nnx.merge(graphdef, state)
    hidden, _ = model(ids, jnp.ones_like(ids))
    return model.logits(hidden)

  analytic = costs.forward_flops(WIDE, ROWS, TOKENS, TOKENS, lm_tokens=TOKENS)
  assert _xla_flops(forward, state, ids) == pytest.approx(analytic, rel=0.03)


def test_gradient_is_three_forwards_on_a_loop_free_program(wide_model):
  graphdef, state = wide_model
  ids = jax.ShapeDtypeStruct((ROWS, TOKENS), jnp.int32)

  def loss(state, ids):
    model = nnx.merge(graphdef, state)
    hidden, _ = model(ids, jnp.ones_like(ids))
    return jnp.sum(jnp.square(model.logits(hidden)))  # a cotangent XLA cannot fold into a reduction

  analytic = 3 * costs.forward_flops(WIDE, ROWS, TOKENS, TOKENS, lm_tokens=TOKENS)
  assert _xla_flops(jax.grad(loss), state, ids) == pytest.approx(analytic, rel=0.03)


def test_update_cost_adds_the_statistics_pass_and_the_remat_forward():
  layout = costs.Layout(devices=8, data_parallel=4, tensor=2)
  kw = dict(rows=16, prompt_len=8, new_tokens=24, param_count=10**6, itemsize=2, fused=False)
  forward = costs.forward_flops(WIDE, 16, 32, 32, lm_tokens=24)
  blocks = costs.forward_flops(WIDE, 16, 32, 32, lm_tokens=0, with_lm_head=False)
  assert costs.update_cost(WIDE, layout, micro_batches=1, remat=False, **kw).flops == 3 * forward
  assert costs.update_cost(WIDE, layout, micro_batches=4, remat=False, **kw).flops == 4 * forward
  assert costs.update_cost(WIDE, layout, micro_batches=4, remat=True, **kw).flops == 4 * forward + blocks
  # Each micro-batch reads the weights in its own passes: more micro-batches, more weight traffic.
  one = costs.update_cost(WIDE, layout, micro_batches=2, remat=False, **kw).bytes_per_device
  two = costs.update_cost(WIDE, layout, micro_batches=4, remat=False, **kw).bytes_per_device
  weights = costs.matmul_params(WIDE) * 2 / 2
  assert two - one == pytest.approx(4 * 2 * weights)


def test_kv_cache_bytes_by_hand():
  """7B: 28 layers, 4 KV heads of 128; 4096 rows over 16 data-parallel devices, heads over tensor 4."""
  config = models.preset("qwen2.5-math-7b")
  layout = costs.Layout(devices=64, data_parallel=16, tensor=4)
  assert costs.kv_cache_bytes(config, layout, 4096, 4095, 2) == 2 * 28 * 256 * 4095 * 1 * 128 * 2
  # 1.5B has 2 KV heads: tensor 4 does not divide them, so every device holds both (as sharding.fit_spec).
  small = models.preset("qwen2.5-math-1.5b")
  assert small.num_kv_heads == 2
  assert costs.kv_cache_bytes(small, layout, 4096, 100, 2) == 2 * small.num_layers * 256 * 100 * 2 * 128 * 2


def test_decode_cost_counts_steps_after_the_prefill_token():
  config = models.preset("tiny")
  layout = costs.Layout(devices=1, data_parallel=1, tensor=1)
  one = costs.decode_cost(config, layout, rows=4, prompt_len=8, new_tokens=2, param_count=100, itemsize=4)
  many = costs.decode_cost(config, layout, rows=4, prompt_len=8, new_tokens=11, param_count=100, itemsize=4)
  step = costs.forward_flops(config, 4, 1, 8 + 1, lm_tokens=1)
  assert one.flops == step  # 2 new tokens: token 0 from the prefill, one decode step
  assert many.flops == 10 * costs.forward_flops(config, 4, 1, 8 + 10, lm_tokens=1)


def test_roofline_is_the_slower_of_compute_and_memory():
  cost = costs.Cost(flops=8e12, bytes_per_device=3e9)
  assert costs.roofline_seconds(cost, devices=4, peak_flops=1e12, hbm_bandwidth=1e12) == 2.0
  assert costs.roofline_seconds(cost, devices=4, peak_flops=1e15, hbm_bandwidth=1e12) == pytest.approx(3e-3)
  assert np.isclose((cost * 2 + cost).flops, 24e12)
