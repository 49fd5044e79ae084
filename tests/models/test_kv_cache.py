"""Prefill + token-by-token decode through the explicit KV cache equals one full forward pass."""

import jax.numpy as jnp
import numpy as np
from flax import nnx

from rlvr_jax import models
from rlvr_jax.models import hf_reference


def test_cached_decode_matches_full_forward(hf_checkpoints):
  """Left-padded prompts of different lengths, 6 decode steps: hidden states agree to float32 precision."""
  path, _, config = hf_checkpoints["qwen3-tied-bias"]
  model = models.load_pretrained(path, dtype=jnp.float32)
  prompt_len, steps = 8, 6
  ids, mask = hf_reference.padded_batch([8, 5, 2], prompt_len + steps, config.vocab_size, side="left", seed=6)
  # Rows are left-padded within the prompt; generated tokens are all real.
  mask[:, prompt_len:] = 1
  full_hidden, _ = nnx.jit(lambda m, i, a: m(i, a))(model, ids, mask)

  @nnx.jit
  def step(model, ids, mask, positions, cache):
    return model(ids, mask, positions, cache=cache)

  positions = np.asarray(models.positions_from_mask(mask))
  cache = models.init_cache(model.config, batch=3, max_length=prompt_len + steps, dtype=jnp.float32)
  hidden, cache = step(model, ids[:, :prompt_len], mask[:, :prompt_len], positions[:, :prompt_len], cache)
  outs = [hidden]
  for t in range(prompt_len, prompt_len + steps):
    hidden, cache = step(model, ids[:, t:t + 1], mask[:, t:t + 1], positions[:, t:t + 1], cache)
    outs.append(hidden)
  assert int(cache.end_index) == prompt_len + steps
  cached = np.concatenate([np.asarray(h) for h in outs], axis=1)
  real = mask.astype(bool)
  np.testing.assert_allclose(cached[real], np.asarray(full_hidden)[real], atol=1e-5)
