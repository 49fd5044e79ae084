"""Prompt-length buckets: left-pad a batch to one of a few lengths so the sampler compiles a few times.

Every distinct prompt length P is a distinct compiled prefill / decode program, so raw lengths would
recompile on nearly every batch. Powers of two bound the number of programs by log2(max / min) at the
cost of at most 2x padding; `multiple=64` trades more programs for less padding on long prompts.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def bucket_length(length: int, *, min_bucket: int = 16, multiple: int | None = None,
                  max_length: int | None = None) -> int:
  """The padded length for a longest prompt of `length` tokens: the next power of two (at least
  `min_bucket`), or the next multiple of `multiple`; capped at `max_length`, which `length` must fit."""
  if length < 1:
    raise ValueError(f"prompt length {length}: prompts must have at least one token")
  if max_length is not None and length > max_length:
    raise ValueError(f"prompt length {length} exceeds max_length={max_length}")
  if multiple is not None:
    if multiple < 1:
      raise ValueError(f"multiple={multiple}: must be >= 1")
    bucket = -(-length // multiple) * multiple
  else:
    if min_bucket < 1:
      raise ValueError(f"min_bucket={min_bucket}: must be >= 1")
    bucket = max(min_bucket, 1 << (length - 1).bit_length())
  return bucket if max_length is None else min(bucket, max_length)


def pad_to_bucket(prompts: Sequence[Sequence[int]], *, pad_id: int = 0, min_bucket: int = 16,
                  multiple: int | None = None, max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Token-id lists -> (ids [B, P] int32, mask [B, P] int32), left-padded to the bucket of the longest.

  Left padding puts every prompt's last token in the last column, where decoding continues for all
  rows at once (the KV cache has one shared write index).
  """
  if not prompts:
    raise ValueError("prompts is empty; expected at least one token-id list")
  for i, tokens in enumerate(prompts):
    if len(tokens) == 0:
      raise ValueError(f"prompts[{i}] is empty; every prompt needs at least one token")
  width = bucket_length(max(len(t) for t in prompts), min_bucket=min_bucket, multiple=multiple,
                        max_length=max_length)
  ids = np.full((len(prompts), width), pad_id, np.int32)
  mask = np.zeros((len(prompts), width), np.int32)
  for row, tokens in enumerate(prompts):
    ids[row, width - len(tokens):] = np.asarray(tokens, np.int32)
    mask[row, width - len(tokens):] = 1
  return ids, mask
