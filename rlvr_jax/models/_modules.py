"""Building blocks of the Qwen decoder: RMSNorm, rotary embedding, grouped-query attention, SwiGLU MLP.

Einsum legend (used in every shape comment of the package):
  B batch, T query tokens, S key/value slots, N query heads, K key/value heads, G query heads per
  key/value head (N = K * G), H head dim, D model dim, F MLP hidden dim, V vocabulary.

Every parameter carries a `role` metadata string (e.g. "q_dnh"); `rlvr_jax.sharding` maps roles to
PartitionSpecs, so the model never reads a mesh and sharding stays a single table outside it.

Attention runs through the kernel chosen at build time (`rlvr_jax.models._attention`): a fused kernel
for self-attention over T > 1 tokens, XLA's masked attention against the KV cache for decode.

Two dtypes, as in Flax's `param_dtype` / `dtype` and MaxText's `weight_dtype` / `dtype`: parameters are
stored in `param_dtype` (float32 master weights when training) and read in the compute `dtype` where they
are used (`rlvr_jax.models._precision`), so matmuls and activations run in bfloat16 at scale.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx, struct

from rlvr_jax.models._attention import AttentionKernel, fused_self_attention, masked_attention
from rlvr_jax.models._config import QwenConfig
from rlvr_jax.models._decode_attention import blocked_decode_attention
from rlvr_jax.models._ragged_decode import ragged_decode_applies, ragged_decode_sharded
from rlvr_jax.models._precision import read_param
from rlvr_jax.models._projection import project_tokens

# A function (array, role) -> array that applies the activation layout for that role; identity when
# running unsharded. Passed explicitly down the call tree (never read from a global).
Constrain = Callable[[jax.Array, str], jax.Array]


def no_constraint(x: jax.Array, role: str) -> jax.Array:
  del role
  return x


def _normal(key: jax.Array, shape: tuple[int, ...], dtype, stddev: float = 0.02) -> jax.Array:
  return (stddev * jax.random.normal(key, shape, jnp.float32)).astype(dtype)


class RMSNorm(nnx.Module):
  """RMSNorm in float32; the scale is applied after casting back, as the HF reference does."""

  def __init__(self, dim: int, eps: float, *, dtype, param_dtype, role: str = "norm_d"):
    self.eps = eps
    self.dtype = dtype
    self.scale = nnx.Param(jnp.ones((dim,), param_dtype), role=role)

  def __call__(self, x: jax.Array) -> jax.Array:
    x32 = x.astype(jnp.float32)
    normed = x32 * jax.lax.rsqrt(jnp.mean(x32 * x32, axis=-1, keepdims=True) + self.eps)
    return read_param(self.scale, self.dtype) * normed.astype(self.dtype)


def rotary_embedding(x: jax.Array, positions: jax.Array, theta: float) -> jax.Array:
  """Applies RoPE in the HF "rotate half" layout (first half / second half of head_dim are paired).

  x: [B, T, heads, H]; positions: [B, T] int. Angles are computed in float32.
  """
  head_dim = x.shape[-1]
  inv_freq = 1.0 / (theta ** (jnp.arange(0, head_dim, 2, dtype=jnp.float32) / head_dim))  # [H/2]
  angles = positions.astype(jnp.float32)[..., None] * inv_freq  # [B, T, H/2]
  angles = jnp.concatenate([angles, angles], axis=-1)[:, :, None, :]  # [B, T, 1, H]
  cos, sin = jnp.cos(angles).astype(x.dtype), jnp.sin(angles).astype(x.dtype)
  half = head_dim // 2
  rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
  return x * cos + rotated * sin


@struct.dataclass
class LayerKV:
  """The KV cache arrays one decoder block reads and writes.

  Unscanned layers pass their own [B, S, K, H] pair (`layer` None). Scanned layers pass the whole stacked
  [L, B, S, K, H] pair, carried through the scan, with the block's layer index: the block writes its
  T new slots in place and reads its layer back, so no per-layer copy of the cache is made or stacked.
  """

  k: jax.Array
  v: jax.Array
  layer: jax.Array | None = None  # [] int
  decode_block: int = struct.field(pytree_node=False, default=0)  # `KVCache.decode_block`

  def write(self, k: jax.Array, v: jax.Array, write_index: jax.Array
            ) -> tuple["LayerKV", jax.Array, jax.Array]:
    """Writes k / v [B, T, K, H] at slots [write_index, write_index + T) of every row (`write_index` []),
    or one token per row at its own slot (`write_index` [B], T = 1); returns the updated store and this
    layer's keys / values [B, S, K, H] after the write."""
    k, v = k.astype(self.k.dtype), v.astype(self.v.dtype)
    if write_index.ndim == 1:
      rows = jnp.arange(k.shape[0])
      if self.layer is None:
        new_k, new_v = self.k.at[rows, write_index].set(k[:, 0]), self.v.at[rows, write_index].set(v[:, 0])
        return self.replace(k=new_k, v=new_v), new_k, new_v
      new_k = self.k.at[self.layer, rows, write_index].set(k[:, 0])
      new_v = self.v.at[self.layer, rows, write_index].set(v[:, 0])
      read = lambda x: jax.lax.dynamic_index_in_dim(x, self.layer, 0, keepdims=False)  # noqa: E731
      return self.replace(k=new_k, v=new_v), read(new_k), read(new_v)
    if self.layer is None:
      start = (0, write_index, 0, 0)
      new_k = jax.lax.dynamic_update_slice(self.k, k, start)
      new_v = jax.lax.dynamic_update_slice(self.v, v, start)
      return self.replace(k=new_k, v=new_v), new_k, new_v
    start = (self.layer, 0, write_index, 0, 0)
    new_k = jax.lax.dynamic_update_slice(self.k, k[None], start)
    new_v = jax.lax.dynamic_update_slice(self.v, v[None], start)
    read = lambda x: jax.lax.dynamic_index_in_dim(x, self.layer, 0, keepdims=False)  # noqa: E731
    return self.replace(k=new_k, v=new_v), read(new_k), read(new_v)


