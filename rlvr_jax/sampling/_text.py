"""Strings in, strings out: tokenize (optionally through the chat template), bucket, generate, decode.

A convenience for evaluation, demos and debugging; the trainer calls `generate` on token ids directly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import numpy as np

from rlvr_jax.models._qwen import Qwen
from rlvr_jax.sampling._buckets import pad_to_bucket
from rlvr_jax.sampling._sampler import generate
from rlvr_jax.sampling._state import SamplerOutput

# Qwen's end-of-turn and end-of-document tokens: a chat model ends its answer with the first.
DEFAULT_STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")


@dataclasses.dataclass(frozen=True)
class TextGeneration:
  """Attributes:
    completions: completions[p][j] is sample j of prompt p (masked tokens dropped).
    output: the token-level `SamplerOutput` (rows prompt-major).
    prompt_ids, prompt_mask: [B, P] the left-padded prompts that were generated from.
  """

  completions: list[list[str]]
  output: SamplerOutput
  prompt_ids: np.ndarray
  prompt_mask: np.ndarray


def default_stop_token_ids(tokenizer: Any) -> tuple[int, ...]:
  """The tokenizer's EOS plus whichever of Qwen's <|im_end|> / <|endoftext|> it has."""
  vocab = tokenizer.get_vocab()
  ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
  ids += [vocab[t] for t in DEFAULT_STOP_TOKENS if t in vocab]
  return tuple(dict.fromkeys(int(i) for i in ids))


def generate_text(
    model: Qwen,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    chat_template: bool,
    key: jax.Array,
    max_new_tokens: int,
    system_prompt: str | None = None,
    stop_token_ids: Sequence[int] | None = None,
    num_samples: int = 1,
    min_bucket: int = 16,
    skip_special_tokens: bool = True,
    **sampling: Any,
) -> TextGeneration:
  """Generates completions of `prompts` with a transformers tokenizer.

  Args:
    chat_template: wrap each prompt as a user turn (after an optional system turn) with the tokenizer's
      chat template and the assistant generation prompt; otherwise tokenize the raw string.
    stop_token_ids: default `default_stop_token_ids(tokenizer)`.
    **sampling: forwarded to `generate` (temperature, top_p, top_k, min_p, mesh, ...).
  """
  if isinstance(prompts, str) or not prompts:
    raise ValueError("prompts must be a non-empty list of strings")
  if chat_template:
    if getattr(tokenizer, "chat_template", None) is None:
      raise ValueError("chat_template=True but the tokenizer has no chat template")
    system = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
    texts = [tokenizer.apply_chat_template(system + [{"role": "user", "content": p}], tokenize=False,
                                           add_generation_prompt=True) for p in prompts]
  else:
    texts = list(prompts)
  # The chat template already spells out its special tokens.
  token_lists = tokenizer(texts, add_special_tokens=not chat_template)["input_ids"]
  pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
  ids, mask = pad_to_bucket(token_lists, pad_id=pad_id, min_bucket=min_bucket)
  stops = default_stop_token_ids(tokenizer) if stop_token_ids is None else tuple(stop_token_ids)
  out = generate(model, ids, mask, key=key, max_new_tokens=max_new_tokens, stop_token_ids=stops,
                 num_samples=num_samples, pad_id=pad_id, **sampling)
  tokens, response_mask = np.asarray(out.tokens), np.asarray(out.response_mask)
  texts_out = [tokenizer.decode(row[row_mask].tolist(), skip_special_tokens=skip_special_tokens)
               for row, row_mask in zip(tokens, response_mask)]
  completions = [texts_out[p * num_samples:(p + 1) * num_samples] for p in range(len(prompts))]
  return TextGeneration(completions=completions, output=out, prompt_ids=ids, prompt_mask=mask)
