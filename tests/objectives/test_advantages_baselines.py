"""ReMax, GRPO pass@k, the optimal token baseline and GAE against loop transcriptions of verl's code.

verl-project/verl 018f23b5 `verl/trainer/ppo/core_algos.py`: compute_remax_outcome_advantage,
compute_grpo_passk_outcome_advantage, compute_optimal_token_baseline_advantage,
compute_gae_advantage_return (+ verl_F.masked_whiten).
"""

from __future__ import annotations

import functools
from collections import defaultdict

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives.advantages import gae_advantages_returns
from tests.objectives.jitted_advantages import jitted_advantages

RNG = np.random.default_rng(7)
GROUPS = np.array([3, 3, 0, 3, 0, 0, 5, 0], np.int32)  # shuffled ids; group 5 is a singleton
LENGTHS = np.array([4, 2, 5, 0, 3, 5, 2, 1])
T = 5
MASK = (np.arange(T)[None, :] < LENGTHS[:, None]).astype(np.float32)
REWARDS = np.array([1.0, 0.0, 0.5, 1.0, 0.25, 1.0, 0.0, 0.5], np.float32)


def _run(name, rewards=REWARDS, mask=MASK, groups=GROUPS, **kwargs):
  return jitted_advantages(name, rewards, mask, groups, **kwargs)


def _token_rewards(scores, mask):
  out = np.zeros_like(mask)
  for i, length in enumerate(mask.sum(-1).astype(int)):
    if length:
      out[i, length - 1] = scores[i]
  return out


def _reward_to_go(token_rewards, mask):
  return np.flip(np.cumsum(np.flip(token_rewards * mask, -1), -1), -1)


def _whiten(values, mask):
  n = mask.sum()
  mean = (values * mask).sum() / (n + 1e-8)
  var = (((values - mean) ** 2) * mask).sum() / (n + 1e-8) * n / (n - 1)
  return (values - mean) / np.sqrt(var + 1e-8)


# ---------------------------------------------------------------------------------------------- ReMax


def test_remax_subtracts_the_greedy_reward():
  """A_t = reward-to-go - b * mask (verl); b given per response or per prompt (indexed by group id)."""
  greedy = {0: 0.5, 3: 1.0, 5: 0.0}
  per_row = np.array([greedy[g] for g in GROUPS], np.float32)
  per_prompt = np.zeros(6, np.float32)
  for g, b in greedy.items():
    per_prompt[g] = b
  expected = (_reward_to_go(_token_rewards(REWARDS, MASK), MASK) - per_row[:, None] * MASK) * MASK
  for baseline in (per_row, per_prompt):
    out = _run("remax", baseline_rewards=jnp.asarray(baseline))
    np.testing.assert_allclose(np.asarray(out.advantages), expected, rtol=1e-6, atol=1e-7)
  # By hand: row 0 (R = 1, greedy 1.0) -> 0; row 2 (R = 0.5, greedy 0.5) -> 0; row 4 (R = .25) -> -0.25.
  adv = np.asarray(out.advantages)
  assert np.all(adv[0] == 0) and np.all(adv[2] == 0)
  np.testing.assert_allclose(adv[4], [-0.25, -0.25, -0.25, 0, 0], rtol=1e-6)
  np.testing.assert_allclose(np.asarray(out.returns)[4], [0.25, 0.25, 0.25, 0, 0], rtol=1e-6)


