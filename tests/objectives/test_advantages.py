"""Advantage estimators against loop-based numpy transcriptions of the reference code (algorithms.md §1.2, §8.1)."""

from __future__ import annotations

from collections import defaultdict

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives.advantages import ADVANTAGE_ESTIMATORS, compute_advantages, group_ids_from_size
from tests.objectives.jitted_advantages import jitted_advantages

# Groups (shuffled, non-contiguous ids): 5 -> rewards {1, 0, 1}; 2 -> {0.5, 0.5} (zero variance);
# 7 -> {0.3} (singleton); 0 -> {1, 0, 0, 1}.
REWARDS = np.array([1.0, 0.5, 0.0, 0.3, 1.0, 0.0, 0.5, 0.0, 1.0, 1.0], np.float32)
GROUPS = np.array([5, 2, 0, 7, 5, 5, 2, 0, 0, 0], np.int32)
LENGTHS = np.array([4, 6, 1, 3, 6, 2, 5, 6, 0, 3])
T = 6
MASK = (np.arange(T)[None, :] < LENGTHS[:, None]).astype(np.float32)


def _run(name: str, rewards=REWARDS, mask=MASK, groups=GROUPS, **hparams):
  return jitted_advantages(name, rewards, mask, groups, **hparams)


def _by_group(rewards, groups):
  members = defaultdict(list)
  for i, g in enumerate(groups):
    members[int(g)].append(i)
  return members


def _broadcast(per_response, mask=MASK):
  return per_response[:, None] * mask


def _grpo_reference(rewards, groups, norm_by_std=True, eps=1e-6):
  out = np.zeros_like(rewards)
  for members in _by_group(rewards, groups).values():
    scores = rewards[members]
    mean, std = (0.0, 1.0) if len(members) == 1 else (scores.mean(), scores.std(ddof=1))
    out[members] = (scores - mean) / (std + eps) if norm_by_std else scores - mean
  return out


def _whiten(values, mask):
  n = mask.sum()
  mean = (values * mask).sum() / (n + 1e-8)
  var = (((values - mean) ** 2) * mask).sum() / (n + 1e-8) * n / (n - 1)
  return (values - mean) / np.sqrt(var + 1e-8) * mask


def test_grpo_matches_reference_with_singleton_and_zero_variance_groups():
  """(R - mean) / (std_unbiased + 1e-6); singleton -> R / (1 + 1e-6); identical rewards -> exactly 0."""
  out = _run("grpo")
  np.testing.assert_allclose(np.asarray(out.advantages), _broadcast(_grpo_reference(REWARDS, GROUPS)),
                             rtol=1e-5, atol=1e-6)
  adv = np.asarray(out.advantages)
  assert np.all(adv[[1, 6]] == 0.0)  # zero-variance group 2
  np.testing.assert_allclose(adv[3, :3], 0.3 / (1 + 1e-6), rtol=1e-6)  # singleton
  assert float(out.metrics["advantages/zero_std_fraction"]) == pytest.approx(0.2)
  assert np.all(np.asarray(out.keep))


def test_zero_variance_group_is_exactly_zero_for_inexact_rewards():
  """Identical rewards that are not exact in binary (0.1) still give exactly 0, not noise / 1e-6."""
  rewards = np.full((3,), 0.1, np.float32)
  out = _run("grpo", rewards=rewards, mask=np.ones((3, 2), np.float32), groups=np.zeros(3, np.int32))
  assert np.all(np.asarray(out.advantages) == 0.0)


def test_dr_grpo_is_mean_centred_only():
  """Dr.GRPO = R - group mean (singleton mean 0), no std division; equals grpo(norm_by_std=False)."""
  out = _run("dr_grpo")
  expected = _broadcast(_grpo_reference(REWARDS, GROUPS, norm_by_std=False))
  np.testing.assert_allclose(np.asarray(out.advantages), expected, rtol=1e-6, atol=1e-7)
  np.testing.assert_array_equal(np.asarray(out.advantages),
                                np.asarray(_run("grpo", norm_by_std=False).advantages))


def test_rloo_is_leave_one_out():
  """a_i = R_i - mean of the other group members; singleton keeps R."""
  expected = np.zeros_like(REWARDS)
  for members in _by_group(REWARDS, GROUPS).values():
    for i in members:
      others = [j for j in members if j != i]
      expected[i] = REWARDS[i] - REWARDS[others].mean() if others else REWARDS[i]
  np.testing.assert_allclose(np.asarray(_run("rloo").advantages), _broadcast(expected), rtol=1e-5, atol=1e-6)


