"""PPO with a critic and KL in the reward, end to end: critic warm-up, verl's adaptive KL controller on the
measured KL, and an exact resume of everything they add to the train state (value model, its optimizer,
the KL coefficient)."""

import json
import os

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from rlvr_jax import models
from rlvr_jax.config import validate
from rlvr_jax.train._loop import train
from rlvr_jax.embedded import ensure_policy
from tests.train.conftest import small_config

COEF, HORIZON = 0.05, 16  # horizon = the batch's 16 responses: each update moves beta by clip(error, +-0.2)


def _config(run_dir, steps: int):
  config = small_config("ppo", run_dir, train__steps=steps)
  config.unlock()
  config.critic.critic_warmup = 1
  config.checkpoint.keep = 3  # steps 1-3 are read back
  config.critic.lr = 1e-3
  config.kl_in_reward.enabled = True
  config.kl_in_reward.controller = "adaptive"
  config.kl_in_reward.coef = COEF
  config.kl_in_reward.target_kl = 1e-9  # any positive KL is above target: beta grows by 20%
  config.kl_in_reward.horizon = HORIZON
  config.lock()
  return config


def _state(run_dir, step: int) -> dict:
  manager = ocp.CheckpointManager(os.path.join(run_dir, "checkpoints"), item_names=("state", "data"))
  try:
    restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
  finally:
    manager.close()
  return jax.tree.map(np.asarray, restored.state)


def _metrics(run_dir):
  with open(os.path.join(run_dir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
  """3 steps straight, and 2 steps then a resume to 3, with critic warm-up and the adaptive controller."""
  root = tmp_path_factory.mktemp("ppo")
  straight, resumed = str(root / "straight"), str(root / "resumed")
  train(validate(_config(straight, 3), num_devices=1), devices=jax.devices()[:1])
  train(validate(_config(resumed, 2), num_devices=1), devices=jax.devices()[:1])
  train(validate(_config(resumed, 3), num_devices=1), devices=jax.devices()[:1])
  return straight, resumed


def test_critic_warmup_trains_only_the_critic(runs):
  straight, _ = runs
  rows = _metrics(straight)
  assert "actor/loss" not in rows[0] and np.isfinite(rows[0]["critic/value_loss"])
  assert np.isfinite(rows[1]["actor/loss"]) and np.isfinite(rows[1]["critic/value_loss"])
  policy_dir = ensure_policy(validate(_config(straight, 3), num_devices=1).warm_start)  # the run's (cached) policy
  initial = np.asarray(models.load_pretrained(policy_dir, dtype=np.float32).layers[0].mlp.up_proj[...])
  step1, step2 = _state(straight, 1), _state(straight, 2)
  np.testing.assert_array_equal(step1["params"]["layers"]["0"]["mlp"]["up_proj"]["value"], initial)
  assert not np.allclose(step2["params"]["layers"]["0"]["mlp"]["up_proj"]["value"], initial)
  assert int(step1["critic"]["step"]) == 2 and int(step1["step"]) == 0  # 2 mini-batches: critic updates only
  assert not np.allclose(step1["critic"]["params"]["head"]["value"], step2["critic"]["params"]["head"]["value"])
  assert "lm_head" not in step1["critic"]["params"]["backbone"]


def test_adaptive_kl_controller_follows_the_measured_kl(runs):
  """verl AdaptiveKLController: beta' = beta (1 + clip(kl / target - 1, -0.2, 0.2) n / horizon), once per
  rollout step with the rollout's KL. Steps 1-2 sample from the initial policy (the actor starts after the
  warm-up step), so their KL is exactly 0 (beta x 0.8 each); step 3's is the sampled estimate of a moved
  policy (non-zero, either sign: beta x 1.2 above the 1e-9 target, x 0.8 below)."""
  straight, _ = runs
  rows = _metrics(straight)
  kl = rows[2]["kl_in_reward/kl"]
  assert [r["kl_in_reward/kl"] for r in rows[:2]] == [0.0, 0.0] and kl != 0
  expected = [COEF, COEF * 0.8, COEF * 0.8 * 0.8]
  np.testing.assert_allclose([r["kl_in_reward/coef"] for r in rows], expected, rtol=1e-6)
  final = _state(straight, 3)["kl_controller"]["coef"]
  np.testing.assert_allclose(final, COEF * 0.8 * 0.8 * (1 + np.clip(kl / 1e-9 - 1, -0.2, 0.2)), rtol=1e-6)


def test_resume_restores_critic_and_controller_exactly(runs):
  straight, resumed = runs
  a, b = _state(straight, 3), _state(resumed, 3)
  leaves_a, leaves_b = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
  assert [p for p, _ in leaves_a] == [p for p, _ in leaves_b]
  assert any("critic" in jax.tree_util.keystr(p) for p, _ in leaves_a)
  for (path, x), (_, y) in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(x, y, err_msg=jax.tree_util.keystr(path))
  rows_a, rows_b = _metrics(straight), _metrics(resumed)
  assert [r["step"] for r in rows_b] == [1, 2, 3]
  for key in ("critic/value_loss", "critic/explained_variance", "kl_in_reward/coef", "kl_in_reward/kl",
              "actor/loss", "reward/mean"):
    assert rows_a[2][key] == rows_b[2][key], key
