"""Theory check of the first-order entropy-change estimate on a tabular softmax policy (STEER §5.1).

Each state has free logits; a few hundred sampled tokens (one per state, sampled from a perturbed old
policy, so ratios differ from 1 and some tokens are clipped) define the token-mean PPO surrogate. One
small SGD step on it changes every state's entropy; the test compares that true change with the
estimates.

What the numbers say (and what each test pins down):
  * The exact first-order formula (sampled-token term plus the sum over the other tokens) matches the
    true change of a full SGD step: Pearson r > 0.999 and slope 1.
  * STEER's theorem form keeps only the sampled token's term, which is exactly the entropy change
    caused by the sampled token's own logit. Restricting the step to that logit, r >= 0.99 with slope 1.
    For two actions the dropped term equals the kept one, so on a full step r >= 0.99 (slope 2).
  * On a full step over a larger vocabulary the dropped term is not negligible: the sampled-token
    estimate correlates clearly positively but well below 0.99 (about 0.75-0.85 here). STEER only
    uses |Omega| as a ranking signal for weights, which is what this supports.
  * Deliberately wrong estimators (sign flipped, (1 - p)^2 instead of p (1 - p)) fit clearly worse,
    and dropping the clip indicator predicts movement of clipped tokens that do not move, so the tests
    fail if the estimator is wrong.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from rlvr_jax.objectives._entropy_change import (entropy_change_estimate, sampled_token_factor,
                                                tabular_first_order_entropy_change)
from rlvr_jax.objectives._policy_loss import ppo_token_loss

NUM_STATES = 256
STEP = 1.0  # eta; the per-token step is eta / L * r A, i.e. ~4e-3 per unit advantage here


def _entropy(logits):
  log_probs = jax.nn.log_softmax(logits, -1)
  return -jnp.sum(jnp.exp(log_probs) * log_probs, -1)


@functools.lru_cache(maxsize=None)
def _experiment(vocab: int, *, own_logit_only: bool):
  truth, estimates, clipped = jax.tree.map(np.asarray, _experiment_arrays(vocab, own_logit_only))
  return truth, estimates, clipped


@functools.partial(jax.jit, static_argnums=(0, 1))
def _experiment_arrays(vocab: int, own_logit_only: bool):
  keys = jax.random.split(jax.random.key(0), 5)
  scale = jax.random.uniform(keys[0], (NUM_STATES, 1), minval=0.5, maxval=3.0)
  logits = jax.random.normal(keys[1], (NUM_STATES, vocab)) * scale  # [S, V]
  old_logits = logits + 0.15 * jax.random.normal(keys[2], (NUM_STATES, vocab))
  actions = jax.random.categorical(keys[3], old_logits)  # [S], sampled by the old policy
  advantages = jax.random.normal(keys[4], (NUM_STATES,))[None]  # [1, S]: one row of L tokens
  old_logp = jnp.take_along_axis(jax.nn.log_softmax(old_logits, -1), actions[:, None], -1)[:, 0][None]

  def token_logp(z):
    return jnp.take_along_axis(jax.nn.log_softmax(z, -1), actions[:, None], -1)[:, 0][None]  # [1, S]

  def surrogate(z):
    out = ppo_token_loss(token_logp(z), old_logp, advantages, eps_low=0.2, eps_high=0.2, dual_clip_c=3.0)
    return jnp.mean(out.loss)  # token-mean over L = NUM_STATES tokens

  gradient = jax.grad(surrogate)(logits)
  if own_logit_only:
    gradient = gradient * jax.nn.one_hot(actions, vocab)
  true_change = _entropy(logits - STEP * gradient) - _entropy(logits)

  logp = token_logp(logits)
  out = ppo_token_loss(logp, old_logp, advantages, eps_low=0.2, eps_high=0.2, dual_clip_c=3.0)
  entropy = _entropy(logits)[None]
  scale_factor = STEP / NUM_STATES
  estimates = {
      "theorem": entropy_change_estimate(advantages, logp, old_logp, entropy, form="theorem",
                                         gradient_active=out.gradient_active),
      "no_clip_indicator": entropy_change_estimate(advantages, logp, old_logp, entropy, form="theorem"),
  }
  coefficient = jnp.where(out.gradient_active, out.ratio * advantages, 0.0)
  estimates["sign_flipped"] = -estimates["theorem"]
  prob = jnp.exp(logp)
  estimates["one_minus_p_squared"] = -coefficient * (1 - prob) ** 2 * (logp + entropy)
  estimates = {name: value[0] * scale_factor for name, value in estimates.items()}
  estimates["exact_first_order"] = tabular_first_order_entropy_change(logits, actions,
                                                                      scale_factor * coefficient[0])
  return true_change, estimates, ~out.gradient_active[0]


def _pearson(x, y):
  return float(np.corrcoef(x, y)[0, 1])


def _slope(estimate, truth):
  return float(np.dot(estimate, truth) / np.dot(estimate, estimate))


def test_exact_first_order_formula_matches_a_full_sgd_step():
  """Sampled-token term + the sum over the other tokens: r > 0.999 and slope 1 on a full step."""
  for vocab in (16, 200):
    truth, estimates, clipped = _experiment(vocab, own_logit_only=False)
    assert clipped.mean() > 0.01  # the clip indicator is exercised
    assert _pearson(estimates["exact_first_order"], truth) > 0.999
    assert abs(_slope(estimates["exact_first_order"], truth) - 1.0) < 0.02


def test_theorem_form_is_the_sampled_logit_contribution():
  """Step restricted to the sampled token's logit: theorem form r >= 0.99, slope 1; wrong ones fail."""
  truth, estimates, clipped = _experiment(64, own_logit_only=True)
  assert _pearson(estimates["theorem"], truth) >= 0.99
  assert abs(_slope(estimates["theorem"], truth) - 1.0) < 0.02
  assert _pearson(estimates["sign_flipped"], truth) < -0.99
  assert _pearson(estimates["one_minus_p_squared"], truth) < 0.9
  # Clipped tokens do not move (true change exactly 0); only the estimate with I_clip says so.
  assert clipped.any()
  np.testing.assert_array_equal(truth[clipped], 0.0)
  np.testing.assert_array_equal(estimates["theorem"][clipped], 0.0)
  assert np.all(estimates["no_clip_indicator"][clipped] != 0.0)


