"""Qwen2 / Qwen2.5 / Qwen3 model configuration: one frozen dataclass, built from an HF `config.json`.

The Qwen2-vs-Qwen3 differences (qkv bias, q/k RMSNorm, explicit head_dim, tied embeddings) are fields,
not forked model files. Every HF field that would change the math and that this port does not implement
raises here, naming the field and its value, so an unsupported checkpoint fails before any weight is read
instead of producing silently wrong logits.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Mapping

SUPPORTED_MODEL_TYPES = ("qwen2", "qwen3")


class UnsupportedConfigError(ValueError):
  """An HF config field whose value changes the math in a way this port does not implement."""


@dataclasses.dataclass(frozen=True)
class QwenConfig:
  """Architecture of a dense Qwen decoder.

  Attributes:
    vocab_size: V, rows of the embedding and LM head.
    hidden_size: D.
    intermediate_size: F, SwiGLU hidden width.
    num_layers: decoder blocks.
    num_heads: N, query heads.
    num_kv_heads: K, key/value heads (grouped-query attention, N % K == 0).
    head_dim: H (Qwen3 sets it explicitly; Qwen2 derives D / N).
    rope_theta: rotary base.
    rms_norm_eps: epsilon of every RMSNorm.
    tie_word_embeddings: LM head shares the embedding matrix.
    qkv_bias: q/k/v projections carry a bias (Qwen2: always; Qwen3: `attention_bias`).
    out_bias: o_proj carries a bias (Qwen3 `attention_bias` only).
    qk_norm: RMSNorm over head_dim on q and k before RoPE (Qwen3).
    max_position_embeddings: longest context the checkpoint was trained for (informational).
    model_type: "qwen2" or "qwen3", used when writing an HF config back.
  """

  vocab_size: int
  hidden_size: int
  intermediate_size: int
  num_layers: int
  num_heads: int
  num_kv_heads: int
  head_dim: int
  rope_theta: float = 1_000_000.0
  rms_norm_eps: float = 1e-6
  tie_word_embeddings: bool = False
  qkv_bias: bool = True
  out_bias: bool = False
  qk_norm: bool = False
  max_position_embeddings: int = 32768
  model_type: str = "qwen2"

  def __post_init__(self):
    for name in ("vocab_size", "hidden_size", "intermediate_size", "num_layers", "num_heads",
                 "num_kv_heads", "head_dim"):
      value = getattr(self, name)
      if not isinstance(value, int) or value <= 0:
        raise ValueError(f"QwenConfig.{name} must be a positive int, got {value!r}")
    if self.num_heads % self.num_kv_heads:
      raise ValueError(
          f"QwenConfig.num_heads={self.num_heads} is not a multiple of num_kv_heads={self.num_kv_heads}")
    if self.head_dim % 2:
      raise ValueError(f"QwenConfig.head_dim={self.head_dim} must be even for rotary embeddings")
    if self.model_type not in SUPPORTED_MODEL_TYPES:
      raise ValueError(f"QwenConfig.model_type={self.model_type!r}; supported: {SUPPORTED_MODEL_TYPES}")

  @property
  def num_groups(self) -> int:
    """G: query heads per key/value head."""
    return self.num_heads // self.num_kv_heads

  # ----------------------------------------------------------------------------------------------
  # HF conversion
  # ----------------------------------------------------------------------------------------------

  @classmethod
  def from_hf_dict(cls, hf: Mapping[str, Any]) -> "QwenConfig":
    """Builds the config from a parsed HF `config.json`, rejecting unsupported features."""
    model_type = hf.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
      raise UnsupportedConfigError(
          f"config.json model_type={model_type!r} is not supported; supported: {SUPPORTED_MODEL_TYPES}")
    _reject_unsupported(hf)
    num_heads = int(hf["num_attention_heads"])
    hidden = int(hf["hidden_size"])
    head_dim = hf.get("head_dim") or hidden // num_heads
    is_qwen3 = model_type == "qwen3"
    attention_bias = bool(hf.get("attention_bias", False))
    return cls(
        vocab_size=int(hf["vocab_size"]),
        hidden_size=hidden,
        intermediate_size=int(hf["intermediate_size"]),
        num_layers=int(hf["num_hidden_layers"]),
        num_heads=num_heads,
        num_kv_heads=int(hf.get("num_key_value_heads") or num_heads),
        head_dim=int(head_dim),
        rope_theta=float(_rope_theta(hf)),
        rms_norm_eps=float(hf.get("rms_norm_eps", 1e-6)),
        tie_word_embeddings=bool(hf.get("tie_word_embeddings", False)),
        qkv_bias=attention_bias if is_qwen3 else True,
        out_bias=attention_bias if is_qwen3 else False,
        qk_norm=is_qwen3,
        max_position_embeddings=int(hf.get("max_position_embeddings", 32768)),
        model_type=model_type,
    )

  @classmethod
  def from_pretrained(cls, path: str | os.PathLike) -> "QwenConfig":
    """Reads `path/config.json`."""
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
      raise FileNotFoundError(f"no config.json in model path {str(path)!r}")
    with open(config_path) as f:
      return cls.from_hf_dict(json.load(f))

  def to_hf_dict(self) -> dict[str, Any]:
    """The HF `config.json` fields that `transformers` needs to rebuild this architecture."""
    hf = {
        "architectures": ["Qwen3ForCausalLM" if self.model_type == "qwen3" else "Qwen2ForCausalLM"],
        "model_type": self.model_type,
        "vocab_size": self.vocab_size,
        "hidden_size": self.hidden_size,
        "intermediate_size": self.intermediate_size,
        "num_hidden_layers": self.num_layers,
        "num_attention_heads": self.num_heads,
        "num_key_value_heads": self.num_kv_heads,
        "head_dim": self.head_dim,
        "hidden_act": "silu",
        "rms_norm_eps": self.rms_norm_eps,
        "rope_theta": self.rope_theta,
        "rope_scaling": None,
        "tie_word_embeddings": self.tie_word_embeddings,
        "max_position_embeddings": self.max_position_embeddings,
        "use_sliding_window": False,
        "attention_dropout": 0.0,
    }
    if self.model_type == "qwen3":
      if self.qkv_bias != self.out_bias:
        raise UnsupportedConfigError("qwen3 has one attention_bias flag; qkv_bias and out_bias must agree")
      hf["attention_bias"] = self.qkv_bias
    elif not self.qkv_bias or self.out_bias or self.qk_norm:
      raise UnsupportedConfigError(
          "qwen2 checkpoints always have qkv bias, no o_proj bias and no q/k norm; "
          f"got qkv_bias={self.qkv_bias}, out_bias={self.out_bias}, qk_norm={self.qk_norm}")
    return hf


def _rope_theta(hf: Mapping[str, Any]) -> float:
  """rope_theta lives at top level (transformers < 5) or inside rope_parameters (transformers >= 5)."""
  params = hf.get("rope_parameters") or {}
  return params.get("rope_theta", hf.get("rope_theta", 10000.0))


def _reject_unsupported(hf: Mapping[str, Any]) -> None:
  """Raises on every HF feature that changes the math and is not implemented."""
  for key in ("rope_scaling", "rope_parameters"):
    rope = hf.get(key)
    if rope:
      rope_type = rope.get("rope_type", rope.get("type", "default"))
      if rope_type not in (None, "default"):
        raise UnsupportedConfigError(
            f"config.json {key}.rope_type={rope_type!r} is not supported (only plain RoPE)")
  if hf.get("use_sliding_window"):
    raise UnsupportedConfigError(
        f"config.json use_sliding_window=True (sliding_window={hf.get('sliding_window')!r}) is not supported")
  layer_types = hf.get("layer_types") or ()
  other = sorted({t for t in layer_types if t != "full_attention"})
  if other:
    raise UnsupportedConfigError(f"config.json layer_types contains {other}; only 'full_attention' is supported")
  act = hf.get("hidden_act", "silu")
  if act != "silu":
    raise UnsupportedConfigError(f"config.json hidden_act={act!r} is not supported (only 'silu')")
  for key in ("num_experts", "num_local_experts", "moe_intermediate_size"):
    if hf.get(key):
      raise UnsupportedConfigError(f"config.json {key}={hf[key]!r}: mixture-of-experts models are not supported")


# --------------------------------------------------------------------------------------------------
# Presets: the published architectures (weights always come from a user-given path) and a tiny one.
# --------------------------------------------------------------------------------------------------

_QWEN25_VOCAB = 151936
_QWEN25_7B_VOCAB = 152064


def _qwen2(**kw) -> QwenConfig:
  kw.setdefault("head_dim", kw["hidden_size"] // kw["num_heads"])
  return QwenConfig(model_type="qwen2", qkv_bias=True, out_bias=False, qk_norm=False, **kw)


def _qwen3(**kw) -> QwenConfig:
  kw.setdefault("max_position_embeddings", 40960)  # the post-trained Qwen3 checkpoints
  return QwenConfig(model_type="qwen3", qkv_bias=False, out_bias=False, qk_norm=True, head_dim=128,
                    vocab_size=151936, rope_theta=1_000_000.0, **kw)


PRESETS: dict[str, QwenConfig] = {
    "qwen2.5-0.5b": _qwen2(vocab_size=_QWEN25_VOCAB, hidden_size=896, intermediate_size=4864, num_layers=24,
                           num_heads=14, num_kv_heads=2, tie_word_embeddings=True),
    "qwen2.5-1.5b": _qwen2(vocab_size=_QWEN25_VOCAB, hidden_size=1536, intermediate_size=8960, num_layers=28,
                           num_heads=12, num_kv_heads=2, tie_word_embeddings=True),
    # Qwen/Qwen2.5-7B (base) config.json: 131072 positions, rope_theta 1e6, rms eps 1e-6 (as read from
    # fine-tunes whose config names _name_or_path Qwen/Qwen2.5-7B, e.g. AmberYifan/Qwen2.5-7B-gen-dpo-10k).
    "qwen2.5-7b": _qwen2(vocab_size=_QWEN25_7B_VOCAB, hidden_size=3584, intermediate_size=18944, num_layers=28,
                         num_heads=28, num_kv_heads=4, tie_word_embeddings=False, max_position_embeddings=131072),
    # Qwen/Qwen2.5-32B (base) config.json: 64 layers, 40 / 8 heads, rms eps 1e-5 (not 1e-6), 131072
    # positions, rope_theta 1e6 (read from configs naming _name_or_path Qwen/Qwen2.5-32B, e.g.
    # TeamDelta/Re-ultiima-32B). The verl DAPO recipe's model (recipe/dapo/run_dapo_qwen2.5_32b.sh).
    "qwen2.5-32b": _qwen2(vocab_size=_QWEN25_7B_VOCAB, hidden_size=5120, intermediate_size=27648, num_layers=64,
                          num_heads=40, num_kv_heads=8, tie_word_embeddings=False, rms_norm_eps=1e-5,
                          max_position_embeddings=131072),
    "qwen2.5-math-1.5b": _qwen2(vocab_size=_QWEN25_VOCAB, hidden_size=1536, intermediate_size=8960,
                                num_layers=28, num_heads=12, num_kv_heads=2, tie_word_embeddings=True,
                                rope_theta=10000.0, max_position_embeddings=4096),
    "qwen2.5-math-7b": _qwen2(vocab_size=_QWEN25_7B_VOCAB, hidden_size=3584, intermediate_size=18944,
                              num_layers=28, num_heads=28, num_kv_heads=4, tie_word_embeddings=False,
                              rope_theta=10000.0, max_position_embeddings=4096),
    "qwen3-0.6b": _qwen3(hidden_size=1024, intermediate_size=3072, num_layers=28, num_heads=16, num_kv_heads=8,
                         tie_word_embeddings=True),
    "qwen3-1.7b": _qwen3(hidden_size=2048, intermediate_size=6144, num_layers=28, num_heads=16, num_kv_heads=8,
                         tie_word_embeddings=True),
    "qwen3-4b": _qwen3(hidden_size=2560, intermediate_size=9728, num_layers=36, num_heads=32, num_kv_heads=8,
                       tie_word_embeddings=True),
    "qwen3-8b": _qwen3(hidden_size=4096, intermediate_size=12288, num_layers=36, num_heads=32, num_kv_heads=8,
                       tie_word_embeddings=False),
    # Qwen/Qwen3-14B-Base: the Qwen3-14B shape (40 layers, 40 / 8 heads, F 17408, untied) with the Base
    # checkpoints' 32768 positions (Qwen3-*-Base configs; the 14B-Base config.json itself was not read, so
    # its position count is inferred from the smaller Base models). Beyond-the-80/20's model.
    "qwen3-14b-base": _qwen3(hidden_size=5120, intermediate_size=17408, num_layers=40, num_heads=40,
                             num_kv_heads=8, tie_word_embeddings=False, max_position_embeddings=32768),
    # Tests and the embedded default: Qwen2 architecture, small enough for 2 CPU cores.
    "tiny": QwenConfig(vocab_size=512, hidden_size=128, intermediate_size=384, num_layers=4, num_heads=4,
                       num_kv_heads=2, head_dim=32, rope_theta=10000.0, tie_word_embeddings=True,
                       max_position_embeddings=1024, model_type="qwen2"),
}


def preset(name: str, **overrides) -> QwenConfig:
  """A named architecture, optionally with fields replaced (e.g. `preset("tiny", vocab_size=64)`)."""
  if name not in PRESETS:
    raise ValueError(f"unknown model preset {name!r}; known: {', '.join(sorted(PRESETS))}")
  return dataclasses.replace(PRESETS[name], **overrides)
