"""The samplers' test setting for ragged lengths, shared by the continuous-batching and ragged-decode tests:
a tiny model on a 96-token vocabulary, many stop ids (sampled rows end after a few tokens or run to the
budget), left-padded prompts of different real lengths."""

import numpy as np

from rlvr_jax import models

CONFIG = models.preset("tiny", vocab_size=96, num_layers=2, max_position_embeddings=256)
STOPS = tuple(range(1, 9))
SAMPLED = dict(temperature=0.9, top_k=40, top_p=0.9, min_p=0.02)


def left_padded_prompts(batch: int = 4, prompt_len: int = 10, seed: int = 0):
  """[B, P] ids and mask, left-padded: row 0 full, the others shorter."""
  rng = np.random.default_rng(seed)
  ids = rng.integers(10, CONFIG.vocab_size, (batch, prompt_len)).astype(np.int32)
  mask = np.ones((batch, prompt_len), np.int32)
  for row in range(1, batch):
    mask[row, : (3 * row) % prompt_len] = 0
  ids[mask == 0] = 0
  return ids, mask
