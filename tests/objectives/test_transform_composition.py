"""Composing transforms: orders that commute give the same loss; the order rule rejects stale reads.

Documented order semantics (transforms/_registry.py): transforms that write a channel (clip parameters,
advantages, the token loss) must precede the transforms that read it. Weight scaling, mask restriction
and added loss terms commute. The one place where order changes the result is a read of a channel that
a later transform writes; `check_transform_order` turns that into a config error, and the last test
shows by running the transforms by hand why the error is needed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._batch import ObjectiveState, PPOClipParams, TokenBatch
from rlvr_jax.objectives.transforms.entropy_advantage import EntropyAdvantage
from rlvr_jax.objectives.transforms.positive_advantage import PositiveAdvantageReweight

RNG = np.random.default_rng(11)
B, T = 4, 10
MASK = (np.arange(T)[None] < np.array([10, 7, 3, 9])[:, None]).astype(np.float32)
ADV = np.array([[1.0], [-0.5], [0.0], [2.0]], np.float32) * MASK
LOGP = (-RNG.exponential(size=(B, T))).astype(np.float32)


def _batch(logp=LOGP) -> TokenBatch:
  return TokenBatch.create(
      response_mask=jnp.asarray(MASK), advantages=jnp.asarray(ADV), logp=jnp.asarray(logp),
      old_logp=jnp.asarray(LOGP + RNG.normal(size=(B, T)).astype(np.float32) * 0.2),
      old_entropy=jnp.asarray(RNG.exponential(size=(B, T)).astype(np.float32)),
      entropy=jnp.asarray(RNG.exponential(size=(B, T)).astype(np.float32)),
      topp_entropy=jnp.asarray(RNG.exponential(size=(B, T)).astype(np.float32)))


BATCH = _batch()
SECTIONS = {"steer": {}, "pos_adv_reweight": {"schedule": "constant", "positive_weight": 0.3},
            "fork_tokens": {"top_ratio": 0.5}, "entropy_bonus": {"coef": 0.01},
            "siren": {"anchor": 0.2}, "clip_higher": {}}


def _loss_and_grad(names):
  objective = build_objective({"transforms": names, **{n: SECTIONS[n] for n in names}})
  state = objective.init_state()
  fn = lambda logp: objective.loss(BATCH.replace(logp=logp), state)[0]
  return jax.jit(jax.value_and_grad(fn))(BATCH.logp)


@pytest.mark.parametrize("pair", [("steer", "pos_adv_reweight"), ("steer", "fork_tokens"),
                                  ("fork_tokens", "entropy_bonus"), ("pos_adv_reweight", "siren"),
                                  ("clip_higher", "fork_tokens")])
def test_commuting_pairs_give_the_same_loss_and_gradient_in_both_orders(pair):
  """Weights multiply, masks intersect, loss terms add: both orders are the same objective."""
  loss_ab, grad_ab = _loss_and_grad(pair)
  loss_ba, grad_ba = _loss_and_grad(pair[::-1])
  assert float(loss_ab) == pytest.approx(float(loss_ba), rel=1e-6, abs=1e-8)
  np.testing.assert_allclose(np.asarray(grad_ab), np.asarray(grad_ba), rtol=1e-6, atol=1e-9)


def test_composition_is_the_product_of_the_single_transforms():
  """(steer, pos_adv_reweight): token weights equal the product of each transform's own weights."""
  objective = build_objective({"transforms": ("steer", "pos_adv_reweight"),
                               "pos_adv_reweight": SECTIONS["pos_adv_reweight"]})
  both = objective.transform(BATCH, objective.init_state()).token_weights
  singles = []
  for name in ("steer", "pos_adv_reweight"):
    single = build_objective({"transforms": (name,), **({name: SECTIONS[name]} if SECTIONS[name] else {})})
    singles.append(single.transform(BATCH, single.init_state()).token_weights)
  np.testing.assert_allclose(np.asarray(both), np.asarray(singles[0] * singles[1]), rtol=1e-6)


def test_clip_higher_before_theorem_form_steer_is_required():
  """STEER's theorem form reads I_clip, so clip_higher must come first; the reverse is rejected."""
  build_objective({"transforms": ("clip_higher", "steer"), "steer": {"omega_form": "theorem"}})
  with pytest.raises(ValueError, match="'clip_higher' writes \\['ppo_params'\\].*'steer' reads"):
    build_objective({"transforms": ("steer", "clip_higher"), "steer": {"omega_form": "theorem"}})
  build_objective({"transforms": ("steer", "clip_higher")})  # code form does not read the clip range


def test_order_matters_when_a_transform_reads_what_a_later_one_writes():
  """entropy_advantage with kappa < 1 can lift A < 0 above 0, changing which tokens pos_adv scales.

  Run by hand in both orders, the token weights differ: this is the order dependence the rule exists
  for. The config accepts only the order in which the advantages are final before they are read.
  """
  adv = np.where(MASK > 0, -0.5, 0.0).astype(np.float32)
  batch = BATCH.replace(advantages=jnp.asarray(adv), entropy=jnp.full(MASK.shape, 2.0))
  entropy_adv = EntropyAdvantage(alpha=0.4, kappa=0.5)  # bonus min(0.8, 1.0) = 0.8 -> A' = +0.3
  reweight = PositiveAdvantageReweight(schedule="constant", positive_weight=0.3)

  def weights(order):
    state = ObjectiveState.initial(batch, PPOClipParams(), "token-mean")
    for transform in order:
      state = transform.apply(batch, state, transform.init_state(), None)
    return np.asarray(state.token_weights)

  valid = MASK > 0
  np.testing.assert_allclose(weights((entropy_adv, reweight))[valid], 0.3)
  np.testing.assert_allclose(weights((reweight, entropy_adv))[valid], 1.0)
  build_objective({"transforms": ("entropy_advantage", "pos_adv_reweight"),
                   "entropy_advantage": {"kappa": 0.5}})
  with pytest.raises(ValueError, match="'entropy_advantage' writes \\['advantages'\\]"):
    build_objective({"transforms": ("pos_adv_reweight", "entropy_advantage")})


def test_two_token_loss_replacements_are_rejected():
  """Clip-Cov and KL-Cov both replace the PPO token loss; listing both is an error, not a silent win."""
  with pytest.raises(ValueError, match="replace the policy token_loss"):
    build_objective({"transforms": ("clip_cov", "kl_cov")})
