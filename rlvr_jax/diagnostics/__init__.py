"""Entropy diagnostics: the entropy papers' analyses as per-step metrics (`diag/*`).

Entry point for the training loop: `Diagnostics(graphdef, DiagnosticsConfig(...), ...)` with
`before(params, batch, step, outcomes, learning_rate=...)` right after the rollout and
`after(new_params, record)` after the step's updates. The pieces stand alone for notebooks:

  EntropyChangeProbe        predicted (STEER, both forms) vs measured per-token entropy change, npz dumps
  quadrant_statistics       advantage sign x probability quadrants: count, entropy, change, clip fraction
  distinct_n_metrics, unique_answer_metrics   response diversity per prompt group
  calibration_metrics       ECE of sequence confidence vs correctness
  entropy_aggregates, make_entropy_aggregates_fn   full / top-p / SIREN peak-masked batch entropy
  pearson, spearman, mean_squared_error        agreement of predicted and measured values
"""

from rlvr_jax.diagnostics._calibration import (CONFIDENCE_MODES, calibration_metrics, expected_calibration_error,
                                              sequence_confidence)
from rlvr_jax.diagnostics._correlation import mean_squared_error, pearson, spearman
from rlvr_jax.diagnostics._diversity import distinct_n, distinct_n_metrics, unique_answer_metrics
from rlvr_jax.diagnostics._entropy_aggregates import entropy_aggregates, make_entropy_aggregates_fn
from rlvr_jax.diagnostics._entropy_change_probe import (NPZ_ARRAYS, EntropyChangeProbe, ProbeMeasurement,
                                                       ProbeRecord, first_order_step_scale)
from rlvr_jax.diagnostics._quadrants import (QUADRANT_STATISTICS, QUADRANTS, clipped_tokens, high_probability,
                                            quadrant_masks, quadrant_statistics, training_clip_range)
from rlvr_jax.diagnostics._step_diagnostics import (Diagnostics, DiagnosticsConfig, DiagnosticsRecord,
                                                   ResponseOutcomes)

__all__ = [
    "CONFIDENCE_MODES", "calibration_metrics", "expected_calibration_error", "sequence_confidence",
    "mean_squared_error", "pearson", "spearman",
    "distinct_n", "distinct_n_metrics", "unique_answer_metrics",
    "entropy_aggregates", "make_entropy_aggregates_fn",
    "NPZ_ARRAYS", "EntropyChangeProbe", "ProbeMeasurement", "ProbeRecord", "first_order_step_scale",
    "QUADRANT_STATISTICS", "QUADRANTS", "clipped_tokens", "high_probability", "quadrant_masks",
    "quadrant_statistics", "training_clip_range",
    "Diagnostics", "DiagnosticsConfig", "DiagnosticsRecord", "ResponseOutcomes",
]
