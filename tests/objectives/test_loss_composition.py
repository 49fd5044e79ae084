"""Policy losses x entropy transforms: what composes (and what it means), what is rejected, SIREN's
siren_kl and STEER's per-prompt upper clip."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import TokenBatch, build_objective
from rlvr_jax.objectives._sequence_ratio_losses import gmpo_sequence_loss
from rlvr_jax.objectives._soft_clip_losses import cispo_token_loss
from rlvr_jax.objectives.transforms.forking_tokens import forking_token_mask

RNG = np.random.default_rng(23)
B, T = 4, 8
MASK = (np.arange(T)[None] < np.array([8, 5, 3, 7])[:, None]).astype(np.float32)
ADV = (np.array([[1.0], [-0.5], [0.8], [-1.2]]) * MASK).astype(np.float32)
OLD = (-RNG.exponential(size=(B, T))).astype(np.float32)
LOGP = (OLD + RNG.normal(size=(B, T)) * 0.3).astype(np.float32)
REF = (LOGP + RNG.normal(size=(B, T)) * 0.2).astype(np.float32)
ENTROPY = RNG.exponential(size=(B, T)).astype(np.float32)


def _batch(**extra):
  return TokenBatch.create(response_mask=jnp.asarray(MASK), advantages=jnp.asarray(ADV), logp=jnp.asarray(LOGP),
                           old_logp=jnp.asarray(OLD), ref_logp=jnp.asarray(REF), entropy=jnp.asarray(ENTROPY),
                           old_entropy=jnp.asarray(ENTROPY * 0.9), **extra)


SEQ = {"loss_agg_mode": "seq-mean-token-mean"}


@pytest.mark.parametrize("config,message", [
    ({"policy_loss": "gspo", **SEQ, "transforms": ("clip_higher",)},
     r"\['clip_higher'\] act on the PPO clipped loss, but policy_loss='gspo' has its own clip range"),
    ({"policy_loss": "cispo", "transforms": ("clip_higher",)}, r"policy_loss='cispo' has its own clip range"),
    ({"policy_loss": "sapo", **SEQ, "transforms": ("clip_higher",)}, r"policy_loss='sapo' has no PPO clip"),
    ({"policy_loss": "gmpo", **SEQ, "transforms": ("kl_cov",)}, r"\['kl_cov'\] act on the PPO clipped loss"),
    ({"policy_loss": "cispo", "transforms": ("clip_cov",)}, r"\['clip_cov'\] act on the PPO clipped loss"),
    ({"policy_loss": "cispo", "transforms": ("steer",), "steer": {"omega_form": "theorem"}},
     r"\['steer'\] read the PPO clip range, which policy_loss='cispo' does not use"),
    ({"policy_loss": "gmpo", **SEQ, "transforms": ("steer",)},
     r"\['steer'\] scale per-token weights, but policy_loss='gmpo' has one loss per response"),
    ({"policy_loss": "gmpo", **SEQ, "transforms": ("pos_adv_reweight", "rand_pos_clip")},
     r"\['pos_adv_reweight', 'rand_pos_clip'\] scale per-token weights"),
    ({"policy_loss": "gspo"}, r"policy_loss='gspo' aggregates 'seq-mean-token-mean'.*got 'token-mean'"),
    ({"policy_loss": "sapo", "loss_agg_mode": "seq-mean-token-sum-norm"}, r"set loss_agg_mode='seq-mean"),
    ({"transforms": ("siren_kl",)}, r"\['siren_kl'\] act on the KL loss term; set kl"),
    ({"policy_loss": "ppo", "sapo": {"tau_pos": 2.0}}, r"sections \['sapo'\] for policy losses other than"),
    ({"policy_loss": "sapo", **SEQ, "sapo": {"tau": 2.0}}, r"unknown sapo hyperparameters \['tau'\]"),
    ({"policy_loss": "sapo", **SEQ, "sapo": {"tau_neg": 0.0}}, r"sapo.tau_neg must be > 0.0, got 0.0"),
    ({"policy_loss": "gspo", **SEQ, "gspo": {"eps_low": 1.5}}, r"gspo.eps_low must be <= 1.0, got 1.5"),
    ({"transforms": ("clip_higher",), "clip_higher": {"per_prompt": 1}},
     r"clip_higher.per_prompt must be True or False, got 1"),
])
def test_meaningless_combinations_are_rejected(config, message):
  with pytest.raises(ValueError, match=message):
    build_objective(config)


def test_weights_compose_with_token_level_losses():
  """STEER (code form) x CISPO: the loss is token-mean(w * L_cispo) with STEER's own weights."""
  objective = build_objective({"policy_loss": "cispo", "transforms": ("steer",)})
  batch = _batch()
  state = objective.transform(batch, objective.init_state())
  loss, _ = objective.loss(batch, objective.init_state())
  cispo = np.asarray(cispo_token_loss(jnp.asarray(LOGP), jnp.asarray(OLD), jnp.asarray(ADV), eps_low=None,
                                      eps_high=0.2).loss)
  weights = np.asarray(state.token_weights)
  assert np.any((weights < 0.999) & (MASK > 0))
  assert float(loss) == pytest.approx((weights * cispo * MASK).sum() / (MASK.sum() + 1e-8), rel=1e-5)


