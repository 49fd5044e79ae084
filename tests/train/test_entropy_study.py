"""bench/entropy_study.py: a 2-step study run on the countdown task (tiny budget), the config the launcher
runs for it, resuming (a finished run is skipped), and the tables. No scientific outcome is asserted:
the bench measures those. Here in tests/train so the run shares the session's warm-start and XLA caches."""

import dataclasses
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
  assert set(summary) == {"entropy_first", "entropy_final", "entropy_mean", "pass1_first", "pass1_final", "passk_first",
                          "passk_final", "train_acc_final"}
  assert all(math.isfinite(v) for v in summary.values())

  # A finished run (summary.json) is skipped: no launcher subprocess.
  with open(os.path.join(run_dir, "summary.json"), "w") as f:
    json.dump({"method": "steer", "level": 0.5, "seed": 0, "wall_s": 1.0, **summary}, f)
  monkeypatch.setattr(study.subprocess, "run", lambda *a, **k: pytest.fail("a finished run was relaunched"))
  again = study.run_one("steer", 0.5, 0, TINY, str(tmp_path))
  assert again["entropy_final"] == summary["entropy_final"] and again["wall_s"] == 1.0  # from summary.json
  table = study.tables([again], ["steer"], TINY.eval_samples)
  assert "| steer | steer.w_min | 0.5 | 1 |" in table


def test_every_knob_level_builds_a_valid_config(tmp_path):
  for method, knob in study.KNOBS.items():
    assert len(knob.levels) == len(knob.strength) >= 4 and knob.strength[0] == 0.0
    for level in knob.levels:
      spec = validate(study.run_config(method, level, 1, study.FULL, str(tmp_path / method)), num_devices=1)
      assert spec.train.shared_prompt_forward  # the study runs each group's prompt once
  per_row = dataclasses.replace(study.FULL, shared_prompt_forward=False)  # --per-row-forward
  assert not validate(study.run_config("steer", 1.0, 1, per_row, str(tmp_path / "rows")),
                      num_devices=1).train.shared_prompt_forward


def test_mean_ci_hand_computed():
  mean, half = study.mean_ci([1.0, 2.0, 3.0])
  assert mean == 2.0 and half == pytest.approx(4.303 * 1.0 / math.sqrt(3), rel=1e-4)  # t(0.975, 2 dof)
  assert math.isnan(study.mean_ci([5.0])[1])


def _runs(method: str, table: dict[int, list[float]]) -> list[dict]:
  """Summaries of `method`: table[seed] = final entropy at each of the knob's levels, in KNOBS order."""
  levels = study.KNOBS[method].levels
  return [{"method": method, "level": level, "seed": seed, "entropy_final": value, "entropy_mean": value, "wall_s": 1.0,
           "pass1_final": 0.5, "passk_final": 0.5} for seed, row in table.items() for level, value in zip(levels, row)]


def test_paired_change_is_within_seed():
  knob = study.KNOBS["siren"]
  runs = _runs("siren", {0: [0.10, 0.20, 0.0, 0.0], 1: [0.50, 0.56, 0.0, 0.0], 2: [0.30, 0.39, 0.0, 0.0]})
  mean, half = study.paired_change(runs, knob, knob.levels[1])
  # Differences 0.10, 0.06, 0.09: mean 0.0833, sd 0.02082, t(0.975, 2) = 4.303.
  assert mean == pytest.approx(0.25 / 3) and half == pytest.approx(4.303 * 0.0208167 / math.sqrt(3), rel=1e-3)
  # The between-seed spread (0.10 vs 0.50 at off) does not enter the paired interval.
  assert half < study.mean_ci([0.20, 0.56, 0.39])[1] / 5


def test_trend_is_judged_within_seeds_in_strength_order():
  # STEER's levels are w_min 1.0, 0.8, 0.5, 0.2: strength grows along them. Entropy rising with strength
  # inside every seed, although the seeds' levels differ by more than the effect.
  rising = {0: [0.10, 0.11, 0.12, 0.13], 1: [0.50, 0.51, 0.52, 0.53], 2: [0.30, 0.31, 0.32, 0.33]}
  result = study.trend(_runs("steer", rising), study.KNOBS["steer"])
  assert result.verdict == "as predicted" and result.mean_spearman == pytest.approx(1.0)
  assert result.p_rises == pytest.approx((1 / 24) ** 3)  # exact: one of the 24^3 within-seed orderings
  assert result.seeds == (0, 1, 2)
  falling = {seed: row[::-1] for seed, row in rising.items()}
  assert study.trend(_runs("steer", falling), study.KNOBS["steer"]).verdict == "opposite"
  # No consistent order across seeds: not called either way.
  mixed = {0: [0.10, 0.11, 0.12, 0.13], 1: [0.53, 0.52, 0.51, 0.50], 2: [0.31, 0.33, 0.30, 0.32]}
  result = study.trend(_runs("steer", mixed), study.KNOBS["steer"])
  assert result.verdict == "no significant trend" and min(result.p_rises, result.p_falls) > 0.05
  # A seed without every level is not a block; one complete seed is not enough to judge.
  partial = _runs("steer", {0: rising[0]}) + _runs("steer", {1: rising[1]})[:2]
  assert study.trend(partial, study.KNOBS["steer"]).verdict.startswith("not judged")
  table = study.tables(_runs("steer", rising), ["steer"], 16)
  per_seed = study.seed_table([{**r, "entropy_first": 0.6, "pass1_first": 0.1} for r in _runs("steer", rising)], "steer")
  assert "| 0.2 | 0.130, 0.500 | 0.530, 0.500 | 0.330, 0.500 |" in per_seed
  assert "| steer | +1.00 (3 seeds) | 7.23e-05 |" in table and "as predicted" in table


def test_figure_has_a_row_per_method_that_ran(tmp_path):
  runs = _runs("steer", {0: [0.1, 0.2, 0.3, 0.4], 1: [0.2, 0.3, 0.4, 0.5]})
  path = tmp_path / "dose.png"
  study.figure(runs, ["steer", "siren"], 16, str(path))  # siren has no runs: no row for it
  width, height = study.plt.imread(str(path)).shape[1::-1]
  assert (width, height) == (1600, 260)
