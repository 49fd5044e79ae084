"""Agreement between a predicted and a measured per-token quantity: Pearson, Spearman, MSE.

Host-side (numpy, float64): these run once per probe step on a few thousand flattened token pairs, and
ranks with ties are awkward to express in jit-able form for no gain. Pearson says whether the estimate
is linear in the truth, Spearman whether it ranks tokens the same way (what STEER's weights rely on,
since they depend on |Omega| / max |Omega| only), and MSE whether the absolute scale is right.

A degenerate input (fewer than two pairs, or a constant side) has no correlation: the result is NaN,
which the metrics logger writes as null, rather than a made-up 0.
"""

from __future__ import annotations

import numpy as np
import scipy.stats


def _pair(x: np.ndarray, y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
  x = np.asarray(x, np.float64)
  y = np.asarray(y, np.float64)
  if x.ndim != 1 or x.shape != y.shape:
    raise ValueError(f"{name}: x and y must be 1-D of the same length, got shapes {x.shape} and {y.shape}")
  if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
    raise ValueError(f"{name}: inputs must be finite (mask padding out before calling)")
  return x, y


def pearson(x: np.ndarray, y: np.ndarray) -> float:
  """Pearson correlation of two 1-D arrays; NaN when either side is constant or has < 2 values."""
  x, y = _pair(x, y, "pearson")
  if x.size < 2:
    return float("nan")
  dx = x - x.mean()
  dy = y - y.mean()
  denominator = np.sqrt(np.sum(dx * dx) * np.sum(dy * dy))
  if denominator == 0.0:
    return float("nan")
  return float(np.clip(np.sum(dx * dy) / denominator, -1.0, 1.0))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
  """Spearman rank correlation: Pearson of the ranks, tied values sharing their average rank."""
  x, y = _pair(x, y, "spearman")
  return pearson(scipy.stats.rankdata(x, method="average"), scipy.stats.rankdata(y, method="average"))


def mean_squared_error(predicted: np.ndarray, actual: np.ndarray) -> float:
  """Mean of (predicted - actual)^2; NaN for empty inputs."""
  predicted, actual = _pair(predicted, actual, "mean_squared_error")
  if predicted.size == 0:
    return float("nan")
  return float(np.mean(np.square(predicted - actual)))
