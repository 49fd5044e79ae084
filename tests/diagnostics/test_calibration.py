"""Sequence confidence and ECE on hand-made values."""

import math

import numpy as np
import pytest

from rlvr_jax.diagnostics import calibration_metrics, expected_calibration_error, sequence_confidence


def test_sequence_confidence_modes_ignore_padding():
  logp = np.log(np.array([[0.5, 0.5, 1e-9], [0.8, 1e-9, 1e-9], [0.3, 0.3, 0.3]]))
  mask = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
  mean = sequence_confidence(logp, mask, "mean")
  total = sequence_confidence(logp, mask, "sum")
  np.testing.assert_allclose(mean[:2], [0.5, 0.8])
  np.testing.assert_allclose(total[:2], [0.25, 0.8])
  assert math.isnan(mean[2]) and math.isnan(total[2])
  with pytest.raises(ValueError, match="confidence"):
    sequence_confidence(logp, mask, "max")


def test_ece_by_hand():
  """Bins of width 0.1: [0.05] acc 0 -> gap .05; [.15, .15] acc .5 -> 2 * .35; [.95, 1.0] acc 1 -> 2 * .025.
  ECE = (.05 + .7 + .05) / 5 = 0.16. The NaN confidence (no tokens) is left out."""
  confidence = np.array([0.05, 0.15, 0.15, 0.95, 1.0, np.nan])
  correct = np.array([False, True, False, True, True, True])
  assert expected_calibration_error(confidence, correct, 10) == pytest.approx(0.16)
  # One bin: |mean accuracy - mean confidence| = |0.6 - 0.46|.
  assert expected_calibration_error(confidence, correct, 1) == pytest.approx(0.14)


def test_ece_is_zero_when_calibrated_and_rejects_bad_input():
  confidence = np.array([0.25] * 4 + [0.75] * 4)
  correct = np.array([1, 0, 0, 0, 1, 1, 1, 0], bool)
  assert expected_calibration_error(confidence, correct, 4) == pytest.approx(0.0)
  assert math.isnan(expected_calibration_error(np.array([np.nan]), np.array([True]), 4))
  with pytest.raises(ValueError, match=r"\[0, 1\]"):
    expected_calibration_error(np.array([1.5]), np.array([True]), 4)
  with pytest.raises(ValueError, match="ece_bins"):
    expected_calibration_error(confidence, correct, 0)


def test_calibration_metrics():
  logp = np.log(np.array([[0.9, 0.9], [0.2, 0.2], [0.5, 0.5]]))
  mask = np.array([[1, 1], [1, 1], [0, 0]])
  out = calibration_metrics(logp, mask, np.array([True, False, True]), num_bins=10)
  assert out["diag/calibration/responses"] == 2.0
  assert out["diag/calibration/accuracy"] == pytest.approx(0.5)
  assert out["diag/calibration/confidence_mean"] == pytest.approx(0.55)
  assert out["diag/calibration/ece"] == pytest.approx((0.1 + 0.2) / 2)
