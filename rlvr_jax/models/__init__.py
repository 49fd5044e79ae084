"""Flax NNX port of the dense Qwen2 / Qwen2.5 / Qwen3 decoders and their HF checkpoints.

Public API:
  QwenConfig, PRESETS, preset          architecture (frozen dataclass; from_hf_dict / from_pretrained)
  Qwen, KVCache, init_cache            the NNX module and its explicit cache pytree
  init(config, key=, dtype=, mesh=)    random init, born sharded when a mesh is given
  load_pretrained(path, dtype=, mesh=) an HF directory -> model, each weight placed into its shards
  build options of Qwen / init / abstract_model / load_pretrained:
    scan_layers=False                  stacked decoder blocks run by lax.scan (rlvr_jax.models._scan)
    attention="auto", platform=None    "auto" | "xla" | "splash" | "cudnn" (rlvr_jax.models._attention)
  save_pretrained(model, path)         model -> an HF directory that transformers loads
  logits(model, input_ids, mask)       float32 [B, T, V] (small inputs and tests only)
"""

from rlvr_jax.models._attention import ATTENTION_OPTIONS, AttentionKernel, resolve_attention
from rlvr_jax.models._config import PRESETS, QwenConfig, UnsupportedConfigError, preset
from rlvr_jax.models._modules import DecoderBlock
from rlvr_jax.models._factory import abstract_model, flat_params, init, logits, param_count
from rlvr_jax.models._pretrained import CheckpointMismatchError, load_pretrained, save_pretrained
from rlvr_jax.models._qwen import KVCache, Qwen, init_cache, positions_from_mask

__all__ = [
    "DecoderBlock", "resolve_attention",
    "ATTENTION_OPTIONS", "AttentionKernel", "PRESETS", "QwenConfig", "UnsupportedConfigError", "preset", "abstract_model", "flat_params", "init",
    "logits", "param_count", "CheckpointMismatchError", "load_pretrained", "save_pretrained", "KVCache",
    "Qwen", "init_cache", "positions_from_mask",
]
