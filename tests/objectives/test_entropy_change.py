"""Unit cases of the entropy-change estimate (both forms) and the exact tabular first-order formula."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._batch import TokenBatch
from rlvr_jax.objectives._entropy_change import (entropy_change_estimate,
                                                tabular_first_order_entropy_change)

ADV = np.array([[1.0, -2.0, 0.5]], np.float32)
P = np.array([[0.6, 0.3, 1.0]], np.float32)
P_OLD = np.array([[0.5, 0.4, 0.9]], np.float32)
H = np.array([[0.8, 1.1, 0.0]], np.float32)


def _factor():
  x = np.clip(P.astype(np.float64), 1e-8, 1 - 1e-8)
  return x * (1 - x) * (np.log(x) + H)


def test_code_form_by_hand():
  """code: -(A / p_old) p (1 - p)(log p + H); p = 1 gives a finite 0 (the clamp keeps log p finite)."""
  got = entropy_change_estimate(jnp.asarray(ADV), jnp.log(P), jnp.log(P_OLD), jnp.asarray(H), form="code")
  expected = -(ADV / P_OLD) * _factor()
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-9)
  # Token 0 by hand: -(1 / 0.5) * 0.6 * 0.4 * (log 0.6 + 0.8).
  assert float(got[0, 0]) == pytest.approx(-2 * 0.24 * (np.log(0.6) + 0.8), rel=1e-5)


def test_theorem_form_by_hand_with_clip_indicator():
  """theorem: -r A I p (1 - p)(log p + H); an inactive token gives exactly 0."""
  active = jnp.asarray([[True, False, True]])
  got = entropy_change_estimate(jnp.asarray(ADV), jnp.log(P), jnp.log(P_OLD), jnp.asarray(H),
                                form="theorem", gradient_active=active)
  expected = -(P / P_OLD) * ADV * np.asarray(active) * _factor()
  np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-9)
  assert float(got[0, 1]) == 0.0


def test_code_form_is_theorem_form_divided_by_p_without_clipping():
  """Discrepancy 1 of §5.2: code = theorem / pi (no I_clip, same r A)."""
  logp, old = jnp.log(P[:, :2]), jnp.log(P_OLD[:, :2])
  code = entropy_change_estimate(jnp.asarray(ADV[:, :2]), logp, old, jnp.asarray(H[:, :2]), form="code")
  theorem = entropy_change_estimate(jnp.asarray(ADV[:, :2]), logp, old, jnp.asarray(H[:, :2]))
  np.testing.assert_allclose(np.asarray(code) * P[:, :2], np.asarray(theorem), rtol=1e-5)


def test_estimate_carries_no_gradient():
  """The estimate is a constant (weights and diagnostics must not add a gradient path)."""
  grad = jax.grad(lambda lp: jnp.sum(entropy_change_estimate(jnp.asarray(ADV), lp, jnp.log(P_OLD),
                                                             jnp.asarray(H))))(jnp.log(P))
  np.testing.assert_array_equal(np.asarray(grad), 0.0)


def test_unknown_form_is_rejected():
  """A typo in the form names the field and the choices."""
  with pytest.raises(ValueError, match="form='paper'"):
    entropy_change_estimate(jnp.asarray(ADV), jnp.log(P), jnp.log(P_OLD), jnp.asarray(H), form="paper")


def test_tabular_formula_equals_directional_derivative_of_entropy():
  """sum_v dH/dz_v * c (e_a - pi)_v computed by autodiff equals the closed form of §5.1."""
  logits = jnp.asarray([[0.3, -1.0, 2.0, 0.5], [1.0, 1.0, 1.0, 1.0]])
  actions = jnp.asarray([2, 1])
  coefficient = jnp.asarray([0.7, -1.3])

  def entropy(z):
    log_probs = jax.nn.log_softmax(z)
    return -jnp.sum(jnp.exp(log_probs) * log_probs)

  probs = jax.nn.softmax(logits, -1)
  for s in range(2):
    direction = coefficient[s] * (jax.nn.one_hot(actions[s], 4) - probs[s])
    _, directional = jax.jvp(entropy, (logits[s],), (direction,))
    closed = tabular_first_order_entropy_change(logits, actions, coefficient)[s]
    assert float(closed) == pytest.approx(float(directional), rel=1e-5, abs=1e-7)
  # A uniform distribution is a maximum of entropy: no first-order change.
  assert float(tabular_first_order_entropy_change(logits, actions, coefficient)[1]) == pytest.approx(
      0.0, abs=1e-7)


def test_objective_diagnostic_reports_the_weighted_estimate():
  """entropy_change_diagnostic logs the theorem-form mean over the loss mask for any method."""
  probs = np.array([[0.6, 0.3, 0.05]], np.float32)
  batch = TokenBatch.create(response_mask=jnp.ones((1, 3)), advantages=jnp.asarray(ADV),
                            logp=jnp.log(probs), old_logp=jnp.log(probs), old_entropy=jnp.asarray(H))
  objective = build_objective({"entropy_change_diagnostic": True})
  _, metrics = objective.loss(batch, objective.init_state())
  expected = -ADV * probs * (1 - probs) * (np.log(probs) + H)  # r = 1, nothing clipped
  assert (expected > 0).sum() == 1
  assert float(metrics["entropy_change/estimate_mean"]) == pytest.approx(expected.mean(), rel=1e-5)
  assert float(metrics["entropy_change/increase_frac"]) == pytest.approx((expected > 0).mean())
