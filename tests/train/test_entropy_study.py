"""bench/entropy_study.py: a 2-step study run on the countdown task (tiny budget), the config the launcher
runs for it, resuming (a finished run is skipped), and the tables. No scientific outcome is asserted:
the bench measures those. Here in tests/train so the run shares the session's warm-start and XLA caches."""

import importlib.util
import json
import math
import os
import sys

import jax
import pytest

from rlvr_jax.config import validate
from rlvr_jax.config._saved_config import get_config as saved_config
from rlvr_jax.train import train

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "entropy_study.py")
_SPEC = importlib.util.spec_from_file_location("entropy_study", _PATH)
study = importlib.util.module_from_spec(_SPEC)
sys.modules["entropy_study"] = study  # dataclasses look their module up there
_SPEC.loader.exec_module(study)

TINY = study.Budget(steps=2, eval_samples=2, prompts_per_step=4, eval_prompts=4, warm_start_steps=5)


def test_two_step_study_run_and_resume(tmp_path, monkeypatch):
  run_dir = study.run_dir_of(str(tmp_path), "steer", 0.5, 0)
  config = study.run_config("steer", 0.5, 0, TINY, run_dir)
  assert (config.data.builtin_task, config.reward.name) == ("countdown", "builtin_countdown")
  assert (config.objective.steer.w_min, config.train.steps, config.train.seed) == (0.5, 2, 0)
  # What the launcher runs (`--config X.json`, a saved config) is exactly this config.
  path = tmp_path / "run.json"
  path.write_text(json.dumps(config.to_dict()))
  as_json = lambda c: json.loads(json.dumps(c.to_dict()))  # noqa: E731  (tuples and lists alike)
  assert as_json(saved_config(str(path))) == as_json(config)

  config.unlock()
  config.rollout.num_samples = 4  # small_config's batch shape, so the session's compiled programs serve
  config.warm_start.batch_size = 16  # the warm start only has to produce a policy, not a good one
  config.lock()
  train(validate(config, num_devices=1), devices=jax.devices()[:1])
  summary = study.summarize(run_dir, TINY.eval_samples)
  assert set(summary) == {"entropy_first", "entropy_final", "pass1_first", "pass1_final", "passk_first",
                          "passk_final", "train_acc_final"}
  assert all(math.isfinite(v) for v in summary.values())

  # A finished run (summary.json) is skipped: no launcher subprocess.
  with open(os.path.join(run_dir, "summary.json"), "w") as f:
    json.dump({"method": "steer", "level": 0.5, "seed": 0, "wall_s": 1.0, **summary}, f)
  monkeypatch.setattr(study.subprocess, "run", lambda *a, **k: pytest.fail("a finished run was relaunched"))
  again = study.run_one("steer", 0.5, 0, TINY, str(tmp_path))
  assert again["entropy_final"] == summary["entropy_final"]
  table = study.tables([again], ["steer"], TINY.eval_samples)
  assert "| steer | steer.w_min | 0.5 | 1 |" in table


def test_every_knob_level_builds_a_valid_config(tmp_path):
  for method, knob in study.KNOBS.items():
    assert len(knob.levels) == len(knob.strength) >= 4 and knob.strength[0] == 0.0
    for level in knob.levels:
      validate(study.run_config(method, level, 1, study.FULL, str(tmp_path / method)), num_devices=1)


def test_mean_ci_and_spearman_hand_computed():
  mean, half = study.mean_ci([1.0, 2.0, 3.0])
  assert mean == 2.0 and half == pytest.approx(4.303 * 1.0 / math.sqrt(3))
  assert study.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
  assert study.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
  assert study.spearman([1, 1, 2, 2], [1, 2, 3, 4]) == pytest.approx(0.894427, abs=1e-5)
