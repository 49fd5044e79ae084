"""Expected calibration error of the policy's sequence confidence against verified correctness.

RL on verifiable rewards sharpens the policy; whether its confidence still tracks being right (or only
grows) is the calibration question the entropy papers raise next to entropy collapse.

Sequence confidence. "mean" (default): exp of the mean token log-prob, the per-token geometric-mean
probability. It is length-normalized, so long and short responses are on one scale; exp of the *sum*
("sum", the sequence probability) is offered too, but it shrinks geometrically with length and for
reasoning-length responses sits in the lowest bin whatever the policy believes. Log-probs are those of
the recomputed old-log-prob pass (rollout temperature applied), i.e. the sampling distribution when
top-p / top-k are off.

ECE: equal-width bins over [0, 1] (a confidence of exactly 1 falls in the last bin),
ECE = sum_b (n_b / n) |accuracy_b - mean confidence_b|. Responses without a valid token have no
confidence and are left out (their count is reported).
"""

from __future__ import annotations

import numpy as np

from rlvr_jax.objectives._validation import check_choice, check_int

CONFIDENCE_MODES = ("mean", "sum")


def sequence_confidence(token_logp: np.ndarray, mask: np.ndarray, mode: str = "mean") -> np.ndarray:
  """[R] float64 confidence of each response; NaN for a response without valid tokens.

  Args:
    token_logp: [R, N] log-prob of each sampled token.
    mask: [R, N] valid tokens.
    mode: "mean" (exp of mean log-prob) or "sum" (exp of summed log-prob).
  """
  check_choice("diagnostics", "confidence", mode, CONFIDENCE_MODES)
  token_logp = np.asarray(token_logp, np.float64)
  valid = np.asarray(mask) > 0
  if token_logp.ndim != 2 or token_logp.shape != valid.shape:
    raise ValueError(f"sequence_confidence: token_logp {token_logp.shape} and mask {valid.shape} must be the "
                     "same [R, N]")
  total = np.sum(np.where(valid, token_logp, 0.0), axis=-1)  # [R]
  count = np.sum(valid, axis=-1)  # [R]
  log_confidence = total / np.maximum(count, 1) if mode == "mean" else total
  return np.where(count > 0, np.exp(log_confidence), np.nan)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, num_bins: int = 10) -> float:
  """ECE over equal-width bins; NaN when no response has a confidence.

  Args:
    confidence: [R] in [0, 1]; NaN entries (no valid token) are left out.
    correct: [R] bool verdicts.
    num_bins: number of bins over [0, 1].
  """
  check_int("diagnostics", "ece_bins", num_bins, low=1)
  confidence = np.asarray(confidence, np.float64)
  correct = np.asarray(correct)
  if confidence.ndim != 1 or confidence.shape != correct.shape:
    raise ValueError(f"expected_calibration_error: confidence {confidence.shape} and correct {correct.shape} "
                     "must be the same [R]")
  known = ~np.isnan(confidence)
  confidence, correct = confidence[known], correct[known].astype(np.float64)
  if np.any((confidence < 0) | (confidence > 1)):
    raise ValueError("expected_calibration_error: confidences must lie in [0, 1], got values in "
                     f"[{confidence.min()}, {confidence.max()}]")
  if confidence.size == 0:
    return float("nan")
  bins = np.minimum((confidence * num_bins).astype(np.int64), num_bins - 1)  # [R]
  confidence_sum = np.bincount(bins, weights=confidence, minlength=num_bins)
  correct_sum = np.bincount(bins, weights=correct, minlength=num_bins)
  gap = np.abs(correct_sum - confidence_sum)  # n_b |accuracy_b - confidence_b|
  return float(np.sum(gap) / confidence.size)


def calibration_metrics(token_logp: np.ndarray, mask: np.ndarray, correct: np.ndarray, *, num_bins: int = 10,
                        mode: str = "mean") -> dict[str, float]:
  """`diag/calibration/{ece, confidence_mean, accuracy, responses}` over responses with a confidence."""
  confidence = sequence_confidence(token_logp, mask, mode)
  correct = np.asarray(correct)
  if correct.shape != confidence.shape:
    raise ValueError(f"calibration_metrics: correct {correct.shape} does not match the {confidence.shape[0]} "
                     "responses")
  known = ~np.isnan(confidence)
  return {
      "diag/calibration/ece": expected_calibration_error(confidence, correct, num_bins),
      "diag/calibration/confidence_mean": float(confidence[known].mean()) if known.any() else float("nan"),
      "diag/calibration/accuracy": float(correct[known].mean()) if known.any() else float("nan"),
      "diag/calibration/responses": float(known.sum()),
  }
