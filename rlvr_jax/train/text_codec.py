"""Text <-> tokens for the trainer: the tokenizer, its stop-token ids, and decoding of completions.

Stop tokens are resolved here, before anything compiles: a tokenizer that lacks a configured stop
token is a config error naming the token, not a run that silently never stops.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from rlvr_jax.config.schema import ConfigError


@dataclasses.dataclass(frozen=True)
class TextCodec:
  tokenizer: Any
  stop_token_ids: tuple[int, ...]

  @classmethod
  def load(cls, tokenizer_dir: str, stop_tokens: tuple[str, ...]) -> "TextCodec":
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    ids = []
    vocab = tokenizer.get_vocab()
    for token in stop_tokens:
      if token not in vocab:
        raise ConfigError(f"rollout.stop_tokens: the tokenizer in {tokenizer_dir!r} has no token {token!r}")
      ids.append(vocab[token])
    return cls(tokenizer=tokenizer, stop_token_ids=tuple(ids))

  def decode(self, tokens: np.ndarray, mask: np.ndarray) -> list[str]:
    """Completion texts: masked tokens (after a stop, padding) dropped, special tokens skipped."""
    return [self.tokenizer.decode([int(t) for t, m in zip(row, row_mask) if m > 0], skip_special_tokens=True)
            for row, row_mask in zip(tokens, mask)]
