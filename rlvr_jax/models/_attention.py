"""The attention kernels of the decoder: XLA's masked attention, Pallas splash attention (TPU) and cuDNN
flash attention (GPU), chosen once when the model is built.

`jax.nn.dot_product_attention`'s XLA implementation materializes the [B, N, T, S] scores; at the paper
configs' 4,096 tokens that is the largest temporary of the training step. The fused kernels never hold
more than a tile of them. The model option `attention`:
  auto    splash on TPU, cuDNN on GPU when the compute dtype is bfloat16/float16, XLA otherwise;
  xla     XLA's masked attention (any platform, any dtype);
  splash  Pallas splash attention, and the Pallas ragged decode kernel for decode (TPU only);
  cudnn   cuDNN flash attention through `jax.nn.dot_product_attention(implementation="cudnn")`
          (GPU only, bfloat16/float16 only).
An explicit kernel the platform or dtype cannot run raises at model build time, naming the option and
the reason: no kernel silently stands in for another.

Dispatch by shape: the fused kernel runs every self-attention call with more than one query token, which
is training, scoring and the sampler's prefill (a cache of exactly T slots, filled from empty). Decode (one
query token against the cache) reads the cache in blocks (`rollout.decode_block`): with "splash" (TPU)
through the Pallas ragged decode kernel, each row up to its own fill (`rlvr_jax.models._ragged_decode`),
elsewhere through an XLA block loop up to the batch's highest fill (`rlvr_jax.models._decode_attention`).
Decode with `decode_block=0` and any append of T > 1 tokens to a longer cache use the XLA masked path:
their scores are [B, N, T, S] with T small, no larger than the cache itself.

Masking: the XLA path masks keys by causality and `kv_mask`. The fused paths express padding as segment
ids (real tokens 1, padding 0) with a causal mask: a real query sees exactly the real keys up to itself,
as on the XLA path; a padding query sees the padding keys up to itself instead of nothing. Padding rows'
outputs are never read (their tokens are masked out of every loss and statistic).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable, Literal

import jax
import jax.numpy as jnp
from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_kernel as splash
from jax.experimental.pallas.ops.tpu.splash_attention import splash_attention_mask as splash_mask
from jax.sharding import PartitionSpec as P

from rlvr_jax import sharding as shd
from rlvr_jax.models._grouped_attention import grouped_attention

ATTENTION_OPTIONS = ("auto", "xla", "splash", "cudnn")
KernelName = Literal["xla", "splash", "cudnn"]
_CUDNN_DTYPES = ("bfloat16", "float16")
# Splash tiles the sequence in blocks of 128 (TPU lanes); longer sequences use the largest of these
# block sizes that divides them.
_SPLASH_BLOCKS = (512, 256, 128)


@dataclasses.dataclass(frozen=True)
class AttentionKernel:
  """A resolved attention implementation (static: part of the model's graph definition).

  Attributes:
    name: "xla", "splash" or "cudnn".
    interpret: run the Pallas kernel in interpret mode (any backend, slowly): for tests of the splash
      path on CPU. Only meaningful for "splash".
  """

  name: KernelName = "xla"
  interpret: bool = False

  def __post_init__(self):
    if self.name not in ("xla", "splash", "cudnn"):
      raise ValueError(f"AttentionKernel.name={self.name!r}; known: 'xla', 'splash', 'cudnn'")
    if self.interpret and self.name != "splash":
      raise ValueError(f"AttentionKernel(interpret=True) is only for 'splash', not {self.name!r}")


def resolve_attention(option: str | AttentionKernel, *, platform: str, dtype) -> AttentionKernel:
  """The kernel for model option `attention` on `platform` ("cpu", "gpu"/"cuda", "tpu") and compute dtype.

  Raises ValueError naming the option and the reason when the requested kernel cannot run there.
  """
  if isinstance(option, AttentionKernel):
    if option.name == "splash" and not option.interpret and platform != "tpu":
      raise ValueError(f"model.attention='splash' needs a TPU; the platform is {platform!r}")
    if option.name != "splash":
      return resolve_attention(option.name, platform=platform, dtype=dtype)
    return option
  if option not in ATTENTION_OPTIONS:
    raise ValueError(f"model.attention={option!r}; known: {', '.join(repr(o) for o in ATTENTION_OPTIONS)}")
  platform = "gpu" if platform in ("cuda", "rocm") else platform
  dtype_name = jnp.dtype(dtype).name
  if option == "auto":
    if platform == "tpu":
      return AttentionKernel("splash")
    if platform == "gpu" and dtype_name in _CUDNN_DTYPES:
      return AttentionKernel("cudnn")
    return AttentionKernel("xla")
  if option == "splash" and platform != "tpu":
    raise ValueError(f"model.attention='splash' is a TPU (Pallas Mosaic) kernel; the platform is {platform!r} "
                     "(use 'auto' or 'xla')")
  if option == "cudnn":
    if platform != "gpu":
      raise ValueError(f"model.attention='cudnn' needs an NVIDIA GPU; the platform is {platform!r} "
                       "(use 'auto' or 'xla')")
    if dtype_name not in _CUDNN_DTYPES:
      raise ValueError(f"model.attention='cudnn' runs in bfloat16 or float16 only; the compute dtype is "
                       f"{dtype_name} (set model.dtype='bfloat16', or use 'xla')")
  return AttentionKernel(option)


# --------------------------------------------------------------------------------------------------
# XLA: any query count, against a cache or not
# --------------------------------------------------------------------------------------------------


def masked_attention(q: jax.Array, keys: jax.Array, values: jax.Array, kv_mask: jax.Array,
                     query_slots: jax.Array) -> jax.Array:
  """q [B, T, N, H], keys / values [B, S, K, H], kv_mask [B, S] bool, query_slots [T] (or [B, T] per
  row) -> [B, T, N, H].

  Query t attends to the real slots s <= query_slots[t]. Softmax runs in float32; fully masked (padding)
  query rows get a uniform distribution instead of NaN (`grouped_attention`).
  """
  key_slots = jnp.arange(keys.shape[1])  # [S]
  causal = key_slots <= query_slots[..., None]  # [T, S] or [B, T, S]
  causal = causal[None, None] if causal.ndim == 2 else causal[:, None]  # [B or 1, 1, T, S]
  mask = causal & kv_mask[:, None, None, :]  # [B, 1, T, S]
  return grouped_attention(q, keys.astype(q.dtype), values.astype(q.dtype), mask[:, :, None])


# --------------------------------------------------------------------------------------------------
# Fused self-attention (T > 1 queries over the same T tokens)
# --------------------------------------------------------------------------------------------------


def fused_self_attention(kernel: AttentionKernel, q: jax.Array, k: jax.Array, v: jax.Array, valid: jax.Array,
                         constrain: Callable) -> jax.Array:
  """Causal self-attention with padding: q [B, T, N, H], k / v [B, T, K, H], valid [B, T] bool -> [B, T, N, H]."""
  if kernel.name == "splash":
    return _splash_sharded(q, k, v, valid, constrain, interpret=kernel.interpret)
  if kernel.name == "cudnn":
    return cudnn_attention(q, k, v, valid)
  raise ValueError(f"fused_self_attention got kernel {kernel.name!r}; the XLA path is masked_attention")


def same_segment_causal_mask(valid: jax.Array) -> jax.Array:
  """[B, T] bool -> [B, 1, T, T] bool: causal, and real tokens only see real tokens, padding only padding."""
  seq_len = valid.shape[1]
  causal = jnp.tril(jnp.ones((seq_len, seq_len), jnp.bool_))
  same = valid[:, :, None] == valid[:, None, :]  # [B, T, T]
  return (causal[None] & same)[:, None]


def cudnn_attention(q: jax.Array, k: jax.Array, v: jax.Array, valid: jax.Array) -> jax.Array:
  """cuDNN flash attention (GPU, bfloat16/float16). The padding mask enters cuDNN as a [B, 1, T, T] bias
  (no cuDNN mode takes left padding otherwise); `is_causal` lets it skip the tiles above the diagonal.
  jax's cuDNN attention carries its own partitioning rules, so it runs under GSPMD as is."""
  return jax.nn.dot_product_attention(q, k, v, mask=same_segment_causal_mask(valid), is_causal=True,
                                      implementation="cudnn")


def _splash_block(seq_len: int) -> int:
  return next(b for b in _SPLASH_BLOCKS if seq_len % b == 0)


@functools.lru_cache(maxsize=32)
def _splash_kernel(num_heads: int, seq_len: int, interpret: bool) -> splash.SplashAttentionKernel:
  """The splash kernel for a causal [seq_len, seq_len] mask over `num_heads` heads (mask metadata is
  computed on the host once per shape)."""
  block = _splash_block(seq_len)
  sizes = splash.BlockSizes(block_q=block, block_kv=block, block_kv_compute=block, block_q_dkv=block,
                            block_kv_dkv=block, block_kv_dkv_compute=block, block_q_dq=block, block_kv_dq=block)
  mask = splash_mask.MultiHeadMask([splash_mask.CausalMask((seq_len, seq_len))] * num_heads)
  # Concrete arrays even when first called inside a trace, so the cached kernel holds no tracer.
  with jax.ensure_compile_time_eval():
    return splash.make_splash_mha(mask, head_shards=1, q_seq_shards=1, block_sizes=sizes, interpret=interpret)


def splash_attention(q: jax.Array, k: jax.Array, v: jax.Array, valid: jax.Array, *,
                     interpret: bool = False) -> jax.Array:
  """Pallas splash attention on one device (or one shard): q [B, T, N, H], k / v [B, T, K, H] (N a
  multiple of K: grouped-query attention in the kernel), valid [B, T] -> [B, T, N, H].

  T is padded up to a multiple of 128 (the kernel's tile) with padding tokens; the scale 1/sqrt(H) is
  applied to q, as `jax.nn.dot_product_attention` does.
  """
  _, seq_len, num_heads, head_dim = q.shape
  padded = -(-seq_len // 128) * 128
  if padded != seq_len:
    pad = lambda x: jnp.pad(x, ((0, 0), (0, padded - seq_len)) + ((0, 0),) * (x.ndim - 2))  # noqa: E731
    q, k, v, valid = pad(q), pad(k), pad(v), pad(valid)
  scaled = (q * jnp.asarray(1.0 / math.sqrt(head_dim), q.dtype)).transpose(0, 2, 1, 3)  # [B, N, T, H]
  kernel = _splash_kernel(num_heads, padded, interpret)
  segments = valid.astype(jnp.int32)
  out = jax.vmap(kernel)(scaled, k.transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3),
                         segment_ids=splash.SegmentIds(q=segments, kv=segments))  # [B, N, T, H]
  return out.transpose(0, 2, 1, 3)[:, :seq_len]


def _splash_sharded(q, k, v, valid, constrain, *, interpret: bool) -> jax.Array:
  """splash_attention under `shard_map` when the model runs on a mesh (GSPMD cannot partition a Pallas
  call): rows split like `act_bt`, heads like `act_btnh`. When the KV heads do not divide over 'tensor'
  but the query heads do, the KV heads are repeated to one per query head so each shard holds the KV
  heads of its own query heads."""
  if not isinstance(constrain, shd.ActivationConstraint):
    return splash_attention(q, k, v, valid, interpret=interpret)
  q_spec = constrain.spec("act_btnh", q.shape)  # fitted: one entry per dimension
  k_spec = constrain.spec("act_btkh", k.shape)
  rows, heads = q_spec[0], q_spec[2]
  if heads is not None and k_spec[2] != heads:
    groups = q.shape[2] // k.shape[2]
    k, v = jnp.repeat(k, groups, axis=2), jnp.repeat(v, groups, axis=2)
  qkv_spec = P(rows, None, heads, None)
  body = functools.partial(splash_attention, interpret=interpret)
  return jax.shard_map(body, mesh=constrain.mesh, in_specs=(qkv_spec, qkv_spec, qkv_spec, P(rows, None)),
                       out_specs=qkv_spec, check_vma=False)(q, k, v, valid)
