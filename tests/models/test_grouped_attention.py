"""The XLA attention path (`grouped_attention`, heads-major with a written-out softmax backward) and the
token-axis projections: forward and every gradient against `jax.nn.dot_product_attention` (the library
function it replaces) and a numpy transcription of softmax attention, with grouped-query heads, left /
right padding and a fully masked row."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.models._attention import masked_attention
from rlvr_jax.models._grouped_attention import grouped_attention
from rlvr_jax.models._projection import project_tokens


def _inputs(batch=3, seq_len=9, num_heads=6, kv_heads=2, head_dim=8, seed=0):
  rng = np.random.default_rng(seed)
  q = jnp.asarray(rng.normal(size=(batch, seq_len, num_heads, head_dim)), jnp.float32)
  k = jnp.asarray(rng.normal(size=(batch, seq_len, kv_heads, head_dim)), jnp.float32)
  v = jnp.asarray(rng.normal(size=(batch, seq_len, kv_heads, head_dim)), jnp.float32)
  valid = np.ones((batch, seq_len), bool)
  valid[1, :3] = False  # left padding
  valid[2, 6:] = False  # right padding
  causal = np.tril(np.ones((seq_len, seq_len), bool))
  mask = causal[None] & valid[:, None, :]  # [B, T, S]
  mask[0, 4] = False  # one query row sees nothing: uniform probabilities, not NaN
  return q, k, v, jnp.asarray(mask)


def _library(q, k, v, mask):
  return jax.nn.dot_product_attention(q, k, v, mask=mask[:, None], implementation="xla")


def _ours(q, k, v, mask):
  return grouped_attention(q, k, v, mask[:, None, None])


def _numpy_attention(q, k, v, mask):
  """softmax(q k^T / sqrt(H), masked) v per head, key/value head n // G for query head n."""
  q, k, v = (np.asarray(x, np.float64) for x in (q, k, v))
  mask = np.asarray(mask)
  batch, seq_len, num_heads, head_dim = q.shape
  groups = num_heads // k.shape[2]
  out = np.zeros_like(q)
  for b in range(batch):
    for n in range(num_heads):
      scores = q[b, :, n] @ k[b, :, n // groups].T / np.sqrt(head_dim)
      scores = np.where(mask[b], scores, -1e300)
      probs = np.exp(scores - scores.max(-1, keepdims=True))
      probs /= probs.sum(-1, keepdims=True)
      out[b, :, n] = probs @ v[b, :, n // groups]
  return out


def test_forward_equals_numpy_and_the_library_function():
  q, k, v, mask = _inputs()
  ours = np.asarray(jax.jit(_ours)(q, k, v, mask))
  np.testing.assert_allclose(ours, _numpy_attention(q, k, v, mask), atol=2e-6)
  np.testing.assert_allclose(ours, np.asarray(_library(q, k, v, mask)), atol=2e-6)
  assert np.isfinite(ours).all()
  # The fully masked row averages every value of its key/value head, as the library function does.
  np.testing.assert_allclose(ours[0, 4, 0], np.asarray(v)[0, :, 0].mean(0), atol=1e-6)


@pytest.mark.parametrize("kv_heads", [1, 2, 6])
def test_gradients_equal_autodiff_of_the_library_function(kv_heads):
  """The custom VJP against jax.grad through jax.nn.dot_product_attention: q, k and v, every row included
  (the fully masked row's uniform probabilities reach d_v in both)."""
  q, k, v, mask = _inputs(kv_heads=kv_heads)
  weights = jnp.asarray(np.random.default_rng(1).normal(size=q.shape), jnp.float32)

  def loss(attend, q, k, v):
    return jnp.sum(weights * attend(q, k, v, mask)) + jnp.sum(attend(q, k, v, mask) ** 2)

  ours = jax.jit(jax.grad(lambda *a: loss(_ours, *a), argnums=(0, 1, 2)))(q, k, v)
  want = jax.jit(jax.grad(lambda *a: loss(_library, *a), argnums=(0, 1, 2)))(q, k, v)
  for name, got, expected in zip("qkv", ours, want):
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=3e-5, rtol=1e-5, err_msg=name)


def test_masked_attention_against_a_longer_cache_and_bfloat16():
  """The decoder's entry point with T queries against S > T cache slots (an append) in bfloat16: same
  dtype out, and within bfloat16 rounding of the float32 result."""
  q, k, v, _ = _inputs(seq_len=5)
  rng = np.random.default_rng(2)
  keys = jnp.asarray(rng.normal(size=(3, 12, 2, 8)), jnp.float32)
  values = jnp.asarray(rng.normal(size=(3, 12, 2, 8)), jnp.float32)
  kv_mask = jnp.asarray(rng.random((3, 12)) > 0.3).at[:, 7:].set(True)
  slots = jnp.arange(7, 12)
  attend = jax.jit(masked_attention)  # one program per dtype (op by op: ~50)
  full = attend(q, keys, values, kv_mask, slots)
  half = attend(q.astype(jnp.bfloat16), keys.astype(jnp.bfloat16), values.astype(jnp.bfloat16), kv_mask, slots)
  assert half.dtype == jnp.bfloat16
  np.testing.assert_allclose(np.asarray(half, np.float32), np.asarray(full), atol=5e-2)
  causal = np.arange(12)[None, :] <= np.asarray(slots)[:, None]  # [T, S]
  np.testing.assert_allclose(np.asarray(full), _numpy_attention(q, keys, values, causal[None] & np.asarray(kv_mask)[:, None]),
                             atol=2e-6)


@pytest.mark.parametrize("equation, x_shape, kernel_shape, einsum", [
    ("D,DNH->NH", (2, 5, 8), (8, 3, 4), "BTD,DNH->BTNH"),
    ("NH,NHD->D", (2, 5, 3, 4), (3, 4, 8), "BTNH,NHD->BTD"),
    ("D,DF->F", (3, 1, 8), (8, 16), "BTD,DF->BTF"),
])
def test_project_tokens_is_the_einsum_and_its_gradient(equation, x_shape, kernel_shape, einsum):
  rng = np.random.default_rng(3)
  x = jnp.asarray(rng.normal(size=x_shape), jnp.float32)
  kernel = jnp.asarray(rng.normal(size=kernel_shape), jnp.float32)
  np.testing.assert_allclose(np.asarray(project_tokens(equation, x, kernel)),
                             np.asarray(jnp.einsum(einsum, x, kernel)), rtol=1e-6, atol=1e-6)
  ours = jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.sin(project_tokens(equation, x, w))), argnums=(0, 1)))(x, kernel)
  want = jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.sin(jnp.einsum(einsum, x, w))), argnums=(0, 1)))(x, kernel)
  for got, expected in zip(ours, want):
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-6)


def _key_value_gradient_einsums(platform: str) -> str:
  """The einsums in the lowered gradient of the attention for one platform (lowering needs no device)."""
  q, k, v, mask = _inputs()
  grad = jax.jit(jax.grad(lambda k, v: jnp.sum(_ours(q, k, v, mask) ** 2), argnums=(0, 1)))
  return grad.trace(k, v).lower(lowering_platforms=(platform,)).as_text(debug_info=True)


def test_key_value_gradients_use_the_slots_major_copy_on_cpu_only():
  """On CPU the key / value gradients run on a slots-major copy (a plain batched matmul there); compiled
  for a TPU the einsum stays as written (the copy would only add memory)."""
  cpu, tpu = _key_value_gradient_einsums("cpu"), _key_value_gradient_einsums("tpu")
  assert "bsm,bmh->bsh" in cpu and "bms,bmh->bsh" not in cpu
  assert "bms,bmh->bsh" in tpu and "bsm,bmh->bsh" not in tpu
