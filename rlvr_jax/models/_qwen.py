"""The Qwen decoder (Qwen2 / Qwen2.5 / Qwen3 dense) as a Flax NNX module, plus its explicit KV cache.

The forward returns final (normed) hidden states, not logits: the RL objective computes log-probs and
entropies with a chunked LM head (`rlvr_jax.objectives._token_stats`), so a whole-batch [B, T, V] float32
tensor is never materialized on the training path. `Qwen.logits` exists for small inputs and tests.

Build-time options (static: they are part of the graph definition):
  scan_layers  stack the decoder blocks' parameters along a leading layer axis and run them with
               `lax.scan` (`rlvr_jax.models._scan`): one traced block, compile time independent of depth.
  attention    "auto" | "xla" | "splash" | "cudnn" (`rlvr_jax.models._attention`), resolved for
               `platform` (default: JAX's default backend) and the compute dtype; a kernel that cannot
               run there raises here.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx, struct

from rlvr_jax.models._attention import AttentionKernel, resolve_attention
from rlvr_jax.models._config import QwenConfig
from rlvr_jax.models._modules import Constrain, DecoderBlock, LayerKV, RMSNorm, _normal, no_constraint
from rlvr_jax.models._precision import read_param
from rlvr_jax.models._scan import run_stacked, stack_blocks


@struct.dataclass
class KVCache:
  """Per-layer key/value slots, written in place.

  The static sampler's rows share one write index: prompts are left-padded to a common length, so slot
  t of every row is written by the same decode step (`dynamic_update_slice`). The continuous sampler's
  slots each hold a different row at a different step, so there `end_index` is per row and a decode
  step writes one token per row at its own slot (a scatter). Padding slots stay masked through `kv_mask`.

  Attributes:
    k, v: one [B, S, K, H] array per layer; with scanned layers one stacked [L, B, S, K, H] array.
    kv_mask: [B, S] bool, slots that hold real (non-padding) tokens.
    end_index: [] int32 (or [B] per row), the next slot to write.
    decode_block: 0, or the block of slots a one-token decode step reads at a time
      (`rlvr_jax.models._decode_attention`): only the blocks up to the highest written slot are read.
      Static (part of the program).
  """

  k: tuple[jax.Array, ...] | jax.Array
  v: tuple[jax.Array, ...] | jax.Array
  kv_mask: jax.Array
  end_index: jax.Array
  decode_block: int = struct.field(pytree_node=False, default=0)

  @property
  def max_length(self) -> int:
    return self.kv_mask.shape[1]

  @property
  def stacked(self) -> bool:
    """The layout of scanned layers: k and v are single [L, B, S, K, H] arrays."""
    return not isinstance(self.k, tuple)


def cache_role(stacked: bool) -> str:
  """The sharding role of the cache's k / v arrays."""
  return "cache_lbskh" if stacked else "cache_bskh"


def init_cache(config: QwenConfig, batch: int, max_length: int, dtype=jnp.bfloat16,
               constrain: Constrain = no_constraint, *, scan_layers: bool = False, decode_block: int = 0) -> KVCache:
  """An empty cache of `max_length` slots for `batch` rows, in the layout of a model with or without
  `scan_layers`, read `decode_block` slots at a time by decode attention (0: all at once)."""
  shape = (batch, max_length, config.num_kv_heads, config.head_dim)
  if scan_layers:
    zeros = lambda: constrain(jnp.zeros((config.num_layers,) + shape, dtype), "cache_lbskh")  # noqa: E731
    k, v = zeros(), zeros()
  else:
    zeros = lambda: constrain(jnp.zeros(shape, dtype), "cache_bskh")  # noqa: E731
    k = tuple(zeros() for _ in range(config.num_layers))
    v = tuple(zeros() for _ in range(config.num_layers))
  return KVCache(k=k, v=v, kv_mask=jnp.zeros((batch, max_length), jnp.bool_), end_index=jnp.zeros((), jnp.int32),
                 decode_block=decode_block)