def test_theorem_form_on_a_full_step_with_two_actions():
  """With two actions the dropped term equals the kept one: full step r >= 0.99, slope 2."""
  truth, estimates, _ = _experiment(2, own_logit_only=False)
  assert _pearson(estimates["theorem"], truth) >= 0.99
  assert abs(_slope(estimates["theorem"], truth) - 2.0) < 0.05
  assert _pearson(estimates["sign_flipped"], truth) < -0.99
  assert _pearson(estimates["one_minus_p_squared"], truth) < 0.9


def test_sampled_token_estimate_on_a_full_step_is_a_positive_but_partial_fit():
  """Large vocabulary, full step: the sampled-token estimate ranks well (r > 0.6) but below the exact
  formula; the (1 - p)^2 variant and the flipped sign fit worse."""
  truth, estimates, _ = _experiment(200, own_logit_only=False)
  theorem = _pearson(estimates["theorem"], truth)
  assert 0.6 < theorem < _pearson(estimates["exact_first_order"], truth)
  assert _pearson(estimates["one_minus_p_squared"], truth) < theorem - 0.05
  assert _pearson(estimates["sign_flipped"], truth) < -0.6


def test_first_order_error_is_second_order_in_the_step():
  """Halving eta shrinks |true - first order| about 4x: the estimate is the linearization."""
  keys = jax.random.split(jax.random.key(3), 3)
  logits = jax.random.normal(keys[0], (64, 12)) * 2.0
  actions = jax.random.randint(keys[1], (64,), 0, 12)
  coefficient = jax.random.normal(keys[2], (64,))

  @jax.jit
  def error(eta):
    step = eta * coefficient[:, None] * (jax.nn.one_hot(actions, 12) - jax.nn.softmax(logits, -1))
    true_change = _entropy(logits + step) - _entropy(logits)
    first_order = tabular_first_order_entropy_change(logits, actions, eta * coefficient)
    return jnp.max(jnp.abs(true_change - first_order))

  assert 3.0 < float(error(0.2)) / float(error(0.1)) < 5.0


def test_sampled_token_factor_sign_matches_the_quadrants():
  """A > 0 on a likely token (surprisal < H) lowers entropy; on an unlikely one it raises it."""
  entropy = jnp.asarray([[1.0, 1.0]])
  logp = jnp.log(jnp.asarray([[0.9, 0.01]]))
  factor = np.asarray(sampled_token_factor(logp, entropy))
  assert factor[0, 0] > 0 > factor[0, 1]
  change = np.asarray(entropy_change_estimate(jnp.ones((1, 2)), logp, logp, entropy))
  assert change[0, 0] < 0 < change[0, 1]