def test_reinforce_pp_baseline_whitens_over_batch_tokens():
  """R - group mean (singleton 0), tiled over tokens, then masked whitening with Bessel correction."""
  centered = _grpo_reference(REWARDS, GROUPS, norm_by_std=False)
  centered[3] = REWARDS[3]  # singleton: mean 0
  expected = _whiten(_broadcast(centered), MASK)
  out = np.asarray(_run("reinforce_pp_baseline").advantages)
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
  assert abs((out * MASK).sum()) < 1e-4  # whitened: zero mean over tokens


def _reinforce_pp_reference(rewards, mask, gamma):
  """verl's backward loop: reward on token sum(mask) - 1, running return reset at masked positions."""
  token_rewards = np.zeros_like(mask)
  for i, length in enumerate(mask.sum(-1).astype(int)):
    if length > 0:
      token_rewards[i, length - 1] = rewards[i]
  returns = np.zeros_like(mask)
  running = np.zeros(mask.shape[0], np.float32)
  for t in reversed(range(mask.shape[1])):
    running = token_rewards[:, t] + gamma * running
    returns[:, t] = running
    running = running * mask[:, t]
  return _whiten(returns, mask)


@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_reinforce_pp_discounted_returns(gamma):
  """Matches verl's reversed loop for prefix masks and a mask with a hole (the hole cuts the return)."""
  mask = MASK.copy()
  mask[4, 2] = 0.0  # hole: tokens 0-1 of row 4 get no return
  expected = _reinforce_pp_reference(REWARDS, mask, gamma)
  out = np.asarray(_run("reinforce_pp", mask=mask, gamma=gamma).advantages)
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_opo_length_weighted_baseline():
  """Baseline = sum |y| R / sum |y| per group; singleton baseline 0."""
  expected = np.zeros_like(REWARDS)
  for members in _by_group(REWARDS, GROUPS).values():
    lengths = LENGTHS[members].astype(np.float32)
    baseline = 0.0 if len(members) == 1 else (lengths * REWARDS[members]).sum() / lengths.sum()
    expected[members] = REWARDS[members] - baseline
  np.testing.assert_allclose(np.asarray(_run("opo").advantages), _broadcast(expected), rtol=1e-5, atol=1e-6)


def test_opo_all_empty_group_is_finite():
  """A group whose responses are all empty has baseline 0 instead of 0 / 0."""
  out = _run("opo", rewards=np.array([1.0, 0.0], np.float32), mask=np.zeros((2, 3), np.float32),
             groups=np.zeros(2, np.int32))
  assert np.all(np.isfinite(np.asarray(out.advantages)))


def test_gpg_alpha_counts_nonzero_rewards():
  """alpha = B / #nonzero rewards (10 / 7 here), times R - group mean (singleton mean 0)."""
  centered = _grpo_reference(REWARDS, GROUPS, norm_by_std=False)
  centered[3] = REWARDS[3]
  out = _run("gpg")
  assert float(out.metrics["advantages/alpha"]) == pytest.approx(10 / 7)
  np.testing.assert_allclose(np.asarray(out.advantages), _broadcast(10 / 7 * centered), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["inverted_cdf", "linear"])
@pytest.mark.parametrize("quantile", [0.0, 0.4, 0.75, 1.0])
def test_qae_baseline_is_group_quantile(method, quantile):
  """Baseline = np.quantile(group rewards, K, method) for shuffled, uneven groups."""
  rng = np.random.default_rng(1)
  rewards = rng.normal(size=12).astype(np.float32)
  rewards[3] = rewards[7]  # a tie
  groups = rng.permutation(np.array([4, 4, 4, 4, 4, 9, 9, 9, 0, 1, 1, 1], np.int32))
  expected = np.zeros_like(rewards)
  for members in _by_group(rewards, groups).values():
    expected[members] = rewards[members] - np.quantile(rewards[members], quantile, method=method)
  out = _run("qae", rewards=rewards, mask=np.ones((12, 1), np.float32), groups=groups, quantile=quantile,
             method=method)
  np.testing.assert_allclose(np.asarray(out.advantages)[:, 0], expected, rtol=1e-5, atol=1e-6)


def test_qae_two_regime_gate_for_binary_rewards():
  """K = 0.4, group of 8: success rate <= 0.6 -> baseline 0 (only successes move); > 0.6 -> baseline 1."""
  hard = np.array([1, 1, 1, 1, 0, 0, 0, 0], np.float32)  # p = 0.5
  easy = np.array([1, 1, 1, 1, 1, 1, 1, 0], np.float32)  # p = 0.875
  out = _run("qae", rewards=np.concatenate([hard, easy]), mask=np.ones((16, 1), np.float32),
             groups=np.repeat(np.arange(2, dtype=np.int32), 8))
  adv = np.asarray(out.advantages)[:, 0]
  np.testing.assert_array_equal(adv[:8], hard)
  np.testing.assert_array_equal(adv[8:], easy - 1.0)


