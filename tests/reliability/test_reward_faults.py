"""A reward worker that hangs or dies inside a training run: the sample scores as incorrect, the fault
is counted in the step's metrics, the pool replaces the worker, and training goes on.

The pool's own tests (tests/rewards/test_timeout_pool.py) and the reward's (tests/rewards/
test_math_verify_reward.py: a real sympy hang, an os._exit) cover the mechanism per batch; this one
runs it inside `train`, with the math-verify reward's workers replaced by one that hangs on the first
task of the run and kills its process on the second.
"""

import functools

import jax
import pytest

from rlvr_jax.config import validate
from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards._math_verify_reward import MathVerifyReward
from rlvr_jax.train import _loop as loop
from tests.reliability.faulty_verifier import hang_then_crash
from tests.reliability.launcher_runs import metrics_rows, shared_cache_dir
from tests.train.conftest import small_config

# Long enough that a plain string comparison never reaches it on a loaded machine (at 1 s a full run of
# the suite, both test workers busy, once logged a second timeout); the hung task costs it once.
TIMEOUT_S = 5.0


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch):
  path = shared_cache_dir(tmp_path_factory)
  monkeypatch.setenv("RLVR_JAX_CACHE", path)
  return path


def test_hung_and_crashed_reward_workers_do_not_stop_training(tmp_path, monkeypatch):
  """Exactly one timeout and one crash are logged over the run; every later answer is verified normally
  (no further timeouts, crashes or errors), and the run finishes its steps."""
  markers = tmp_path / "markers"
  markers.mkdir()
  rewards = []

  def faulty_reward(reward_spec):
    reward = MathVerifyReward(RewardConfig(timeout_s=TIMEOUT_S, workers=2),
                              verify_fn=functools.partial(hang_then_crash, str(markers)), initializer=None)
    rewards.append(reward)
    return reward

  monkeypatch.setattr(loop, "build_run_reward", faulty_reward)
  run_dir = tmp_path / "run"
  spec = validate(small_config("grpo", run_dir, train__steps=3, rollout__max_new_tokens=16,
                               reward__name="math_verify"), num_devices=1)
  result = loop.train(spec, devices=jax.devices()[:1])
  assert result.steps_done == 3
  rows = metrics_rows(run_dir)
  verified = [16 - r["reward/no_answer"] for r in rows]  # 4 prompts x 4 samples per step
  assert sum(verified) >= 3, f"too few answers reached the verifier ({verified}) to see a fault and a recovery"
  assert sum(r["reward/timeouts"] for r in rows) == 1
  assert sum(r["reward/crashes"] for r in rows) == 1
  assert sum(r["reward/errors"] for r in rows) == 0
  assert sorted(p.name for p in markers.iterdir()) == ["crash", "hang"]
  # The faulted samples scored incorrect: no more correct answers than answers verified without a fault.
  assert all(r["reward/correct"] <= v - r["reward/timeouts"] - r["reward/crashes"] for r, v in zip(rows, verified))
  assert rewards and rewards[0]._pool is None  # the run closed its pool