def fan_out_cache(cache: KVCache, copies: int, extra_slots: int, constrain: Constrain = no_constraint, *,
                  decode_block: int = 0) -> KVCache:
  """A cache of B rows -> B * copies rows (row b repeated `copies` times, row-major), with `extra_slots`
  empty slots appended after the filled ones, read in blocks of `decode_block` when decoding.

  A group of samples shares its prompt: the sampler's prefill and the shared-prompt training forward run
  the prompt once per group and give every sample of the group a copy of its keys / values. Under a
  gradient the repeat sums the samples' cotangents back into the one prompt pass.
  """
  def grow(x: jax.Array) -> jax.Array:  # [(L,) B, S, K, H] -> [(L,) B * copies, S + extra_slots, K, H]
    lead = x.ndim - 4  # the stacked layer axis of scanned layers
    x = jnp.repeat(x, copies, axis=lead)
    x = jnp.pad(x, ((0, 0),) * (lead + 1) + ((0, extra_slots), (0, 0), (0, 0)))
    return constrain(x, cache_role(cache.stacked))

  grow_all = grow if cache.stacked else lambda arrays: tuple(grow(x) for x in arrays)  # noqa: E731
  return KVCache(k=grow_all(cache.k), v=grow_all(cache.v),
                 kv_mask=jnp.pad(jnp.repeat(cache.kv_mask, copies, axis=0), ((0, 0), (0, extra_slots))),
                 end_index=cache.end_index, decode_block=decode_block)


def positions_from_mask(attention_mask: jax.Array) -> jax.Array:
  """Token positions that ignore padding: 0 at each row's first real token (left or right padding)."""
  mask = attention_mask.astype(jnp.int32)
  return jnp.maximum(jnp.cumsum(mask, axis=-1) - 1, 0)


