"""KL estimators: values against numpy formulas, and the gradient semantics of each (algorithms.md §1.5)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives._kl import KL_ESTIMATORS, kl_penalty

D = np.array([[-30.0, -1.0, -0.1, 0.0], [0.1, 0.5, 2.0, 30.0]], np.float32)
REF = np.full_like(D, -2.0)
LOGP = REF + D


def _value(kind: str) -> np.ndarray:
  return np.asarray(kl_penalty(jnp.asarray(LOGP), jnp.asarray(REF), kind))


def _grad(kind: str) -> np.ndarray:
  return np.asarray(jax.grad(lambda lp: jnp.sum(kl_penalty(lp, jnp.asarray(REF), kind)))(jnp.asarray(LOGP)))


def _k3(d: np.ndarray) -> np.ndarray:
  u = np.clip(-d, -20.0, 20.0)
  return np.clip(np.exp(u) - u - 1.0, -10.0, 10.0)


def test_values_match_formulas():
  """k1 = d, abs = |d|, k2 = d^2 / 2, k3 = clamp(exp(u) - u - 1) with u = clamp(-d, +-20)."""
  d = LOGP - REF
  np.testing.assert_allclose(_value("k1"), d, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(_value("abs"), np.abs(d), rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(_value("k2"), 0.5 * d * d, rtol=1e-5)
  np.testing.assert_allclose(_value("k3"), _k3(d), rtol=1e-5, atol=1e-6)


def test_k3_clamps_extreme_log_ratios():
  """d = -30 hits the value clamp at 10 (exp(20) would overflow the estimate); d = 30 gives 30 - 1 -> 10 too."""
  k3 = _value("k3")
  assert k3[0, 0] == pytest.approx(10.0)
  assert k3[1, 3] == pytest.approx(10.0)
  assert np.all(k3 >= 0.0)


def test_aliases_are_the_same_estimator():
  """verl names and Schulman names give identical values."""
  for verl_name, name in (("kl", "k1"), ("mse", "k2"), ("low_var_kl", "k3")):
    np.testing.assert_array_equal(_value(verl_name), _value(name))


def test_gradients_of_plain_estimators():
  """d/dlogp: k1 -> 1, k2 -> d, k3 -> 1 - exp(-d) inside the clamps, abs -> sign(d)."""
  d = LOGP - REF
  np.testing.assert_allclose(_grad("k1"), np.ones_like(d))
  np.testing.assert_allclose(_grad("k2"), d, rtol=1e-5, atol=1e-6)
  inside = np.abs(d) < 2.1  # away from both clamps
  np.testing.assert_allclose(_grad("k3")[inside], (1.0 - np.exp(-d))[inside], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(_grad("abs")[d != 0], np.sign(d)[d != 0])


@pytest.mark.parametrize("kind,base", [("k1+", "k1"), ("k3+", "k3")])
def test_straight_through_value_and_gradient(kind, base):
  """k1+ / k3+ report the k1 / k3 value but their gradient is k2's, d, even where k3 is clamped."""
  np.testing.assert_allclose(_value(kind), _value(base), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(_grad(kind), LOGP - REF, rtol=1e-5, atol=1e-6)


def test_reference_gets_no_gradient():
  """The frozen reference log-prob is a constant."""
  grad = jax.grad(lambda ref: jnp.sum(kl_penalty(jnp.asarray(LOGP), ref, "k2")))(jnp.asarray(REF))
  assert np.all(np.asarray(grad) == 0.0)


def test_unknown_kind_lists_known_names():
  """An unregistered estimator raises ValueError naming the field and the known estimators."""
  assert "k3+" in KL_ESTIMATORS
  with pytest.raises(ValueError, match=r"kl_loss_type='full'.*low_var_kl"):
    kl_penalty(jnp.asarray(LOGP), jnp.asarray(REF), "full")


def test_shape_mismatch_raises():
  """logp and ref_logp of different shapes are rejected."""
  with pytest.raises(ValueError, match="differ in shape"):
    kl_penalty(jnp.asarray(LOGP), jnp.asarray(REF[:, :2]), "k1")
