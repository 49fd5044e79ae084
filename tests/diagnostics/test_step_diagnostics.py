"""The loop's entry point: config validation, cadence, every metric family on a real step."""

import math

import numpy as np
import pytest

from rlvr_jax.diagnostics import (QUADRANT_STATISTICS, QUADRANTS, Diagnostics, DiagnosticsConfig,
                                  ResponseOutcomes, training_clip_range)
from tests.diagnostics import reference
from tests.diagnostics.conftest import GROUP, LEARNING_RATE

PROBE_ROWS = 4


@pytest.fixture(scope="module")
def step_metrics(tiny_rollout, sgd_update, tmp_path_factory):
  config = DiagnosticsConfig(out_dir=str(tmp_path_factory.mktemp("run") / "diagnostics"), every=3,
                             probe_rows=PROBE_ROWS, distinct_n=(1, 2), top_p=0.8)
  diagnostics = Diagnostics(tiny_rollout.graphdef, config, scoring_fn=tiny_rollout.scoring_fn, group_size=GROUP,
                            rows_per_chunk=4, clip=training_clip_range(sgd_update.objective.config),
                            chunk_size=16)
  batch = tiny_rollout.batch
  rows = batch.num_rows
  outcomes = ResponseOutcomes(completion_mask=np.asarray(batch.response_mask),
                              correct=np.arange(rows) % 3 == 0,
                              answers=[None if r % 4 == 0 else str(r % 2) for r in range(rows)])
  assert diagnostics.before(tiny_rollout.params, batch, 4, outcomes, learning_rate=LEARNING_RATE) is None
  record = diagnostics.before(tiny_rollout.params, batch, 6, outcomes, learning_rate=LEARNING_RATE)
  return diagnostics, diagnostics.after(sgd_update.params, record)


def test_every_metric_family_is_reported(step_metrics):
  diagnostics, metrics = step_metrics
  expected = {f"diag/quadrant/{q}/{s}" for q in QUADRANTS for s in QUADRANT_STATISTICS}
  expected |= {f"diag/entropy_change/{f}/{m}" for f in ("code", "theorem") for m in ("pearson", "spearman", "mse")}
  expected |= {"diag/entropy_change/actual_mean", "diag/entropy_change/predicted_code_mean",
               "diag/entropy_change/predicted_theorem_mean", "diag/entropy/full", "diag/entropy/top_p",
               "diag/entropy/peak_masked", "diag/diversity/distinct_1", "diag/diversity/distinct_2",
               "diag/diversity/unique_answers", "diag/calibration/ece"}
  assert expected <= set(metrics)
  assert all(isinstance(v, float) for v in metrics.values())
  for key in expected:
    if not key.startswith("diag/quadrant/") or key.endswith("/count"):
      assert math.isfinite(metrics[key]), key
  assert np.load(diagnostics.probe.dump_path(6))["actual"].size == metrics["diag/entropy_change/tokens"]


def test_quadrants_cover_the_probe_tokens(tiny_rollout, step_metrics):
  _, metrics = step_metrics
  mask = np.asarray(tiny_rollout.batch.response_mask)[:PROBE_ROWS]
  advantages = np.asarray(tiny_rollout.batch.advantages)[:PROBE_ROWS]
  assert sum(metrics[f"diag/quadrant/{q}/count"] for q in QUADRANTS) == float(((mask > 0) & (advantages != 0)).sum())
  # One small SGD step from the rollout policy moves no ratio out of [0.8, 1.2].
  for q in QUADRANTS:
    if metrics[f"diag/quadrant/{q}/count"]:
      assert metrics[f"diag/quadrant/{q}/clip_fraction"] == 0.0


def test_entropy_aggregates_match_full_logits(tiny_rollout, step_metrics):
  """The chunked scoring pass (2 row chunks, 16-token LM-head chunks) against numpy on full logits."""
  _, metrics = step_metrics
  expected = reference.aggregates(tiny_rollout.full_logits, np.asarray(tiny_rollout.batch.response_mask),
                                  top_p=0.8, mask_ratio=0.8)
  for name, value in expected.items():
    assert metrics[name] == pytest.approx(value, abs=2e-4), name


def test_response_metrics(step_metrics):
  _, metrics = step_metrics
  # Answers per group of 4: rows 4g..4g+3 -> None, "1", "0", "1": two distinct, one missing.
  assert metrics["diag/diversity/unique_answers"] == 2.0
  assert metrics["diag/diversity/no_answer_fraction"] == 0.25
  assert metrics["diag/calibration/accuracy"] == pytest.approx(3 / 8)
  assert 0.0 <= metrics["diag/calibration/ece"] <= 1.0


def test_config_errors_name_the_field(tmp_path):
  with pytest.raises(ValueError, match="diagnostics.every"):
    DiagnosticsConfig(out_dir=str(tmp_path), every=0)
  with pytest.raises(ValueError, match="diagnostics.prob_threshold"):
    DiagnosticsConfig(out_dir=str(tmp_path), prob_threshold=1.0)
  with pytest.raises(ValueError, match="diagnostics.distinct_n"):
    DiagnosticsConfig(out_dir=str(tmp_path), distinct_n=[1, 2])
  with pytest.raises(ValueError, match="diagnostics.confidence"):
    DiagnosticsConfig(out_dir=str(tmp_path), confidence="max")
  with pytest.raises(ValueError, match="top_p"):
    DiagnosticsConfig(out_dir=str(tmp_path), top_p=0.0)
  with pytest.raises(ValueError, match="diagnostics.out_dir"):
    DiagnosticsConfig(out_dir="")
