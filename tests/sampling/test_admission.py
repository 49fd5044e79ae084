"""The continuous sampler's admission copy: a refilled slot gets its prompt's keys / values, and only the
slots taken in a round are gathered and written (every other slot's cache is left as it was), per slot
group, for per-layer and stacked (scanned) caches. End-to-end parity with the static sampler at slot
counts above one round's width is in test_continuous_batching.py."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax import models
from rlvr_jax.models import init_cache
from rlvr_jax.sampling._continuous import ADMIT_PER_ROUND, PromptStore, _copy_prompts
from rlvr_jax.sampling._draw import Draw, SamplerSpec
from rlvr_jax.sampling._strategies import make_strategy

CONFIG = models.preset("tiny", num_layers=2)
SLOTS, PROMPTS, PROMPT_LEN, NEW_TOKENS = 16, 4, 5, 6


def _spec(groups: int) -> SamplerSpec:
  strategy = make_strategy(temperature=1.0, top_p=1.0, top_k=0, min_p=0.0)
  return SamplerSpec(max_new_tokens=NEW_TOKENS, num_samples=2, stop_token_ids=(), strategy=strategy, pad_id=0,
                     context_limit=10_000, slot_groups=groups)


def _filled_cache(stacked: bool, rng) -> models.KVCache:
  """A slot cache whose every value is distinct, so any write shows."""
  cache = init_cache(CONFIG, SLOTS, PROMPT_LEN + NEW_TOKENS - 1, jnp.float32, scan_layers=stacked, decode_block=8)
  noise = lambda x: jnp.asarray(rng.standard_normal(x.shape), jnp.float32)  # noqa: E731
  kv = (lambda xs: noise(xs)) if stacked else (lambda xs: tuple(map(noise, xs)))  # noqa: E731
  return cache.replace(k=kv(cache.k), v=kv(cache.v), kv_mask=jnp.asarray(rng.random(cache.kv_mask.shape) < 0.5),
                       end_index=jnp.asarray(rng.integers(0, 9, SLOTS), jnp.int32))


def _store(stacked: bool, rng) -> PromptStore:
  shape = (PROMPTS, PROMPT_LEN, CONFIG.num_kv_heads, CONFIG.head_dim)
  layers = [jnp.asarray(rng.standard_normal(shape), jnp.float32) for _ in range(2 * CONFIG.num_layers)]
  k, v = layers[:CONFIG.num_layers], layers[CONFIG.num_layers:]
  k, v = (jnp.stack(k), jnp.stack(v)) if stacked else (tuple(k), tuple(v))
  mask = jnp.asarray(np.arange(PROMPT_LEN)[None, :] >= np.arange(PROMPTS)[:, None])  # prompt p: p pad slots
  rows = PROMPTS * 2
  unused = Draw(*(jnp.zeros((rows,), dtype) for dtype in (jnp.int32, jnp.float32, jnp.float32, jnp.bool_,
                                                        jnp.int32, jnp.int32)))
  return PromptStore(k=k, v=v, mask=mask, first=unused, row_keys=jax.random.split(jax.random.key(0), rows))


def _layers(x, stacked: bool) -> list[np.ndarray]:
  return list(np.asarray(x)) if stacked else [np.asarray(layer) for layer in x]


@pytest.mark.parametrize("stacked", [False, True], ids=["per_layer", "stacked"])
@pytest.mark.parametrize("groups", [1, 2])
def test_prompt_copy_writes_only_the_taken_slots(stacked, groups):
  """Slots 1, 4, 9 and 14 take prompts (indices within their group); their first P cache slots become
  that prompt's keys / values, their mask the prompt's mask, their write index P; every other value of
  the cache, the taken slots' response part included, is unchanged."""
  rng = np.random.default_rng(groups + 2 * stacked)
  cache, store = _filled_cache(stacked, rng), _store(stacked, rng)
  taken = np.zeros(SLOTS, bool)
  taken[[1, 4, 9, 14]] = True
  prompt = rng.integers(0, PROMPTS // groups, SLOTS).astype(np.int32)  # within the slot's group
  copy = jax.jit(lambda c, s, t, p: _copy_prompts(c, s, t, p, ADMIT_PER_ROUND, _spec(groups)))
  out = copy(cache, store, jnp.asarray(taken), jnp.asarray(prompt))

  group_of_slot = np.arange(SLOTS) // (SLOTS // groups)
  source = group_of_slot * (PROMPTS // groups) + prompt  # the global prompt each taken slot copies
  for name in ("k", "v"):
    before = _layers(getattr(cache, name), stacked)
    after = _layers(getattr(out, name), stacked)
    prompts = _layers(getattr(store, name), stacked)
    for layer in range(CONFIG.num_layers):
      expected = before[layer].copy()
      expected[taken, :PROMPT_LEN] = prompts[layer][source[taken]]
      np.testing.assert_array_equal(after[layer], expected, err_msg=f"{name} layer {layer}")
  expected_mask = np.asarray(cache.kv_mask).copy()
  expected_mask[taken] = False
  expected_mask[taken, :PROMPT_LEN] = np.asarray(store.mask)[source[taken]]
  np.testing.assert_array_equal(np.asarray(out.kv_mask), expected_mask)
  np.testing.assert_array_equal(np.asarray(out.end_index), np.where(taken, PROMPT_LEN, np.asarray(cache.end_index)))
