"""Text <-> tokens for a run: the tokenizer, its stop-token ids, and decoding of completions.

Stop tokens are resolved here: a tokenizer that lacks a configured stop token is a config error naming
the token, not a run that silently never stops. `rlvr_jax.config.validate` builds the run's codec once
(model.tokenizer, model.path, or the embedded default's built-in tokenizer), before anything compiles.

Where a tokenizer lives: transformers >= 5 picks the tokenizer class from `config.json`'s model_type,
so a generic `tokenizers`-backed tokenizer (the built-in one) saved beside a Qwen2 config.json would be
reloaded as a Qwen2Tokenizer with a different pre-tokenizer. Such tokenizers are therefore kept in a
`tokenizer/` subdirectory of the model directory; model-specific ones (real Qwen) sit beside the weights.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Sequence

import numpy as np

from rlvr_jax.errors import ConfigError

GENERIC_SUBDIR = "tokenizer"
# A directory with none of these holds no tokenizer; transformers would still build an empty one from
# config.json's model_type (a single <|endoftext|> token) instead of failing.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


def save_tokenizer(tokenizer: Any, model_dir: str) -> str:
  """Saves beside the weights, or in `tokenizer/` for a generic tokenizers-backed one; returns the dir."""
  generic = type(tokenizer).__name__ in (
      "PreTrainedTokenizerFast", "TokenizersBackend")
  target = os.path.join(model_dir, GENERIC_SUBDIR) if generic else model_dir
  tokenizer.save_pretrained(target)
  return target


def load_tokenizer(tokenizer_dir: str, *, field: str = "model.tokenizer / model.path") -> Any:
  """AutoTokenizer from `tokenizer_dir` (or its `tokenizer/` subdirectory).

  transformers reports a missing or damaged tokenizer as one of several exception types whose messages
  do not say which directory was read; every one of them becomes a ConfigError naming the field.
  """
  from transformers import AutoTokenizer

  if not os.path.isdir(tokenizer_dir):
    raise ConfigError(f"{field}={tokenizer_dir!r}: tokenizer directory does not exist")
  if os.path.isfile(os.path.join(tokenizer_dir, GENERIC_SUBDIR, "tokenizer.json")):
    tokenizer_dir = os.path.join(tokenizer_dir, GENERIC_SUBDIR)
  if not any(os.path.isfile(os.path.join(tokenizer_dir, name)) for name in TOKENIZER_FILES):
    raise ConfigError(f"{field}: {tokenizer_dir!r} has no tokenizer files ({', '.join(TOKENIZER_FILES)}); set "
                      f"model.tokenizer to a directory that has them")
  try:
    return AutoTokenizer.from_pretrained(tokenizer_dir)
  except Exception as e:  # noqa: BLE001 - re-raised below with the directory and field
    first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
    raise ConfigError(f"{field}: cannot load a tokenizer from {tokenizer_dir!r} ({type(e).__name__}: "
                      f"{first_line}); its tokenizer files are damaged or incomplete") from e


def stop_token_ids(tokenizer: Any, stop_tokens: Sequence[str], *, where: str,
                   vocab_size: int | None = None) -> tuple[int, ...]:
  """Ids of `stop_tokens`; each must be one token of the tokenizer and fit the model's vocabulary."""
  vocab = tokenizer.get_vocab()
  ids = []
  for token in stop_tokens:
    if token not in vocab:
      raise ConfigError(f"rollout.stop_tokens: the tokenizer {where} has no token {token!r} (rollout.stop_tokens="
                        f"{','.join(stop_tokens)!r}); name the model's end-of-turn / end-of-text tokens")
    ids.append(int(vocab[token]))
  if vocab_size is not None and len(tokenizer) > vocab_size:
    raise ConfigError(f"the tokenizer {where} has {len(tokenizer)} tokens but the model's vocab_size is "
                      f"{vocab_size}: tokenizer and weights do not belong together (check model.tokenizer)")
  return tuple(ids)


@dataclasses.dataclass(frozen=True)
class TextCodec:
  tokenizer: Any
  stop_token_ids: tuple[int, ...]

  @classmethod
  def load(cls, tokenizer_dir: str, stop_tokens: tuple[str, ...], *,
           field: str = "model.tokenizer / model.path", vocab_size: int | None = None) -> "TextCodec":
    tokenizer = load_tokenizer(tokenizer_dir, field=field)
    return cls.create(tokenizer, stop_tokens, where=f"in {tokenizer_dir!r} ({field})", vocab_size=vocab_size)

  @classmethod
  def create(cls, tokenizer: Any, stop_tokens: Sequence[str], *, where: str,
             vocab_size: int | None = None) -> "TextCodec":
    """A codec of an already loaded tokenizer; `where` names it in errors."""
    return cls(tokenizer=tokenizer, stop_token_ids=stop_token_ids(tokenizer, stop_tokens, where=where,
                                                                  vocab_size=vocab_size))

  def save(self, model_dir: str) -> None:
    """Writes the tokenizer so that `load(model_dir)` (and transformers) get it back unchanged."""
    save_tokenizer(self.tokenizer, model_dir)

  def decode(self, tokens: np.ndarray, mask: np.ndarray) -> list[str]:
    """Completion texts: masked tokens (after a stop, padding) dropped, special tokens skipped."""
    return [self.tokenizer.decode([int(t) for t, m in zip(row, row_mask) if m > 0], skip_special_tokens=True)
            for row, row_mask in zip(tokens, mask)]
