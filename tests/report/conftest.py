"""A real, very short training run for the report tests (the approach of tests/train/conftest.py, copied
so these tests do not depend on the trainer tests' fixtures): the embedded default with a briefly
warm-started policy, 2 rollout steps, a held-out evaluation every step."""

import jax
import pytest

from rlvr_jax.config import method_config, validate


@pytest.fixture(scope="session")
def embedded_cache(tmp_path_factory):
  """Warm-started policies and built-in data go to a per-session cache, never the user's."""
  mp = pytest.MonkeyPatch()
  path = tmp_path_factory.mktemp("rlvr_cache")
  mp.setenv("RLVR_JAX_CACHE", str(path))
  yield path
  mp.undo()


def tiny_run_config(method: str, run_dir):
  """Seconds per step: 4 prompts x 4 samples of up to 16 tokens; the evaluation samples with the
  rollout's settings, so it reuses the rollout's compiled sampler."""
  c = method_config(method)
  c.unlock()
  c.rollout.prompts_per_step, c.rollout.num_samples, c.rollout.max_new_tokens = 4, 4, 16
  c.train.steps, c.train.mini_batches, c.train.run_dir = 2, 2, str(run_dir)
  c.eval.every, c.eval.num_prompts, c.eval.num_samples = 1, 4, 4
  c.eval.temperature, c.eval.max_new_tokens = c.rollout.temperature, 16
  c.warm_start.steps, c.warm_start.batch_size = 30, 16
  c.checkpoint.every = 0
  c.log.tensorboard = False
  c.reward.name = "format"  # varies even for a barely warm policy
  c.lock()
  return c


@pytest.fixture(scope="session")
def trained_run(embedded_cache, tmp_path_factory):
  """(run directory, TrainResult) of a 2-step STEER run."""
  from rlvr_jax.train._loop import train

  run_dir = tmp_path_factory.mktemp("runs") / "steer_tiny"
  result = train(validate(tiny_run_config("steer", run_dir), num_devices=1), devices=jax.devices()[:1])
  return run_dir, result
