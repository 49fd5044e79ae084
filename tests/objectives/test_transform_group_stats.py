"""Per-group statistics behind the batch-statistic transforms (STEER, Clip-Cov, KL-Cov, fork tokens)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rlvr_jax.objectives.transforms import _group_stats as group_stats

VALID = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]], bool)
VALUES = np.array([[3.0, -1.0, 2.0, 99.0], [5.0, 0.5, 99.0, 99.0], [7.0, 7.0, 7.0, 7.0],
                   [1.0, 4.0, 4.0, -2.0]], np.float32)
GROUPS = np.array([0, 0, 1, 1])


def test_group_min_max_mean_count_ignore_masked_and_flag_empty_groups():
  """Masked entries (the 99s) never enter; an all-masked group reports +-inf / 0 count."""
  args = (jnp.asarray(VALUES), jnp.asarray(VALID), jnp.asarray(GROUPS), 3)
  np.testing.assert_allclose(group_stats.group_count(*args[1:]), [5.0, 4.0, 0.0])
  np.testing.assert_allclose(group_stats.group_min(*args), [-1.0, -2.0, np.inf])
  np.testing.assert_allclose(group_stats.group_max(*args), [5.0, 4.0, -np.inf])
  np.testing.assert_allclose(group_stats.group_mean(*args), [9.5 / 5, 7.0 / 4, 0.0], rtol=1e-6)


def test_group_top_k_takes_k_largest_eligible_per_group():
  """k differs per group; ineligible tokens are never chosen, even with high scores."""
  selected = group_stats.group_top_k(jnp.asarray(VALUES), jnp.asarray(VALID), jnp.asarray(GROUPS), 2,
                                     jnp.asarray([2, 1]))
  expected = np.zeros_like(VALID)
  expected[1, 0] = expected[0, 0] = True  # group 0: 5.0 and 3.0
  expected[3, 1] = True  # group 1: tie 4.0 / 4.0 -> the earlier token
  np.testing.assert_array_equal(np.asarray(selected), expected)


def test_group_top_k_with_k_larger_than_eligible_selects_all_eligible():
  """k beyond the eligible count selects exactly the eligible tokens (no padding picked)."""
  selected = group_stats.group_top_k(jnp.asarray(VALUES), jnp.asarray(VALID), jnp.asarray(GROUPS), 2,
                                     jnp.asarray([100, 100]))
  np.testing.assert_array_equal(np.asarray(selected), VALID)


def test_group_top_k_treats_nan_scores_as_lowest():
  """A NaN score ranks below every finite score instead of poisoning the sort."""
  scores = jnp.asarray([[np.nan, 1.0, 2.0]])
  selected = group_stats.group_top_k(scores, jnp.ones((1, 3), bool), jnp.zeros(1, jnp.int32), 1,
                                     jnp.asarray([2]))
  np.testing.assert_array_equal(np.asarray(selected), [[False, True, True]])


def test_group_random_subset_counts_and_uniformity():
  """Exactly min(k, #eligible) per group; over many keys every eligible token is drawn ~equally."""
  eligible = np.zeros((2, 10), bool)
  eligible[0, :6] = True
  eligible[1, 2:5] = True
  draw = jax.jit(jax.vmap(lambda key: group_stats.group_random_subset(
      key, jnp.asarray(eligible), jnp.asarray([0, 1]), 2, jnp.asarray([2, 5]))))
  picks = np.asarray(draw(jax.random.split(jax.random.key(0), 3000)))  # [3000, 2, 10]
  np.testing.assert_array_equal(picks[:, 0].sum(-1), 2)
  np.testing.assert_array_equal(picks[:, 1].sum(-1), 3)
  assert not np.any(picks & ~eligible)
  frequency = picks[:, 0, :6].mean(0)  # each of 6 tokens drawn with p = 2/6
  np.testing.assert_allclose(frequency, 1 / 3, atol=0.04)


def test_masked_extreme_is_zero_without_valid_entries():
  """Metric helpers return 0, not inf, for an empty selection."""
  empty = jnp.zeros((2, 2), bool)
  assert float(group_stats.masked_extreme(jnp.ones((2, 2)), empty, largest=True)) == 0.0
  assert float(group_stats.masked_mean(jnp.ones((2, 2)), empty)) == 0.0
