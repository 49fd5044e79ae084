"""The rollout's extra inputs, wired without a model: fake samplers, verifier and scoring passes with known
outputs, and every advantage checked against a numpy transcription of the published formula.

  ReMax        the greedy response's shaped reward is each prompt's baseline: A_t = R - r(greedy)
  OTB          the old-log-prob pass's sum pi^2 reaches the estimator (advantages computed after scoring)
  KL in reward token rewards = score on the last token - beta (logp_old - logp_ref); outcome estimators
               see their sum; the controller's current_kl is the mean of per-response token means
  GAE          the critic's values give returns (= reward-to-go at gamma = lam = 1) and old values
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.config import method_config, validate
from rlvr_jax.data._pipeline import PromptBatch
from rlvr_jax.objectives.advantages import ADVANTAGE_ESTIMATORS, compute_advantages
from rlvr_jax.objectives._kl_reward import KLInRewardConfig
from rlvr_jax.rewards._base import RewardResult
from rlvr_jax.sampling import SamplingSettings
from rlvr_jax.sampling._state import FinishReason, SamplerOutput
from rlvr_jax.train._advantage_inputs import estimator_needs
from rlvr_jax.train._rollout import RolloutConfig, collect_rollout

P, N_SAMPLES, T = 2, 3, 4  # prompts, responses per prompt, response tokens
R = P * N_SAMPLES
# Response lengths (rows prompt-major) and verifier scores; greedy responses get their own scores.
LENGTHS = np.array([4, 2, 3, 1, 4, 2])
SCORES = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0], np.float32)
GREEDY_SCORES = np.array([0.5, 1.0], np.float32)
RNG = np.random.default_rng(0)
OLD_LOGP = -RNG.uniform(0.1, 2.0, (R, T)).astype(np.float32)
REF_LOGP = -RNG.uniform(0.1, 2.0, (R, T)).astype(np.float32)
SUM_PI_SQUARED = RNG.uniform(0.05, 0.9, (R, T)).astype(np.float32)
VALUES = RNG.normal(0.0, 0.5, (R, T)).astype(np.float32)
MASK = (np.arange(T)[None, :] < LENGTHS[:, None]).astype(np.float32)


def _sampler_output(rows: int, lengths: np.ndarray, offset: int) -> SamplerOutput:
  mask = np.arange(T)[None, :] < lengths[:, None]
  tokens = np.where(mask, (offset + np.arange(rows))[:, None], 0).astype(np.int32)  # row id as every token
  return SamplerOutput(tokens=jnp.asarray(tokens), response_mask=jnp.asarray(mask), lengths=jnp.asarray(lengths),
                       finish_reason=jnp.full((rows,), int(FinishReason.STOP), jnp.int32),
                       logprobs=jnp.asarray(np.where(mask, OLD_LOGP[:rows] if rows == R else -1.0, 0.0),
                                            jnp.float32))


def _decode(tokens, mask):
  return [f"row{int(t[0])}" for t in np.asarray(tokens)]


def _score_texts(texts, answers):
  del answers
  table = {**{f"row{i}": s for i, s in enumerate(SCORES)}, **{f"row{100 + i}": s for i, s in enumerate(GREEDY_SCORES)}}
  scores = np.asarray([table[t] for t in texts], np.float32)
  return RewardResult(scores=scores, correct=scores > 0.5, extracted=tuple(texts), metrics={})


def _scoring(with_sum_pi_squared: bool):
  def score(params, prompt_ids, prompt_mask, completion_ids, completion_mask):
    logp = jnp.asarray(REF_LOGP if params == "ref" else OLD_LOGP) * completion_mask
    out = (logp, jnp.ones_like(logp))
    return out + ((jnp.asarray(SUM_PI_SQUARED) if with_sum_pi_squared else None),) if params != "ref" else out
  return score


def _rollout(estimator: str, *, kl: KLInRewardConfig | None = None, kl_coef: float | None = None, **hparams):
  needs = estimator_needs(estimator)
  config = RolloutConfig(
      prompts_per_step=P, advantage_estimator=estimator, advantage_hparams=hparams, needs=needs, kl_in_reward=kl,
      sampling=SamplingSettings(num_samples=N_SAMPLES, max_new_tokens=T, temperature=1.0, top_p=1.0, top_k=0,
                                stop_token_ids=(1,)))
  prompts = PromptBatch(ids=np.ones((P, 2), np.int32), mask=np.ones((P, 2), np.int32),
                        row_ids=np.arange(P, dtype=np.int32), answers=("a", "b"), questions=("qa", "qb"))
  greedy_calls = []

  def greedy(ids, mask, row_ids, key):
    greedy_calls.append(ids.shape[0])
    return _sampler_output(P, np.array([3, 2]), 100)

  return collect_rollout(
      config=config, prompt_batches=iter([prompts]), generate_fn=lambda *a: _sampler_output(R, LENGTHS, 0),
      score_texts=_score_texts, decode=_decode, scoring_fn=_scoring(needs.sum_pi_squared),
      ref_scoring_fn=_scoring(False), params="policy", ref_params="ref" if kl is not None else None,
      key=jax.random.key(0), place=jnp.asarray, greedy_fn=greedy if needs.greedy_baseline else None,
      value_fn=(lambda *a: jnp.asarray(VALUES) * a[3]) if needs.critic else None, kl_coef=kl_coef), greedy_calls


def _grpo(rewards: np.ndarray) -> np.ndarray:
  """verl compute_grpo_outcome_advantage: (r - mean_g) / (std_g + 1e-6), unbiased std."""
  grouped = rewards.reshape(P, N_SAMPLES)
  adv = (grouped - grouped.mean(1, keepdims=True)) / (grouped.std(1, ddof=1, keepdims=True) + 1e-6)
  return adv.reshape(-1)


def test_remax_baseline_is_the_greedy_responses_reward():
  (batch, metrics, _), greedy_calls = _rollout("remax")
  assert greedy_calls == [P]  # one greedy response per prompt, sampled once per generation batch
  baseline = np.repeat(GREEDY_SCORES, N_SAMPLES)
  expected = (SCORES - baseline)[:, None] * MASK  # outcome reward: G_t = R on every response token
  np.testing.assert_allclose(np.asarray(batch.advantages), expected, atol=1e-6)
  assert metrics["reward/greedy_mean"] == pytest.approx(GREEDY_SCORES.mean())
  assert metrics["advantages/baseline_mean"] == pytest.approx(baseline.mean())


def test_optimal_token_baseline_reads_sum_pi_squared_from_the_scoring_pass():
  (batch, _, _), _ = _rollout("optimal_token_baseline")
  group_ids = jnp.repeat(jnp.arange(P), N_SAMPLES)
  expected = compute_advantages("optimal_token_baseline", jnp.asarray(SCORES), jnp.asarray(MASK), group_ids,
                                old_logp=jnp.asarray(OLD_LOGP * MASK), sum_pi_squared=jnp.asarray(SUM_PI_SQUARED))
  without = compute_advantages("optimal_token_baseline", jnp.asarray(SCORES), jnp.asarray(MASK), group_ids,
                               old_logp=jnp.asarray(OLD_LOGP * MASK), sum_pi_squared=jnp.zeros((R, T)))
  np.testing.assert_allclose(np.asarray(batch.advantages), np.asarray(expected.advantages), atol=1e-6)
  assert not np.allclose(np.asarray(expected.advantages), np.asarray(without.advantages), atol=1e-3)


def test_kl_in_reward_penalizes_tokens_and_outcome_estimators_see_the_sum():
  beta = 0.5
  (batch, metrics, _), _ = _rollout("grpo", kl=KLInRewardConfig(kind="kl", coef=0.1), kl_coef=beta)
  kl = (OLD_LOGP - REF_LOGP) * MASK  # k1 per token
  summed = SCORES - beta * kl.sum(1)  # score on the last token, minus beta * KL on every token
  np.testing.assert_allclose(np.asarray(batch.advantages), _grpo(summed)[:, None] * MASK, atol=1e-5)
  assert metrics["kl_in_reward/kl"] == pytest.approx(np.mean(kl.sum(1) / MASK.sum(1)), rel=1e-5)
  assert metrics["kl_in_reward/coef"] == pytest.approx(beta)
  np.testing.assert_allclose(np.asarray(batch.ref_logp), REF_LOGP * MASK)


def test_gae_with_a_critic_gives_returns_and_old_values():
  beta = 0.2
  (batch, metrics, _), _ = _rollout("gae", kl=KLInRewardConfig(kind="kl"), kl_coef=beta)
  last = (np.arange(T)[None, :] == (LENGTHS - 1)[:, None]).astype(np.float32)
  token_rewards = SCORES[:, None] * last - beta * (OLD_LOGP - REF_LOGP) * MASK
  returns = np.flip(np.cumsum(np.flip(token_rewards, 1), 1), 1) * MASK  # gamma = lam = 1: reward-to-go
  np.testing.assert_allclose(np.asarray(batch.returns), returns, atol=1e-5)
  np.testing.assert_allclose(np.asarray(batch.old_values), VALUES * MASK, atol=1e-6)
  residual, valid = (returns - VALUES)[MASK > 0], returns[MASK > 0]
  assert metrics["critic/explained_variance"] == pytest.approx(
      1 - residual.var(ddof=1) / (valid.var(ddof=1) + 1e-5), rel=1e-4)
  assert metrics["critic/values_mean"] == pytest.approx(VALUES[MASK > 0].mean(), rel=1e-5)
  # GAE advantages are the whitened (returns - values) at lam = 1.
  gae = (returns - VALUES)[MASK > 0]
  np.testing.assert_allclose(np.asarray(batch.advantages)[MASK > 0], (gae - gae.mean()) / np.sqrt(gae.var(ddof=1) + 1e-8),
                             atol=1e-4)


def test_missing_producers_are_named():
  needs = estimator_needs("remax")
  config = RolloutConfig(prompts_per_step=P, advantage_estimator="remax", advantage_hparams={}, needs=needs,
                         sampling=SamplingSettings(num_samples=N_SAMPLES, max_new_tokens=T, temperature=1.0,
                                                   top_p=1.0, top_k=0, stop_token_ids=(1,)))
  with pytest.raises(ValueError, match="needs greedy baselines; pass collect_rollout\\(greedy_fn=...\\)"):
    collect_rollout(config=config, prompt_batches=iter([]), generate_fn=None, score_texts=None, decode=None,
                    scoring_fn=None, params=None, ref_params=None, key=None, place=None)


def test_estimator_needs_come_from_the_registry():
  assert estimator_needs("remax").greedy_baseline and not estimator_needs("remax").critic
  assert estimator_needs("gae").critic and not estimator_needs("gae").greedy_baseline
  assert estimator_needs("optimal_token_baseline").sum_pi_squared
  assert estimator_needs("grpo") == type(estimator_needs("grpo"))()


@pytest.mark.parametrize("estimator", sorted(ADVANTAGE_ESTIMATORS.names()))
def test_validation_builds_a_critic_exactly_when_the_trainer_needs_one(estimator):
  """Config validation (which must not import the trainer) and the trainer read the same declaration."""
  config = method_config("grpo")
  config.advantage.estimator = estimator
  assert (validate(config, num_devices=1).critic is not None) == estimator_needs(estimator).critic
