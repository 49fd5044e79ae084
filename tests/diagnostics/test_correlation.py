"""Pearson / Spearman / MSE on cases whose answers are known by construction or by hand."""

import math

import numpy as np
import pytest

from rlvr_jax.diagnostics import mean_squared_error, pearson, spearman


def test_perfect_and_anti_correlation():
  x = np.array([0.3, -1.0, 2.5, 0.0, 7.0])
  assert pearson(x, 3.0 * x - 2.0) == pytest.approx(1.0)
  assert pearson(x, -0.5 * x + 1.0) == pytest.approx(-1.0)
  assert spearman(x, 3.0 * x - 2.0) == pytest.approx(1.0)
  assert spearman(x, -0.5 * x + 1.0) == pytest.approx(-1.0)


def test_spearman_is_rank_based():
  """A monotone but non-linear relation: Spearman exactly 1, Pearson clearly below."""
  x = np.arange(1.0, 9.0)
  y = np.exp(x)
  assert spearman(x, y) == pytest.approx(1.0)
  assert pearson(x, y) < 0.9


def test_spearman_with_ties_by_hand():
  """x ranks (1, 2.5, 2.5, 4), y ranks (1, 3, 2, 4): centred (-1.5, 0, 0, 1.5) and (-1.5, .5, -.5, 1.5),
  so r = 4.5 / sqrt(4.5 * 5) = 3 / sqrt(10). Ordinal tie-breaking would give 0.8 instead."""
  x = np.array([10.0, 20.0, 20.0, 30.0])
  y = np.array([-1.0, 5.0, 2.0, 8.0])
  assert spearman(x, y) == pytest.approx(3.0 / math.sqrt(10.0))


def test_pearson_by_hand():
  """x = (1, 2, 3), y = (1, 3, 2): centred (-1, 0, 1) . (-1, 1, 0) = 1 over sqrt(2 * 2) -> 0.5."""
  assert pearson(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0])) == pytest.approx(0.5)


def test_degenerate_inputs_give_nan_and_bad_inputs_raise():
  assert math.isnan(pearson(np.ones(4), np.arange(4.0)))
  assert math.isnan(spearman(np.arange(4.0), np.full(4, 2.0)))
  assert math.isnan(pearson(np.array([1.0]), np.array([2.0])))
  with pytest.raises(ValueError, match="same length"):
    pearson(np.arange(3.0), np.arange(4.0))
  with pytest.raises(ValueError, match="finite"):
    spearman(np.array([1.0, np.nan]), np.array([1.0, 2.0]))


def test_mean_squared_error():
  assert mean_squared_error(np.array([1.0, 2.0, 4.0]), np.array([1.0, 0.0, 1.0])) == pytest.approx(13.0 / 3.0)
  assert math.isnan(mean_squared_error(np.zeros(0), np.zeros(0)))
