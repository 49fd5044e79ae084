"""Projections of [B, T, ...] activations by a weight: one [B * T, ...] matmul over the token axis.

The einsum "BTD,DF->BTF" contracts one dimension in the forward pass, but its weight gradient
"BTD,BTF->DF" contracts two (B and T). XLA:CPU lowers that by first copying an activation into a
transposed layout and then calling its matmul; per decoder block those copies cost more than the matmuls
(a profile of the tiny preset's update step: the backward took ~5x the forward, against ~2x for torch).
Folding B and T into one token axis M first makes every matmul of the forward and backward a plain 2-D
one ("MD,DF->MF", "MF,DF->MD" and "MD,MF->DF"), as torch's Linear computes them, which removes those copies.
The reshape is free (B and T are the two major dimensions of a row-major array) and sharding follows:
rows split over ('data', 'fsdp') stay split on the merged axis.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def project_tokens(equation: str, x: jax.Array, kernel: jax.Array) -> jax.Array:
  """`jnp.einsum("BT" + inputs + "," + kernel + "->BT" + outputs)` computed as one matmul over B * T tokens.

  `equation` names the per-token dimensions only, e.g. "D,DNH->NH" for x [B, T, D] and kernel
  [D, N, H] -> [B, T, N, H]; "NH,NHD->D" for x [B, T, N, H] and kernel [N, H, D] -> [B, T, D].
  """
  batch, tokens = x.shape[:2]
  inputs, rest = equation.split(",")
  kernel_dims, outputs = rest.split("->")
  flat = jnp.einsum(f"M{inputs},{kernel_dims}->M{outputs}", x.reshape((batch * tokens,) + x.shape[2:]), kernel)
  return flat.reshape((batch, tokens) + flat.shape[1:])