def test_remax_uses_token_rewards_when_given():
  """With KL in the reward the token rewards (not just the score) give the reward-to-go."""
  token_rewards = RNG.normal(size=MASK.shape).astype(np.float32) * MASK
  baseline = RNG.normal(size=8).astype(np.float32)
  out = _run("remax", baseline_rewards=jnp.asarray(baseline), token_rewards=jnp.asarray(token_rewards))
  expected = (_reward_to_go(token_rewards, MASK) - baseline[:, None]) * MASK
  np.testing.assert_allclose(np.asarray(out.advantages), expected, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- pass@k


def _passk_reference(scores, groups, norm_by_std=True, eps=1e-6):
  """verl loop (torch.topk(rewards, 2) per group; singleton groups raise there and are skipped here)."""
  members = defaultdict(list)
  for i, g in enumerate(groups):
    members[int(g)].append(i)
  out = np.zeros_like(scores)
  for idx in members.values():
    if len(idx) < 2:
      continue
    rewards = scores[idx]
    order = np.argsort(-rewards, kind="stable")
    gap = rewards[order[0]] - rewards[order[1]]
    if norm_by_std:
      gap = gap / (rewards.std(ddof=1) + eps)
    out[idx[order[0]]] = gap
  return out


@pytest.mark.parametrize("norm_by_std", [True, False])
def test_grpo_passk_credits_only_the_best_response(norm_by_std):
  """Group 3 {1, 0, 1}: tied best -> all 0; group 0 {.5, .25, 1, .5}: row 5 gets (1 - .5) / std."""
  out = _run("grpo_passk", norm_by_std=norm_by_std)
  expected = _passk_reference(REWARDS, GROUPS, norm_by_std)
  np.testing.assert_allclose(np.asarray(out.advantages), expected[:, None] * MASK, rtol=1e-5, atol=1e-7)
  adv = np.asarray(out.advantages)[:, 0]
  assert np.all(adv[[0, 1, 3]] == 0)  # tie at the top of group 3
  std = np.std([0.5, 0.25, 1.0, 0.5], ddof=1)
  assert adv[5] == pytest.approx(0.5 / (std + 1e-6) if norm_by_std else 0.5, rel=1e-5)
  assert float(out.metrics["advantages/singleton_fraction"]) == pytest.approx(1 / 8)


def test_grpo_passk_random_groups_match_reference():
  """Random continuous rewards (no ties) over uneven shuffled groups."""
  rewards = RNG.normal(size=12).astype(np.float32)
  groups = RNG.permutation(np.array([0, 0, 0, 0, 4, 4, 4, 9, 9, 2, 2, 2], np.int32))
  out = _run("grpo_passk", rewards=rewards, mask=np.ones((12, 1), np.float32), groups=groups)
  np.testing.assert_allclose(np.asarray(out.advantages)[:, 0], _passk_reference(rewards, groups), rtol=1e-5)


# ------------------------------------------------------------------------------ optimal token baseline


def _otb_reference(scores, mask, groups, old_logp, sum_pi_sq, is_weights=None, zero_tail=True, eps=1e-8):
  """verl compute_optimal_token_baseline_advantage, loop over prompt groups."""
  returns = _reward_to_go(_token_rewards(scores, mask), mask)
  w = 1 - 2 * np.exp(old_logp) + sum_pi_sq
  if is_weights is not None:
    w = w * is_weights ** 2
  w_cum = np.cumsum(w * mask, -1)
  members = defaultdict(list)
  for i, g in enumerate(groups):
    members[int(g)].append(i)
  baselines = np.zeros_like(returns)
  for idx in members.values():
    if len(idx) == 1:
      continue
    num = (returns[idx] * w_cum[idx] * mask[idx]).sum(0)
    den = (w_cum[idx] * mask[idx]).sum(0) + eps
    baselines[idx] = num / den
    if zero_tail:
      lengths = mask[idx].sum(-1)
      ordered = np.sort(lengths)
      longest, second = int(ordered[-1]), int(ordered[-2])
      at_max = np.nonzero(lengths == longest)[0]
      if at_max.size == 1 and longest > second:
        baselines[idx[at_max[0]], second:] = 0.0
  return (returns - baselines) * mask, returns


HOLED_MASK = MASK.copy()
HOLED_MASK[[0, 2], [1, 2]] = 0.0  # multi-turn: observation tokens inside a response


@pytest.mark.parametrize("zero_tail", [True, False])
@pytest.mark.parametrize("with_is", [False, True])
@pytest.mark.parametrize("mask", [MASK, HOLED_MASK], ids=["prefix", "holes"])
def test_optimal_token_baseline_matches_reference(zero_tail, with_is, mask):
  """Per-position baseline weighted by the cumulative path variance; singleton group -> baseline 0."""
  old_logp = -RNG.exponential(size=MASK.shape).astype(np.float32)
  sum_pi_sq = RNG.uniform(0.05, 0.9, size=MASK.shape).astype(np.float32)
  is_weights = RNG.uniform(0.5, 1.5, size=MASK.shape).astype(np.float32) if with_is else None
  out = _run("optimal_token_baseline", mask=mask, old_logp=jnp.asarray(old_logp),
             sum_pi_squared=jnp.asarray(sum_pi_sq),
             rollout_is_weights=None if is_weights is None else jnp.asarray(is_weights),
             handle_zero_tail=zero_tail)
  expected, returns = _otb_reference(REWARDS, mask, GROUPS, old_logp, sum_pi_sq, is_weights, zero_tail)
  np.testing.assert_allclose(np.asarray(out.advantages), expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(out.returns), returns * mask, rtol=1e-6)
  np.testing.assert_allclose(np.asarray(out.advantages)[6], REWARDS[6] * mask[6])  # singleton: A = G


def test_optimal_token_baseline_by_hand():
  """Two responses, equal weights w = 1: b_t = (sum_i G W) / sum_i W over the responses alive at t."""
  mask = np.array([[1, 1, 1], [1, 0, 0]], np.float32)
  old_logp = np.log(np.full((2, 3), 0.5, np.float32))  # w = 1 - 1 + 1 = 1 with sum_pi_sq = 1
  out = _run("optimal_token_baseline", jnp.asarray([1.0, 0.0]), mask, jnp.asarray([0, 0], jnp.int32),
             old_logp=jnp.asarray(old_logp), sum_pi_squared=jnp.ones((2, 3)), handle_zero_tail=False)
  # W: row 0 = [1, 2, 3], row 1 = [1, 1, 1] (masked); t = 0: b = (1*1 + 0*1) / 2 = 0.5; t >= 1: only row 0.
  np.testing.assert_allclose(np.asarray(out.advantages), [[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]], atol=1e-6)
  tail = _run("optimal_token_baseline", jnp.asarray([1.0, 0.0]), mask, jnp.asarray([0, 0], jnp.int32),
              old_logp=jnp.asarray(old_logp), sum_pi_squared=jnp.ones((2, 3)))
  # Zero tail: row 0 is the unique longest; positions >= 1 (second-longest length) get baseline 0.
  np.testing.assert_allclose(np.asarray(tail.advantages), [[0.5, 1.0, 1.0], [-0.5, 0.0, 0.0]], atol=1e-6)


# ------------------------------------------------------------------------------------------------- GAE


def _gae_reference(rewards, values, mask, gamma, lam):
  """verl compute_gae_advantage_return: the reversed loop that skips masked positions."""
  next_values = np.zeros(rewards.shape[0], np.float64)
  last = np.zeros(rewards.shape[0], np.float64)
  out = []
  for t in reversed(range(rewards.shape[1])):
    delta = rewards[:, t] + gamma * next_values - values[:, t]
    last_ = delta + gamma * lam * last
    next_values = values[:, t] * mask[:, t] + (1 - mask[:, t]) * next_values
    last = last_ * mask[:, t] + (1 - mask[:, t]) * last
    out.append(last)
  advantages = np.stack(out[::-1], axis=1)
  returns = advantages + values
  return _whiten(advantages, mask), returns


@pytest.mark.parametrize("gamma,lam", [(1.0, 1.0), (0.9, 0.95), (0.99, 0.0)])
def test_gae_matches_reference_including_a_masked_hole(gamma, lam):
  """Random token rewards and values; row 1 has a hole (an observation span) that values skip over."""
  mask = MASK.copy()
  mask[2, 2] = 0.0
  rewards = RNG.normal(size=mask.shape).astype(np.float32)
  values = RNG.normal(size=mask.shape).astype(np.float32)
  gae_fn = jax.jit(functools.partial(gae_advantages_returns, gamma=gamma, lam=lam))
  advantages, returns = gae_fn(jnp.asarray(rewards), jnp.asarray(values), jnp.asarray(mask))
  expected_adv, expected_ret = _gae_reference(rewards, values, mask, gamma, lam)
  np.testing.assert_allclose(np.asarray(advantages), expected_adv * mask, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(np.asarray(returns), expected_ret * mask, rtol=1e-5, atol=1e-5)


def test_gae_by_hand_and_as_estimator():
  """One row, outcome reward 1 on the last of 3 tokens, V = [0.5, 0.25, 0.75], gamma = 1, lam = 1:
  returns are all 1 (Monte Carlo); raw advantages = 1 - V; estimator 'gae' whitens them."""
  values = np.array([[0.5, 0.25, 0.75], [0.0, 0.0, 0.0]], np.float32)
  mask = np.array([[1, 1, 1], [1, 1, 0]], np.float32)
  out = _run("gae", jnp.asarray([1.0, 0.0]), mask, jnp.asarray([0, 1], jnp.int32), values=jnp.asarray(values))
  np.testing.assert_allclose(np.asarray(out.returns), [[1, 1, 1], [0, 0, 0]], atol=1e-6)
  raw = np.array([[0.5, 0.75, 0.25], [0.0, 0.0, 0.0]])
  np.testing.assert_allclose(np.asarray(out.advantages), _whiten(raw, mask) * mask, rtol=1e-5, atol=1e-6)


def test_gae_has_no_gradient_through_values():
  """Values are rollout data: the advantage is a constant w.r.t. the critic."""
  rewards = jnp.asarray(RNG.normal(size=MASK.shape).astype(np.float32))
  grad = jax.jit(jax.grad(lambda v: jnp.sum(gae_advantages_returns(rewards, v, jnp.asarray(MASK), gamma=0.9,
                                                                   lam=0.9)[0])))(jnp.ones(MASK.shape))
  assert np.all(np.asarray(grad) == 0.0)
