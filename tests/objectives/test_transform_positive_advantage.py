"""Positive-Advantage Reweighting: weights, schedules, and the Adv-only / Rand-Pos-Clip ablations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import TrainingProgress, build_objective
from rlvr_jax.objectives._batch import ObjectiveState, PPOClipParams, TokenBatch
from rlvr_jax.objectives.transforms.positive_advantage import (NonNegativeAdvantageOnly,
                                                               NonPositiveAdvantageOnly,
                                                               PositiveAdvantageReweight, RandomPositiveClip)

MASK = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], np.float32)
ADV = np.array([[1.0] * 4, [0.0] * 4, [-2.0] * 4], np.float32) * MASK


def _batch(mask=MASK, adv=ADV, logp=None, norm_group=None, num_groups=1) -> TokenBatch:
  zeros = jnp.zeros(mask.shape)
  return TokenBatch.create(response_mask=jnp.asarray(mask), advantages=jnp.asarray(adv),
                           logp=zeros if logp is None else logp, old_logp=zeros,
                           old_entropy=jnp.ones(mask.shape),
                           norm_group=None if norm_group is None else jnp.asarray(norm_group),
                           num_norm_groups=num_groups)


def _apply(transform, batch, transform_state=None, key=None) -> ObjectiveState:
  state = ObjectiveState.initial(batch, PPOClipParams(), "token-mean")
  if transform_state is None:
    transform_state = transform.init_state()
  return transform.apply(batch, state, transform_state, key)


def test_positive_tokens_get_lambda_others_keep_one():
  """w = lambda where A > 0, 1 where A <= 0 (A = 0 tokens untouched); mask unchanged by default."""
  transform = PositiveAdvantageReweight(schedule="constant", positive_weight=0.25)
  out = _apply(transform, _batch())
  expected = np.where(ADV > 0, 0.25, 1.0)
  np.testing.assert_allclose(np.asarray(out.token_weights), expected)
  np.testing.assert_array_equal(np.asarray(out.loss_mask), MASK > 0)


def test_weighted_loss_keeps_the_token_count_denominator():
  """No renormalization: token-mean still divides by every response token (UNCONFIRMED default)."""
  logp = jnp.asarray(np.full(MASK.shape, -0.1, np.float32))
  objective = build_objective({"transforms": ("pos_adv_reweight",),
                               "pos_adv_reweight": {"schedule": "constant", "positive_weight": 0.5}})
  loss, _ = objective.loss(_batch(logp=logp), objective.init_state())
  ratio = np.exp(-0.1)
  per_token = -ADV * ratio * np.where(ADV > 0, 0.5, 1.0)
  per_token = np.where(ADV < 0, -ADV * np.maximum(ratio, 0.8), per_token)  # A < 0: clip at 1 - eps
  assert float(loss) == pytest.approx((per_token * MASK).sum() / MASK.sum(), rel=1e-5)


def test_renormalize_drops_zero_weight_tokens_from_the_denominator():
  """renormalize=True with lambda = 0 removes the A > 0 tokens from the loss mask."""
  out = _apply(PositiveAdvantageReweight(schedule="constant", positive_weight=0.0, renormalize=True),
               _batch())
  np.testing.assert_array_equal(np.asarray(out.loss_mask), (MASK > 0) & (ADV <= 0))


@pytest.mark.parametrize("step,total,expected", [(0, 100, 0.0), (50, 100, 0.0), (75, 100, 0.5),
                                                 (100, 100, 1.0)])
def test_stage_schedule_is_zero_then_linear(step, total, expected):
  """Stage-based: 0 for the first half, then linear 0 -> 1 over the second half."""
  transform = PositiveAdvantageReweight(schedule="stage")
  assert float(transform.init_state()["positive_weight"]) == 0.0
  state = transform.update_state(transform.init_state(), {}, TrainingProgress.create(step, total))
  assert float(state["positive_weight"]) == pytest.approx(expected)


def test_epoch_schedule_steps_per_epoch():
  """Epoch-wise: lambda = (e - 1) / (E - 1) for epoch e = 1..E (0-based epoch index here)."""
  transform = PositiveAdvantageReweight(schedule="epoch")
  values = [float(transform.update_state(transform.init_state(), {},
                                         TrainingProgress.create(0, 10, epoch, 5))["positive_weight"])
            for epoch in range(5)]
  np.testing.assert_allclose(values, [0.0, 0.25, 0.5, 0.75, 1.0])


def test_entropy_guided_schedule_moves_lambda_against_the_entropy_gap():
  """lambda drops by Delta when H < delta, rises otherwise, clipped to [0, 1]; starts at lambda_0."""
  transform = PositiveAdvantageReweight(positive_weight=0.5, target_entropy=0.2, step_size=0.05)
  state = transform.init_state()
  progress = TrainingProgress.create(1, 10)
  trace = []
  for entropy in (0.1, 0.1, 0.3, 0.2):
    state = transform.update_state(state, {"entropy/mean": jnp.asarray(entropy)}, progress)
    trace.append(float(state["positive_weight"]))
  np.testing.assert_allclose(trace, [0.45, 0.40, 0.45, 0.50], atol=1e-6)
  top = transform.update_state({"positive_weight": jnp.asarray(0.98)}, {"entropy/mean": jnp.asarray(1.0)},
                               progress)
  assert float(top["positive_weight"]) == 1.0


def test_entropy_guided_schedule_state_flows_through_the_objective_under_jit():
  """The objective logs entropy/mean, and a jitted update_state consumes it."""
  objective = build_objective({"transforms": ("pos_adv_reweight",),
                               "pos_adv_reweight": {"positive_weight": 0.5}})
  state = objective.init_state()
  _, metrics = jax.jit(objective.loss)(_batch(), state)
  assert float(metrics["entropy/mean"]) == pytest.approx(1.0)  # old entropy is all ones > 0.2
  state = jax.jit(objective.update_state)(state, metrics, TrainingProgress.create(1, 10))
  assert float(state["pos_adv_reweight"]["positive_weight"]) == pytest.approx(0.55)


def test_missing_entropy_metric_names_the_key():
  """A schedule without its metric raises, listing the metrics it did get."""
  with pytest.raises(ValueError, match="entropy/mean.*loss/total"):
    PositiveAdvantageReweight().update_state({"positive_weight": jnp.asarray(0.0)},
                                             {"loss/total": jnp.asarray(0.0)}, TrainingProgress.create(0, 1))


def test_advantage_sign_only_ablations():
  """Adv>=0 only keeps A >= 0 tokens (incl. A = 0); Adv<=0 only keeps A <= 0 tokens."""
  nonneg = _apply(NonNegativeAdvantageOnly(), _batch())
  nonpos = _apply(NonPositiveAdvantageOnly(), _batch())
  np.testing.assert_array_equal(np.asarray(nonneg.token_weights), (ADV >= 0).astype(np.float32))
  np.testing.assert_array_equal(np.asarray(nonpos.token_weights), (ADV <= 0).astype(np.float32))
  renormalized = _apply(NonPositiveAdvantageOnly(renormalize=True), _batch())
  np.testing.assert_array_equal(np.asarray(renormalized.loss_mask), (MASK > 0) & (ADV <= 0))


def test_rand_pos_clip_zeroes_budget_of_positive_tokens_only():
  """max(1, floor(ratio * #valid)) per group, drawn only from A > 0 tokens, depends on the key."""
  rng = np.random.default_rng(0)
  mask = np.ones((8, 50), np.float32)
  adv = np.where(rng.random((8, 1)) < 0.5, 1.0, -1.0).repeat(50, 1).astype(np.float32)
  adv[0] = 1.0
  batch = _batch(mask=mask, adv=adv, norm_group=[0, 0, 0, 0, 1, 1, 1, 1], num_groups=2)
  transform = RandomPositiveClip(ratio=0.02, norm_scope="micro_batch")
  picks = []
  for seed in range(3):
    zeroed = np.asarray(_apply(transform, batch, key=jax.random.key(seed)).token_weights) == 0
    assert zeroed[:4].sum() == min(4, (adv[:4] > 0).sum()) and zeroed[4:].sum() == min(4, (adv[4:] > 0).sum())
    assert np.all(adv[zeroed] > 0)
    picks.append(zeroed)
  assert not np.array_equal(picks[0], picks[1])
