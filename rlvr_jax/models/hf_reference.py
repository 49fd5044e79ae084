"""Tiny random HF Qwen checkpoints and the transformers reference forward, for parity checks.

Nothing is downloaded: checkpoints are built locally from random weights by transformers itself, which
is what makes them an independent reference for this port. Needs torch (the `test` extra).
"""

from __future__ import annotations

import os
from typing import Literal

import numpy as np

Family = Literal["qwen2", "qwen3"]


def tiny_hf_config(family: Family = "qwen2", *, tied: bool = True, vocab_size: int = 256,
                   hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4, num_kv_heads: int = 2,
                   head_dim: int | None = None, attention_bias: bool = False, **extra):
  """A small transformers Qwen2Config / Qwen3Config (Qwen3 with an explicit head_dim != D / N)."""
  from transformers import Qwen2Config, Qwen3Config

  common = dict(vocab_size=vocab_size, hidden_size=hidden_size, intermediate_size=2 * hidden_size + 16,
                num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_kv_heads,
                rms_norm_eps=1e-6, tie_word_embeddings=tied, max_position_embeddings=512,
                rope_theta=10000.0, initializer_range=0.1, **extra)
  if family == "qwen2":
    return Qwen2Config(**common)
  return Qwen3Config(head_dim=head_dim or 2 * hidden_size // num_heads, attention_bias=attention_bias, **common)


def make_random_checkpoint(path: str | os.PathLike, config, *, seed: int = 0,
                           max_shard_size: str | int = "5GB"):
  """Writes a randomly initialized HF model (float32) to `path` and returns the torch model.

  Biases and norm scales are randomized too (HF initializes them to 0 / 1), so a port that forgot to
  load one of them would fail parity.
  """
  import torch
  from transformers import AutoModelForCausalLM

  torch.manual_seed(seed)
  model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
  with torch.no_grad():
    for name, param in model.named_parameters():
      if name.endswith("bias") or "norm" in name:
        param.add_(0.1 * torch.randn_like(param))
  model.save_pretrained(os.fspath(path), max_shard_size=max_shard_size)
  return model


def reference_logits(torch_model, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
  """transformers float32 logits with padding-aware positions (as `generate` computes them)."""
  import torch

  ids = torch.as_tensor(np.asarray(input_ids), dtype=torch.long)
  mask = torch.as_tensor(np.asarray(attention_mask), dtype=torch.long)
  positions = (mask.cumsum(-1) - 1).clamp(min=0)
  with torch.no_grad():
    out = torch_model(input_ids=ids, attention_mask=mask, position_ids=positions)
  return out.logits.float().numpy()


def padded_batch(lengths: list[int], total: int, vocab_size: int, *, side: Literal["left", "right"],
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Random token ids [B, total] with rows of the given real lengths, padded on one side."""
  rng = np.random.default_rng(seed)
  ids = rng.integers(0, vocab_size, size=(len(lengths), total)).astype(np.int32)
  mask = np.zeros((len(lengths), total), np.int32)
  for row, n in enumerate(lengths):
    if side == "left":
      mask[row, total - n:] = 1
    else:
      mask[row, :n] = 1
  ids = np.where(mask == 1, ids, 0)
  return ids, mask
