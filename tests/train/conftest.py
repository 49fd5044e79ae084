"""Shared setup for trainer tests: a small, quickly warm-started embedded policy in a temporary cache."""

import pytest

from rlvr_jax.config import method_config


@pytest.fixture(scope="session", autouse=True)
def embedded_cache(tmp_path_factory):
  """Warm-started policies and built-in data go to a per-session cache, never the user's."""
  mp = pytest.MonkeyPatch()
  path = tmp_path_factory.mktemp("rlvr_cache")
  mp.setenv("RLVR_JAX_CACHE", str(path))
  yield path
  mp.undo()


def small_config(method: str, run_dir, **changes):
  """The embedded default shrunk to seconds per step: 4 prompts x 4 samples, 10 new tokens (room for "The
  answer is \\boxed{7}", 9 tokens, so the format reward varies even once the warm start has the prefix)."""
  c = method_config(method)
  c.unlock()
  c.rollout.prompts_per_step, c.rollout.num_samples, c.rollout.max_new_tokens = 4, 4, 10
  c.train.steps, c.train.mini_batches, c.train.run_dir = 2, 2, str(run_dir)
  c.eval.every, c.eval.num_prompts, c.eval.max_new_tokens = 0, 8, 8
  c.warm_start.steps = 40
  c.checkpoint.every = 1
  c.log.tensorboard = False
  c.reward.name = "format"  # varies even for a barely warm policy, so advantages (and gradients) are non-zero
  if c.train.overlong_buffer >= c.rollout.max_new_tokens:
    c.train.overlong_buffer = 2
  for section_key, value in changes.items():
    section, key = section_key.split("__")
    c[section][key] = value
  c.lock()
  return c