def _all_inputs(rewards=REWARDS, mask=MASK):
  """Every DATA_INPUT, so that each registered estimator can run."""
  rng = np.random.default_rng(3)
  shape = mask.shape
  return dict(correct=jnp.asarray(rewards == 1.0), baseline_rewards=jnp.asarray(rewards[::-1].copy()),
              values=jnp.asarray(rng.normal(size=shape).astype(np.float32)),
              token_rewards=None, old_logp=jnp.asarray(-rng.exponential(size=shape).astype(np.float32)),
              sum_pi_squared=jnp.asarray(rng.uniform(0.1, 0.9, size=shape).astype(np.float32)),
              rollout_is_weights=None)


def test_advantages_are_masked_and_float32():
  """Every estimator returns float32 [B, T] advantages and returns that are zero outside the response mask."""
  assert set(ADVANTAGE_ESTIMATORS.names()) >= {"grpo", "remax", "grpo_passk", "optimal_token_baseline", "gae",
                                               "w_reinforce", "psr", "nsr"}
  for name in ADVANTAGE_ESTIMATORS:
    out = _run(name, **_all_inputs())
    for field in (out.advantages, out.returns):
      assert field.shape == MASK.shape and field.dtype == jnp.float32, name
      assert np.all(np.asarray(field)[MASK == 0] == 0.0), name
      assert np.all(np.isfinite(np.asarray(field))), name


def test_missing_data_input_names_the_estimator_and_argument():
  """An estimator's required input (the reward's verdict, the greedy baseline, values) must be passed."""
  with pytest.raises(ValueError, match=r"'w_reinforce' needs correct \(correct: \[B\] bool"):
    _run("w_reinforce")
  with pytest.raises(ValueError, match=r"'remax' needs baseline_rewards"):
    _run("remax")
  with pytest.raises(ValueError, match=r"'gae' needs values"):
    _run("gae")
  with pytest.raises(ValueError, match=r"correct must be a bool \[B\]"):
    _run("psr", correct=jnp.asarray(REWARDS))
  with pytest.raises(ValueError, match=r"values must be \[B, T\]"):
    _run("gae", values=jnp.zeros((3, 3)))
  _run("grpo", correct=jnp.asarray(REWARDS == 1.0))  # inputs an estimator does not read are ignored


def test_estimators_jit():
  """Estimators compile under jit with traced rewards / mask / group ids (no host syncs)."""
  fn = jax.jit(lambda r, m, g: compute_advantages("qae", r, m, g).advantages)
  eager = compute_advantages("qae", jnp.asarray(REWARDS), jnp.asarray(MASK), jnp.asarray(GROUPS)).advantages
  eager = np.asarray(eager)
  np.testing.assert_array_equal(np.asarray(fn(jnp.asarray(REWARDS), jnp.asarray(MASK), jnp.asarray(GROUPS))),
                                eager)


def test_group_ids_from_size():
  """Contiguous groups of the given size; a non-multiple raises."""
  np.testing.assert_array_equal(np.asarray(group_ids_from_size(6, 3)), [0, 0, 0, 1, 1, 1])
  with pytest.raises(ValueError, match="num_responses=7"):
    group_ids_from_size(7, 3)
  with pytest.raises(ValueError, match="group_size"):
    group_ids_from_size(6, 0)


def test_bad_names_and_hyperparameters_raise():
  """Unknown estimator, unknown / out-of-range hyperparameters and bad shapes raise ValueError with the value."""
  with pytest.raises(ValueError, match=r"advantage_estimator='ppo'.*grpo"):
    _run("ppo")
  with pytest.raises(ValueError, match=r"unknown hyperparameter.*'epsilon'.*accepted.*'eps'"):
    _run("grpo", epsilon=1e-6)
  with pytest.raises(ValueError, match="gamma must be in.*1.5"):
    _run("reinforce_pp", gamma=1.5)
  with pytest.raises(ValueError, match="quantile must be in.*-0.1"):
    _run("qae", quantile=-0.1)
  with pytest.raises(ValueError, match="method='nearest'"):
    _run("qae", method="nearest")
  with pytest.raises(ValueError, match="group_ids must be integers"):
    _run("grpo", groups=GROUPS.astype(np.float32))
  with pytest.raises(ValueError, match="response_mask must be"):
    _run("grpo", mask=MASK[:3])