class Qwen(nnx.Module):
  """Dense Qwen causal LM.

  Attributes:
    config: the architecture.
    dtype: compute dtype of matmuls and activations (and of the KV cache).
    param_dtype: storage dtype of the parameters (float32 master weights when training).
    scan_layers: the decoder blocks are one stacked block run by `lax.scan`.
    attention: the resolved `AttentionKernel`.
    embed: [V, D] token embedding.
    layers: decoder blocks (`nnx.List`), or one block with [L, ...] parameters when `scan_layers`.
    final_norm: RMSNorm before the LM head.
    lm_head: [V, D] untied LM head (HF layout); absent when `tie_word_embeddings`.
  """

  def __init__(self, config: QwenConfig, *, rngs: nnx.Rngs, dtype=jnp.bfloat16, param_dtype=None,
               scan_layers: bool = False, attention: str | AttentionKernel = "auto", platform: str | None = None):
    param_dtype = dtype if param_dtype is None else param_dtype
    if not isinstance(scan_layers, bool):
      raise ValueError(f"model.scan_layers={scan_layers!r}: must be True or False")
    self.config = config
    self.dtype = dtype
    self.param_dtype = param_dtype
    self.scan_layers = scan_layers
    self.attention = resolve_attention(attention, platform=platform or jax.default_backend(), dtype=dtype)
    self.embed = nnx.Param(_normal(rngs.params(), (config.vocab_size, config.hidden_size), param_dtype),
                           role="embed_vd")
    blocks = [DecoderBlock(config, dtype=dtype, param_dtype=param_dtype, rngs=rngs, kernel=self.attention)
              for _ in range(config.num_layers)]
    self.layers = stack_blocks(blocks) if scan_layers else nnx.List(blocks)
    self.final_norm = RMSNorm(config.hidden_size, config.rms_norm_eps, dtype=dtype, param_dtype=param_dtype)
    if not config.tie_word_embeddings:
      self.lm_head = nnx.Param(_normal(rngs.params(), (config.vocab_size, config.hidden_size), param_dtype),
                               role="unembed_vd")

  @property
  def unembed(self) -> jax.Array:
    """[V, D] output projection (the embedding itself when tied), in the compute dtype."""
    return read_param(self.embed if self.config.tie_word_embeddings else self.lm_head, self.dtype)

  def __call__(
      self,
      input_ids: jax.Array,  # [B, T] int
      attention_mask: jax.Array,  # [B, T] bool/int, 1 = real token
      positions: jax.Array | None = None,  # [B, T]; default: from the attention mask
      *,
      cache: KVCache | None = None,
      constrain: Constrain = no_constraint,
      remat: bool = False,
  ) -> tuple[jax.Array, KVCache | None]:
    """Returns (final hidden states [B, T, D], updated cache or None).

    Without a cache the T tokens attend causally to each other. With a cache they are written at slots
    [end_index, end_index + T) and attend to every earlier real slot, which is prefill (T = prompt
    length) and decode (T = 1) with the same code. `remat` recomputes each block's activations in the
    backward pass instead of storing them (training memory O(layers x B x T x D) instead of all
    intermediates).
    """
    attention_mask = attention_mask.astype(jnp.bool_)
    if positions is None:
      positions = positions_from_mask(attention_mask)
    seq_len = input_ids.shape[1]
    table = constrain(read_param(self.embed, self.dtype), "embed_lookup_vd")
    x = constrain(jnp.take(table, input_ids, axis=0), "act_btd")  # [B, T, D]

    if cache is None:
      query_slots = jnp.arange(seq_len)
      kv_mask, write_index = attention_mask, None
    else:
      if cache.stacked != self.scan_layers:
        raise ValueError(f"KV cache layout {'stacked' if cache.stacked else 'per-layer'} does not match the model "
                         f"(scan_layers={self.scan_layers}); build it with init_cache(..., scan_layers="
                         f"{self.scan_layers})")
      write_index = cache.end_index
      if write_index.ndim == 1:  # one token per row, each at its own slot
        if seq_len != 1:
          raise ValueError(f"a per-row KV cache write index takes one token per row, got {seq_len}")
        query_slots = write_index[:, None]  # [B, 1]
        kv_mask = cache.kv_mask.at[jnp.arange(input_ids.shape[0]), write_index].set(attention_mask[:, 0])
      else:
        query_slots = write_index + jnp.arange(seq_len)
        kv_mask = jax.lax.dynamic_update_slice(cache.kv_mask, attention_mask, (0, write_index))

    def run_block(layer, x, layer_cache):
      return layer(x, positions, kv_mask, query_slots, layer_cache, write_index, constrain)

    if self.scan_layers:
      stacked = None if cache is None else LayerKV(cache.k, cache.v, decode_block=cache.decode_block)
      x, stacked = run_stacked(self.layers, x, stacked, remat=remat, apply=run_block)
      new_k, new_v = (None, None) if stacked is None else (stacked.k, stacked.v)
    else:
      if remat:
        run_block = nnx.remat(run_block)
      new_k, new_v = [], []
      for i, layer in enumerate(self.layers):
        layer_cache = None if cache is None else LayerKV(cache.k[i], cache.v[i], decode_block=cache.decode_block)
        x, updated = run_block(layer, x, layer_cache)
        if updated is not None:
          new_k.append(updated.k)
          new_v.append(updated.v)
      new_k, new_v = tuple(new_k), tuple(new_v)
    hidden = self.final_norm(x)

    new_cache = None
    if cache is not None:
      new_cache = KVCache(k=new_k, v=new_v, kv_mask=kv_mask, end_index=write_index + seq_len,
                          decode_block=cache.decode_block)
    return hidden, new_cache

  def logits(self, hidden: jax.Array, constrain: Constrain = no_constraint) -> jax.Array:
    """float32 logits [B, T, V] of hidden states [B, T, D]. Only for small inputs: it is a full [B, T, V]."""
    out = jnp.einsum("BTD,VD->BTV", hidden, self.unembed, preferred_element_type=jnp.float32)
    return constrain(out, "act_btv")
