"""DAPO reward shaping and dynamic-sampling group selection (host-side, per response)."""

import numpy as np

from rlvr_jax.train import _shaping as shaping


def test_overlong_penalty_is_linear_in_tokens_inside_the_buffer():
  """max 100, buffer 20: 0 up to 80 tokens, -0.5 at 90, -1 at 100 (truncated), scaled by the factor."""
  lengths = np.array([10, 80, 85, 90, 100])
  np.testing.assert_allclose(shaping.overlong_penalty(lengths, max_new_tokens=100, buffer=20, factor=1.0),
                             [0, 0, -0.25, -0.5, -1.0])
  np.testing.assert_allclose(shaping.overlong_penalty(lengths, max_new_tokens=100, buffer=20, factor=0.5),
                             [0, 0, -0.125, -0.25, -0.5])
  assert not shaping.overlong_penalty(lengths, max_new_tokens=100, buffer=0, factor=1.0).any()


def test_informative_groups_and_refill_order():
  """Groups with identical rewards are uninformative; selection takes informative ones first, then
  fills with uninformative ones to keep the shape, and reports how many were filled."""
  rewards = np.array([1, 1, 0, 1, 0, 0, 1, 1, 0, 1])  # groups of 2: [1,1] [0,1] [0,0] [1,1] [0,1]
  informative = shaping.informative_groups(rewards, 2)
  np.testing.assert_array_equal(informative, [False, True, False, False, True])
  groups, filled = shaping.select_groups(informative, 2)
  np.testing.assert_array_equal(groups, [1, 4]) and filled == 0
  assert filled == 0
  groups, filled = shaping.select_groups(informative, 4)
  np.testing.assert_array_equal(groups, [0, 1, 2, 4])
  assert filled == 2
