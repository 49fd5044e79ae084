"""Text <-> tokens for the trainer: the tokenizer, its stop-token ids, and decoding of completions.

Stop tokens are resolved here, before anything compiles: a tokenizer that lacks a configured stop
token is a config error naming the token, not a run that silently never stops.

Where a tokenizer lives: transformers >= 5 picks the tokenizer class from `config.json`'s model_type,
so a generic `tokenizers`-backed tokenizer (the built-in one) saved beside a Qwen2 config.json would be
reloaded as a Qwen2Tokenizer with a different pre-tokenizer. Such tokenizers are therefore kept in a
`tokenizer/` subdirectory of the model directory; model-specific ones (real Qwen) sit beside the weights.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import numpy as np

from rlvr_jax.config.schema import ConfigError


GENERIC_SUBDIR = "tokenizer"


def save_tokenizer(tokenizer: Any, model_dir: str) -> str:
  """Saves beside the weights, or in `tokenizer/` for a generic tokenizers-backed one; returns the dir."""
  generic = type(tokenizer).__name__ in (
      "PreTrainedTokenizerFast", "TokenizersBackend")
  target = os.path.join(model_dir, GENERIC_SUBDIR) if generic else model_dir
  tokenizer.save_pretrained(target)
  return target


@dataclasses.dataclass(frozen=True)
class TextCodec:
  tokenizer: Any
  stop_token_ids: tuple[int, ...]

  @classmethod
  def load(cls, tokenizer_dir: str, stop_tokens: tuple[str, ...]) -> "TextCodec":
    from transformers import AutoTokenizer

    if os.path.isfile(os.path.join(tokenizer_dir, GENERIC_SUBDIR, "tokenizer.json")):
      tokenizer_dir = os.path.join(tokenizer_dir, GENERIC_SUBDIR)
    if not os.path.isdir(tokenizer_dir):
      raise ConfigError(f"model.tokenizer / model.path: tokenizer directory {tokenizer_dir!r} does not exist")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    ids = []
    vocab = tokenizer.get_vocab()
    for token in stop_tokens:
      if token not in vocab:
        raise ConfigError(f"rollout.stop_tokens: the tokenizer in {tokenizer_dir!r} has no token {token!r}")
      ids.append(vocab[token])
    return cls(tokenizer=tokenizer, stop_token_ids=tuple(ids))

  def save(self, model_dir: str) -> None:
    """Writes the tokenizer so that `load(model_dir)` (and transformers) get it back unchanged."""
    save_tokenizer(self.tokenizer, model_dir)

  def decode(self, tokens: np.ndarray, mask: np.ndarray) -> list[str]:
    """Completion texts: masked tokens (after a stop, padding) dropped, special tokens skipped."""
    return [self.tokenizer.decode([int(t) for t, m in zip(row, row_mask) if m > 0], skip_special_tokens=True)
            for row, row_mask in zip(tokens, mask)]
