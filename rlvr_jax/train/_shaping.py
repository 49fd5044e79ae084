"""Reward shaping and batch selection between scoring and advantages (DAPO and friends).

Pure numpy on host-side per-response values: these run once per rollout on [R] vectors, never on
tokens, so they cost nothing next to generation.
"""

from __future__ import annotations

import numpy as np

class GenerationCapReached(RuntimeError):
  """Dynamic sampling drew train.max_gen_batches generation batches without enough informative groups."""


def overlong_penalty(lengths: np.ndarray, *, max_new_tokens: int, buffer: int, factor: float) -> np.ndarray:
  """DAPO soft overlong punishment, counted in tokens: 0 up to max - buffer, then linear down to -1 at
  max_new_tokens (and -1 for truncated responses, whose length is max_new_tokens), times `factor`."""
  if buffer <= 0:
    return np.zeros(lengths.shape, np.float32)
  start = max_new_tokens - buffer
  penalty = np.clip((start - lengths.astype(np.float32)) / buffer, -1.0, 0.0)
  return (factor * penalty).astype(np.float32)


def informative_groups(values: np.ndarray, group_size: int) -> np.ndarray:
  """[G] bool: groups whose values are not all equal (DAPO dynamic sampling keeps only these: a group
  with identical rewards has zero advantage under every group-relative estimator). The trainer passes
  the verifier's correctness, as verl's `filter_groups.metric=acc` does in every recipe; a group of
  one response is kept (verl: std of a single value is taken as informative)."""
  grouped = np.asarray(values, np.float32).reshape(-1, group_size)
  if group_size == 1:
    return np.ones(grouped.shape[0], bool)
  return grouped.max(axis=1) > grouped.min(axis=1)


def select_groups(informative: np.ndarray, wanted: int) -> tuple[np.ndarray, int]:
  """Indices of `wanted` groups: informative ones first (in order), then uninformative ones to keep
  the batch shape static when too few informative groups were generated. Returns (indices, filled)."""
  keep = np.flatnonzero(informative)[:wanted]
  filled = wanted - keep.size
  if filled:
    keep = np.concatenate([keep, np.flatnonzero(~informative)[:filled]])
  return np.sort(keep), int(filled)