class Attention(nnx.Module):
  """Grouped-query self-attention over an explicit key/value store (full sequence or KV cache)."""

  def __init__(self, config: QwenConfig, *, dtype, param_dtype, rngs: nnx.Rngs,
               kernel: AttentionKernel = AttentionKernel()):
    d, n, k, h = config.hidden_size, config.num_heads, config.num_kv_heads, config.head_dim
    self.config = config
    self.dtype = dtype
    self.kernel = kernel
    self.q_proj = nnx.Param(_normal(rngs.params(), (d, n, h), param_dtype), role="q_dnh")
    self.k_proj = nnx.Param(_normal(rngs.params(), (d, k, h), param_dtype), role="kv_dkh")
    self.v_proj = nnx.Param(_normal(rngs.params(), (d, k, h), param_dtype), role="kv_dkh")
    self.o_proj = nnx.Param(_normal(rngs.params(), (n, h, d), param_dtype), role="o_nhd")
    if config.qkv_bias:
      self.q_bias = nnx.Param(jnp.zeros((n, h), param_dtype), role="bias_nh")
      self.k_bias = nnx.Param(jnp.zeros((k, h), param_dtype), role="bias_kh")
      self.v_bias = nnx.Param(jnp.zeros((k, h), param_dtype), role="bias_kh")
    if config.out_bias:
      self.o_bias = nnx.Param(jnp.zeros((d,), param_dtype), role="norm_d")
    if config.qk_norm:
      self.q_norm = RMSNorm(h, config.rms_norm_eps, dtype=dtype, param_dtype=param_dtype, role="head_norm_h")
      self.k_norm = RMSNorm(h, config.rms_norm_eps, dtype=dtype, param_dtype=param_dtype, role="head_norm_h")

  def __call__(
      self,
      x: jax.Array,  # [B, T, D]
      positions: jax.Array,  # [B, T]
      kv_mask: jax.Array,  # [B, S] bool: slots holding real tokens (after this call's writes)
      query_slots: jax.Array,  # [T] int (or [B, T] per row): the slot each query token occupies
      cache: LayerKV | None,  # the cache this block writes, or None (S == T)
      write_index: jax.Array | None,  # [] int: first slot this call writes ([B] per row, T = 1)
      constrain: Constrain,
  ) -> tuple[jax.Array, LayerKV | None]:
    cfg, dtype = self.config, self.dtype
    q = project_tokens("D,DNH->NH", x, read_param(self.q_proj, dtype))
    k = project_tokens("D,DKH->KH", x, read_param(self.k_proj, dtype))
    v = project_tokens("D,DKH->KH", x, read_param(self.v_proj, dtype))
    if cfg.qkv_bias:
      q = q + read_param(self.q_bias, dtype)
      k = k + read_param(self.k_bias, dtype)
      v = v + read_param(self.v_bias, dtype)
    if cfg.qk_norm:
      q, k = self.q_norm(q), self.k_norm(k)
    q = constrain(rotary_embedding(q, positions, cfg.rope_theta), "act_btnh")
    k = constrain(rotary_embedding(k, positions, cfg.rope_theta), "act_btkh")
    v = constrain(v, "act_btkh")

    if cache is not None:
      cache, keys, values = cache.write(k, v, write_index)
    else:
      keys, values = k, v

    seq_len = q.shape[1]
    if self.kernel.name != "xla" and seq_len > 1 and keys.shape[1] == seq_len:
      # Self-attention over this call's T tokens (no cache, or a cache of exactly T slots: prefill).
      out = fused_self_attention(self.kernel, q, k, v, kv_mask, constrain)  # [B, T, N, H]
    elif cache is not None and seq_len == 1 and ragged_decode_applies(self.kernel.name, cache.decode_block):
      # Decode on TPU: a Pallas kernel in which each row reads its own filled blocks, from the cache as
      # stored (the stacked cache of scanned layers in place, at this block's layer).
      filled = jnp.broadcast_to(query_slots[..., 0] + 1, (q.shape[0],))  # [B]
      out = ragged_decode_sharded(q, cache.k, cache.v, kv_mask, filled, constrain, block=cache.decode_block,
                                  layer=cache.layer, interpret=self.kernel.interpret)
    elif cache is not None and seq_len == 1 and cache.decode_block:
      # Decode: read the filled blocks only (the batch's highest written slot bounds them).
      out = blocked_decode_attention(q, keys, values, kv_mask, jnp.max(query_slots) + 1, cache.decode_block)
    else:
      out = masked_attention(q, keys, values, kv_mask, query_slots)  # [B, T, N, H]
    out = constrain(out, "act_btnh")
    y = project_tokens("NH,NHD->D", out, read_param(self.o_proj, dtype))
    if cfg.out_bias:
      y = y + read_param(self.o_bias, dtype)
    return y, cache