def test_masks_choose_the_tokens_of_the_geometric_mean():
  """fork_tokens x GMPO: the geometric mean runs over the forking tokens of each response only."""
  objective = build_objective({"policy_loss": "gmpo", **SEQ, "transforms": ("fork_tokens",),
                               "fork_tokens": {"top_ratio": 0.5}})
  loss, _ = objective.loss(_batch(), objective.init_state())
  valid = jnp.asarray(MASK) > 0
  row_groups = jnp.zeros((B,), jnp.int32)
  kept = forking_token_mask(jnp.asarray(ENTROPY), valid, row_groups, 1, top_ratio=0.5)
  expected = gmpo_sequence_loss(jnp.asarray(LOGP), jnp.asarray(OLD), jnp.asarray(ADV), kept & valid,
                                eps_low=0.4, eps_high=0.4).loss
  assert float(loss) == pytest.approx(float(jnp.mean(expected)), rel=1e-5)
  full = build_objective({"policy_loss": "gmpo", **SEQ}).loss(_batch(), {})[0]
  assert float(full) != pytest.approx(float(loss), rel=1e-3)


def test_advantage_shaping_composes_with_sequence_losses():
  """entropy_advantage x GSPO: the shaped token advantages enter GSPO's token loss."""
  base = build_objective({"policy_loss": "gspo", **SEQ})
  shaped = build_objective({"policy_loss": "gspo", **SEQ, "transforms": ("entropy_advantage",)})
  state = shaped.transform(_batch(), shaped.init_state())
  bonus = np.minimum(0.4 * ENTROPY, np.abs(ADV) / 1.0) * MASK
  np.testing.assert_allclose(np.asarray(state.advantages), ADV + bonus, rtol=1e-6)
  plain_loss, _ = base.loss(_batch(), {})
  manual, _ = base.loss(TokenBatch.create(response_mask=jnp.asarray(MASK), advantages=jnp.asarray(ADV + bonus),
                                          logp=jnp.asarray(LOGP), old_logp=jnp.asarray(OLD)), {})
  shaped_loss, _ = shaped.loss(_batch(), shaped.init_state())
  assert float(shaped_loss) == pytest.approx(float(manual), rel=1e-6)
  assert float(shaped_loss) != pytest.approx(float(plain_loss), rel=1e-3)


# -------------------------------------------------------------------------------------------- siren_kl


def _siren_mask_by_quantile(x, mask, q):
  """SIREN mask_by_quantile(x, response_mask, 1, q): x > nanquantile(x with NaN outside the mask, q)."""
  filled = np.where(mask > 0, x, np.nan)
  out = np.zeros_like(mask, dtype=bool)
  for i in range(x.shape[0]):
    if np.all(np.isnan(filled[i])):
      continue
    out[i] = x[i] > np.nanquantile(filled[i], q)  # linear interpolation, as torch
  return out & (mask > 0)


