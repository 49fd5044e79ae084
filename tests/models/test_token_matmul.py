"""`token_matmul` is the projections' einsum, written as one 2-D matmul (faster backward on XLA:CPU)."""

import jax
import jax.numpy as jnp
import numpy as np

from rlvr_jax.models._modules import token_matmul


def test_token_matmul_is_the_einsum_for_one_and_two_contracted_dims():
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=(2, 5, 8)), jnp.float32)  # [B, T, D]
  w_dnh = jnp.asarray(rng.normal(size=(8, 3, 4)), jnp.float32)
  np.testing.assert_allclose(token_matmul(x, w_dnh, 1), jnp.einsum("BTD,DNH->BTNH", x, w_dnh), rtol=1e-5, atol=1e-6)
  out = jnp.asarray(rng.normal(size=(2, 5, 3, 4)), jnp.float32)  # [B, T, N, H]
  w_nhd = jnp.asarray(rng.normal(size=(3, 4, 8)), jnp.float32)
  np.testing.assert_allclose(token_matmul(out, w_nhd, 2), jnp.einsum("BTNH,NHD->BTD", out, w_nhd), rtol=1e-5,
                             atol=1e-6)


def test_token_matmul_gradients_match_the_einsum():
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=(3, 4, 6)), jnp.float32)
  w = jnp.asarray(rng.normal(size=(6, 5)), jnp.float32)
  ours = jax.grad(lambda x, w: jnp.sum(jnp.sin(token_matmul(x, w, 1))), argnums=(0, 1))(x, w)
  einsum = jax.grad(lambda x, w: jnp.sum(jnp.sin(jnp.einsum("BTD,DF->BTF", x, w))), argnums=(0, 1))(x, w)
  for a, b in zip(ours, einsum):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