class MLP(nnx.Module):
  """SwiGLU feed-forward: down(silu(gate(x)) * up(x))."""

  def __init__(self, config: QwenConfig, *, dtype, param_dtype, rngs: nnx.Rngs):
    d, f = config.hidden_size, config.intermediate_size
    self.dtype = dtype
    self.gate_proj = nnx.Param(_normal(rngs.params(), (d, f), param_dtype), role="mlp_df")
    self.up_proj = nnx.Param(_normal(rngs.params(), (d, f), param_dtype), role="mlp_df")
    self.down_proj = nnx.Param(_normal(rngs.params(), (f, d), param_dtype), role="mlp_fd")

  def __call__(self, x: jax.Array, constrain: Constrain) -> jax.Array:  # [B, T, D] -> [B, T, D]
    gate = project_tokens("D,DF->F", x, read_param(self.gate_proj, self.dtype))
    up = project_tokens("D,DF->F", x, read_param(self.up_proj, self.dtype))
    hidden = constrain(jax.nn.silu(gate) * up, "act_btf")
    return project_tokens("F,FD->D", hidden, read_param(self.down_proj, self.dtype))


class DecoderBlock(nnx.Module):
  """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

  def __init__(self, config: QwenConfig, *, dtype, param_dtype, rngs: nnx.Rngs,
               kernel: AttentionKernel = AttentionKernel()):
    self.input_norm = RMSNorm(config.hidden_size, config.rms_norm_eps, dtype=dtype, param_dtype=param_dtype)
    self.attn = Attention(config, dtype=dtype, param_dtype=param_dtype, rngs=rngs, kernel=kernel)
    self.post_attn_norm = RMSNorm(config.hidden_size, config.rms_norm_eps, dtype=dtype, param_dtype=param_dtype)
    self.mlp = MLP(config, dtype=dtype, param_dtype=param_dtype, rngs=rngs)

  def __call__(self, x, positions, kv_mask, query_slots, cache: LayerKV | None, write_index, constrain):
    attn_out, new_cache = self.attn(self.input_norm(x), positions, kv_mask, query_slots, cache, write_index,
                                    constrain)
    x = constrain(x + attn_out, "act_btd")
    x = constrain(x + self.mlp(self.post_attn_norm(x), constrain), "act_btd")
    return x, new_cache