@pytest.mark.parametrize("mode", ["token-mean", "seq-mean-token-sum-norm"])
def test_siren_kl_restricts_the_kl_term_to_peak_entropy_tokens(mode):
  """loss = policy + coef * agg(k3, peak mask of the current full entropy, loss_agg_mode) (dp_actor)."""
  config = {"loss_agg_mode": mode, "transforms": ("siren_kl",), "kl": {"kind": "low_var_kl", "coef": 0.1}}
  objective = build_objective(config)
  _, metrics = objective.loss(_batch(), objective.init_state())
  selected = _siren_mask_by_quantile(ENTROPY, MASK, 0.8)
  u = np.clip(REF.astype(np.float64) - LOGP, -20, 20)
  k3 = np.clip(np.exp(u) - u - 1, -10, 10)
  if mode == "token-mean":
    expected = (k3 * selected).sum() / (selected.sum() + 1e-8)
  else:
    expected = (k3 * selected).sum() / T
  assert float(metrics["loss/kl"]) == pytest.approx(0.1 * expected, rel=1e-5)
  assert float(metrics["siren_kl/selected_frac"]) == pytest.approx(selected.sum() / MASK.sum(), rel=1e-6)
  plain = build_objective({"loss_agg_mode": mode, "kl": {"kind": "low_var_kl", "coef": 0.1}})
  assert float(plain.loss(_batch(), {})[1]["loss/kl"]) != pytest.approx(float(metrics["loss/kl"]), rel=1e-3)
  assert objective.required_inputs() == {"entropy", "ref_logp"}


# ---------------------------------------------------------------------------------- per-prompt clip


def _verl_ppo(logp, old, adv, eps_low, eps_high, c):
  r = np.exp(np.clip(logp.astype(np.float64) - old, -20, 20))
  loss = np.maximum(-adv * r, -adv * np.clip(r, 1 - eps_low, 1 + eps_high))
  return np.where(adv < 0, np.minimum(loss, -adv * c), loss), (r > 1 + eps_high) & (adv > 0)


def test_per_prompt_upper_clip_replaces_eps_high_row_by_row():
  """STEER dp_actor: clip_ratio_high = per_prompt_clip_ratio_high[:, None] expanded over the tokens."""
  logp = (OLD + np.abs(RNG.normal(size=(B, T))) * 0.4).astype(np.float32)  # ratios above 1
  rows = np.array([0.05, 0.28, 0.5, 0.1], np.float32)
  objective = build_objective({"dual_clip_c": 10.0, "transforms": ("clip_higher",),
                               "clip_higher": {"per_prompt": True}})
  batch = TokenBatch.create(response_mask=jnp.asarray(MASK), advantages=jnp.asarray(ADV), logp=jnp.asarray(logp),
                            old_logp=jnp.asarray(OLD), clip_ratio_high=jnp.asarray(rows))
  loss, metrics = objective.loss(batch, objective.init_state())
  expected, clipped_high = _verl_ppo(logp, OLD, ADV, 0.2, rows[:, None], 10.0)
  assert float(loss) == pytest.approx((expected * MASK).sum() / (MASK.sum() + 1e-8), rel=1e-5)
  assert float(metrics["policy/pg_clipfrac_high"]) == pytest.approx(
      (clipped_high * MASK).sum() / MASK.sum(), rel=1e-5)
  static, _ = build_objective({"dual_clip_c": 10.0, "transforms": ("clip_higher",)}).loss(batch, {"clip_higher": {}})
  assert float(static) != pytest.approx(float(loss), rel=1e-4)
  assert float(metrics["clip_higher/eps_high_mean"]) == pytest.approx((rows[:, None] * MASK).sum() / MASK.sum())
  with pytest.raises(ValueError, match=r"needs TokenBatch fields \['clip_ratio_high'\]"):
    objective.loss(_batch(), objective.init_state())
  with pytest.raises(ValueError, match=r"TokenBatch.clip_ratio_high has shape \(2,\), expected \(4,\)"):
    objective.loss(batch.replace(clip_ratio_high=jnp.ones((2,))), objective.init_state())
