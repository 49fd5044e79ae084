"""The objective builder: loss values by hand, KL / GPG, micro-batch invariance, inputs, jit and grad."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import TokenBatch, build_objective
from rlvr_jax.objectives._aggregation import normalizer_counts
from rlvr_jax.objectives._token_stats import token_statistics

RNG = np.random.default_rng(5)
B, T = 4, 6
MASK = (np.arange(T)[None] < np.array([6, 4, 1, 5])[:, None]).astype(np.float32)
ADV = np.array([[1.0], [-1.0], [0.5], [-2.0]], np.float32) * MASK
LOGP = (-RNG.exponential(size=(B, T))).astype(np.float32)
OLD_LOGP = (LOGP + RNG.normal(size=(B, T)).astype(np.float32) * 0.5).astype(np.float32)
REF_LOGP = (LOGP + RNG.normal(size=(B, T)).astype(np.float32) * 0.3).astype(np.float32)
ENTROPY = RNG.exponential(size=(B, T)).astype(np.float32)


def _batch(rows=slice(None), logp=None, **extra) -> TokenBatch:
  arrays = dict(response_mask=MASK, advantages=ADV, logp=LOGP, old_logp=OLD_LOGP, ref_logp=REF_LOGP,
                old_entropy=ENTROPY, entropy=ENTROPY * 1.1)
  arrays = {k: jnp.asarray(v[rows]) for k, v in arrays.items()}
  if logp is not None:
    arrays["logp"] = logp
  return TokenBatch.create(**arrays, **extra)


def _np_ppo(eps_low=0.2, eps_high=0.2, c=3.0):
  r = np.exp(np.clip(LOGP.astype(np.float64) - OLD_LOGP, -20, 20))
  loss = np.maximum(-ADV * r, -ADV * np.clip(r, 1 - eps_low, 1 + eps_high))
  return np.where(ADV < 0, np.minimum(loss, -ADV * c), loss)


def test_plain_ppo_token_mean_by_hand():
  """No transforms: legacy verl token-mean of the dual-clip PPO loss."""
  objective = build_objective({})
  loss, metrics = objective.loss(_batch(), objective.init_state())
  expected = (_np_ppo() * MASK).sum() / (MASK.sum() + 1e-8)
  assert float(loss) == pytest.approx(expected, rel=1e-5)
  assert float(metrics["loss/policy"]) == pytest.approx(expected, rel=1e-5)
  assert "policy/pg_clipfrac" in metrics and "entropy/mean" in metrics


def test_kl_term_is_added_with_its_coefficient():
  """kl: coef * token-mean(k3) added to the policy loss and logged as loss/kl."""
  objective = build_objective({"kl": {"kind": "low_var_kl", "coef": 0.1}})
  loss, metrics = objective.loss(_batch(), objective.init_state())
  u = np.clip(REF_LOGP.astype(np.float64) - LOGP, -20, 20)
  k3 = np.clip(np.exp(u) - u - 1, -10, 10)
  kl = (k3 * MASK).sum() / MASK.sum()
  policy = (_np_ppo() * MASK).sum() / MASK.sum()
  assert float(metrics["loss/kl"]) == pytest.approx(0.1 * kl, rel=1e-5)
  assert float(loss) == pytest.approx(policy + 0.1 * kl, rel=1e-5)


def test_gpg_policy_loss():
  """policy_loss='gpg': -A logp with seq-mean-token-sum (sum per row, mean over rows)."""
  objective = build_objective({"policy_loss": "gpg", "loss_agg_mode": "seq-mean-token-sum"})
  loss, _ = objective.loss(_batch(), objective.init_state())
  assert float(loss) == pytest.approx((-ADV * LOGP * MASK).sum() / B, rel=1e-5)


@pytest.mark.parametrize("mode", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"])
def test_micro_batch_losses_sum_to_the_mini_batch_loss_with_global_counts(mode):
  """Gradient accumulation is exact: with global counts, sum over micro-batches == whole batch."""
  objective = build_objective({"loss_agg_mode": mode, "transforms": ("steer",)})
  state = objective.init_state()
  tokens, sequences = normalizer_counts(jnp.asarray(MASK))
  full, _ = objective.loss(_batch(), state)
  halves = [objective.loss(_batch(rows, global_tokens=tokens, global_sequences=sequences), state)[0]
            for rows in (slice(0, 2), slice(2, 4))]
  # STEER's min/max are per call here, so compare against the micro_batch-scoped whole batch.
  grouped = build_objective({"loss_agg_mode": mode, "transforms": ("steer",),
                             "steer": {"norm_scope": "micro_batch"}})
  reference, _ = grouped.loss(_batch(norm_group=jnp.asarray([0, 0, 1, 1]), num_norm_groups=2), state)
  assert float(sum(halves)) == pytest.approx(float(reference), rel=1e-5)
  assert float(full) != pytest.approx(float(reference), rel=1e-6)  # the scope matters


def test_global_token_count_follows_a_shrunk_loss_mask():
  """With fork tokens, global_tokens (response tokens) is rescaled to the kept tokens of this call."""
  objective = build_objective({"transforms": ("fork_tokens",), "fork_tokens": {"top_ratio": 0.5}})
  tokens, _ = normalizer_counts(jnp.asarray(MASK))
  local, _ = objective.loss(_batch(), objective.init_state())
  with_global, _ = objective.loss(_batch(global_tokens=tokens), objective.init_state())
  assert float(with_global) == pytest.approx(float(local), rel=1e-5)


def test_missing_inputs_key_and_state_raise_before_compiling():
  """Each precondition names what is missing."""
  siren = build_objective({"transforms": ("siren",)})
  with pytest.raises(ValueError, match="topp_entropy"):
    siren.loss(_batch(), siren.init_state())
  clip_cov = build_objective({"transforms": ("clip_cov",)})
  with pytest.raises(ValueError, match="PRNG key"):
    clip_cov.loss(_batch(), clip_cov.init_state())
  with pytest.raises(ValueError, match="lacks entries"):
    clip_cov.loss(_batch(), {}, jax.random.key(0))
  with pytest.raises(ValueError, match="ref_logp"):
    kl = build_objective({"kl": {"kind": "k1", "coef": 0.1}})
    kl.loss(_batch().replace(ref_logp=None), kl.init_state())
  with pytest.raises(ValueError, match="advantages has shape"):
    build_objective({}).loss(_batch().replace(advantages=jnp.zeros((B, T + 1))), {})


def test_required_inputs_and_token_stats_request():
  """The objective tells the trainer which statistics to compute."""
  objective = build_objective({"transforms": ("steer", "siren", "fork_tokens"),
                               "kl": {"kind": "k3", "coef": 0.001}})
  assert objective.required_inputs() == {"old_entropy", "topp_entropy", "entropy", "ref_logp"}
  assert objective.token_stats_request() == {"with_entropy": True, "top_p": 0.8, "top_k": 10000}


def test_jit_grad_and_determinism_with_a_key():
  """loss is pure: jitted twice with the same key gives the same value; grad flows through logp."""
  objective = build_objective({"transforms": ("clip_higher", "clip_cov", "steer"),
                               "clip_cov": {"ratio": 0.2, "lower": -10.0, "upper": 10.0}})
  state = objective.init_state()
  fn = jax.jit(jax.value_and_grad(lambda lp, key: objective.loss(_batch(logp=lp), state, key)[0]))
  (value1, grad1), (value2, grad2) = fn(jnp.asarray(LOGP), jax.random.key(4)), fn(jnp.asarray(LOGP),
                                                                                   jax.random.key(4))
  assert float(value1) == float(value2)
  np.testing.assert_array_equal(np.asarray(grad1), np.asarray(grad2))
  assert np.all(np.asarray(grad1)[MASK == 0] == 0) and np.any(np.asarray(grad1) != 0)


def test_end_to_end_from_token_statistics_gradient_reaches_hidden_states():
  """TokenBatch.from_token_stats + SIREN: the regularizer's gradient reaches the hidden states."""
  vocab, dim = 50, 8
  keys = jax.random.split(jax.random.key(0), 3)
  hidden = jax.random.normal(keys[0], (B, T, dim))
  unembed = jax.random.normal(keys[1], (vocab, dim)) * 0.3
  targets = jax.random.randint(keys[2], (B, T), 0, vocab)
  objective = build_objective({"transforms": ("siren",), "siren": {"anchor": 5.0, "top_p": 0.9}})
  request = objective.token_stats_request()
  state = objective.init_state()

  def loss(h):
    stats = token_statistics(h, unembed, targets, chunk_size=8, **request)
    batch = TokenBatch.from_token_stats(stats, response_mask=jnp.asarray(MASK),
                                        advantages=jnp.zeros((B, T)),
                                        old_logp=jax.lax.stop_gradient(stats.logp))
    return objective.loss(batch, state)[0]

  grad = jax.jit(jax.grad(loss))(hidden)
  assert np.all(np.isfinite(np.asarray(grad)))
  assert float(jnp.abs(grad).sum()) > 0  # A = 0: only the SIREN term can produce this gradient
