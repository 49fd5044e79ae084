"""Quadrant statistics on a hand-made batch, both probability splits, and the clip-range helpers."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.diagnostics import clipped_tokens, quadrant_statistics, training_clip_range
from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._batch import PPOClipParams
from rlvr_jax.objectives._presets import method_preset

# Row 0: A = +1; row 1: A = -1; row 2: A = 0 (a zero-variance group: in no quadrant).
PROB = np.array([[0.9, 0.1, 0.3, 0.5],
                 [0.6, 0.05, 0.2, 0.7],
                 [0.9, 0.9, 0.9, 0.9]])
# Token (0, 2): pi = 0.3 but H = 2 > -log 0.3 = 1.2, so "high" under STEER's split, "low" under 0.5.
# (pi > 0.5 always implies pi > exp(-H): H >= -log max pi.)
ENTROPY = np.array([[0.5, 0.5, 2.0, 9.0],
                    [1.0, 1.0, 1.0, 0.9],
                    [0.4, 0.4, 0.4, 0.4]])
MASK = np.array([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 1, 1]], np.float32)
ADVANTAGES = np.array([[1.0] * 4, [-1.0] * 4, [0.0] * 4], np.float32)
CHANGE = np.array([[-0.1, 0.2, 0.4, 99.0],
                   [0.3, -0.2, -0.4, 0.5],
                   [7.0, 7.0, 7.0, 7.0]])
CLIPPED = np.array([[False, True, True, True],
                    [False, False, True, False],
                    [True, True, True, True]])


def _stats(prob_threshold):
  fn = jax.jit(lambda *a: quadrant_statistics(*a[:4], entropy_change=a[4], clipped=a[5],
                                              prob_threshold=prob_threshold))
  out = fn(jnp.asarray(ADVANTAGES), jnp.log(jnp.asarray(PROB)), jnp.asarray(ENTROPY), jnp.asarray(MASK),
           jnp.asarray(CHANGE), jnp.asarray(CLIPPED))
  return {k: float(v) for k, v in out.items()}


def test_steer_split_by_hand():
  s = _stats(None)
  # pos_high: (0,0), (0,2); pos_low: (0,1); neg_high: (1,0), (1,3); neg_low: (1,1), (1,2). (0,3) is padding.
  assert [s[f"diag/quadrant/{q}/count"] for q in ("pos_high", "pos_low", "neg_high", "neg_low")] == [2, 1, 2, 2]
  assert s["diag/quadrant/pos_high/entropy_change_mean"] == pytest.approx((-0.1 + 0.4) / 2)
  assert s["diag/quadrant/pos_high/entropy_mean"] == pytest.approx((0.5 + 2.0) / 2)
  assert s["diag/quadrant/pos_high/clip_fraction"] == pytest.approx(0.5)
  assert s["diag/quadrant/pos_low/entropy_change_mean"] == pytest.approx(0.2)
  assert s["diag/quadrant/pos_low/clip_fraction"] == pytest.approx(1.0)
  assert s["diag/quadrant/neg_high/entropy_change_mean"] == pytest.approx((0.3 + 0.5) / 2)
  assert s["diag/quadrant/neg_high/entropy_mean"] == pytest.approx((1.0 + 0.9) / 2)
  assert s["diag/quadrant/neg_high/clip_fraction"] == pytest.approx(0.0)
  assert s["diag/quadrant/neg_low/entropy_change_mean"] == pytest.approx((-0.2 - 0.4) / 2)
  assert s["diag/quadrant/neg_low/clip_fraction"] == pytest.approx(0.5)


def test_fixed_threshold_split_moves_the_ambiguous_token():
  s = _stats(0.5)
  assert [s[f"diag/quadrant/{q}/count"] for q in ("pos_high", "pos_low", "neg_high", "neg_low")] == [1, 2, 2, 2]
  assert s["diag/quadrant/pos_low/entropy_change_mean"] == pytest.approx((0.2 + 0.4) / 2)
  assert s["diag/quadrant/pos_high/clip_fraction"] == pytest.approx(0.0)


def test_empty_quadrant_has_nan_means_and_optional_statistics_are_omitted():
  out = quadrant_statistics(jnp.ones((1, 2)), jnp.log(jnp.array([[0.9, 0.8]])), jnp.array([[0.3, 0.5]]),
                            jnp.ones((1, 2)))
  assert float(out["diag/quadrant/pos_low/count"]) == 0.0
  assert math.isnan(float(out["diag/quadrant/pos_low/entropy_mean"]))
  assert float(out["diag/quadrant/pos_high/count"]) == 2.0
  assert not any(k.endswith(("clip_fraction", "entropy_change_mean")) for k in out)
  with pytest.raises(ValueError, match="prob_threshold"):
    quadrant_statistics(jnp.ones((1, 2)), jnp.zeros((1, 2)), jnp.zeros((1, 2)), jnp.ones((1, 2)),
                        prob_threshold=1.5)


def test_clipped_tokens_follow_the_ppo_branches():
  """A > 0 clipped above 1 + eps_high; A < 0 below 1 - eps_low or (dual clip) above c."""
  ratio = np.array([[1.25, 1.30, 0.85, 0.75, 2.9, 3.1]])
  adv = jnp.array([[1.0, 1.0, -1.0, -1.0, -1.0, -1.0]])
  clip = PPOClipParams(eps_low=0.2, eps_high=0.28, dual_clip_c=3.0)
  out = clipped_tokens(jnp.log(jnp.asarray(ratio)), jnp.zeros((1, 6)), adv, clip)
  np.testing.assert_array_equal(np.asarray(out), [[False, True, False, True, False, True]])


def test_training_clip_range_per_method():
  steer = training_clip_range(build_objective(method_preset("steer")).config)
  assert (steer.eps_low, steer.eps_high, steer.dual_clip_c) == (0.2, 0.28, 10.0)
  grpo = training_clip_range(build_objective(method_preset("grpo")).config)
  assert (grpo.eps_low, grpo.eps_high, grpo.dual_clip_c) == (0.2, 0.2, 3.0)
  clip_cov = training_clip_range(build_objective(method_preset("clip_cov")).config)
  assert clip_cov.dual_clip_c is None and clip_cov.clamp_log_ratio is False
  assert training_clip_range(build_objective(method_preset("kl_cov")).config) is None
  assert training_clip_range(build_objective(method_preset("gpg")).config) is None
