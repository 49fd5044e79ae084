"""SIREN: peak-entropy mask, anchored regularizer, anchor capture and the repository's ablations."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import TrainingProgress, build_objective
from rlvr_jax.objectives._batch import ObjectiveState, PPOClipParams, TokenBatch
from rlvr_jax.objectives.transforms.siren import Siren, peak_entropy_mask

MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]], np.float32)
TOPP = np.array([[0.0, 0.5, 1.5, 0.2, 0.9], [0.0, 0.0, 0.0, 0.0, 0.0], [0.3, 0.8, 0.0, 0.0, 0.0],
                 [0.0, 0.0, 0.0, 0.0, 0.0]], np.float32)
FULL = TOPP + np.array([[0.1, 0.1, 0.0, 2.0, 0.1]] * 4, np.float32)
PROGRESS = TrainingProgress.create(1, 10)
_peak_entropy_mask = jax.jit(peak_entropy_mask)


def _batch(topp=TOPP, full=FULL, norm_group=(0, 0, 0, 0), num_groups=1) -> TokenBatch:
  zeros = jnp.zeros(MASK.shape)
  return TokenBatch.create(response_mask=jnp.asarray(MASK), advantages=zeros, logp=zeros, old_logp=zeros,
                           topp_entropy=jnp.asarray(topp), entropy=jnp.asarray(full),
                           norm_group=jnp.asarray(norm_group), num_norm_groups=num_groups)


@functools.partial(jax.jit, static_argnums=0, static_argnames="mode")
def _apply(siren: Siren, batch: TokenBatch, transform_state=None, mode="token-mean") -> ObjectiveState:
  state = ObjectiveState.initial(batch, PPOClipParams(), mode)
  return siren.apply(batch, state, transform_state or siren.init_state(), None)


def _np_peak_mask(values, mask, q):
  out = np.zeros(values.shape, bool)
  for i in range(values.shape[0]):
    row = values[i][mask[i] > 0]
    if row.size:
      out[i] = (values[i] > np.quantile(row.astype(np.float64), q, method="linear")) & (mask[i] > 0)
  return out


def _np_hbar(values, selected):
  rows = [values[i][selected[i]].mean() if selected[i].any() else 0.0 for i in range(values.shape[0])]
  return float(np.mean(rows))


def test_peak_mask_matches_linear_quantile_with_strict_inequality():
  """Per-row linear quantile, strict >, ties at the threshold excluded, empty rows select nothing."""
  rng = np.random.default_rng(0)
  values = rng.exponential(size=(6, 9)).astype(np.float32)
  values[1, :4] = 0.5  # ties
  mask = (np.arange(9)[None] < np.array([9, 5, 1, 0, 3, 7])[:, None]).astype(np.float32)
  for q in (0.0, 0.5, 0.8, 1.0):
    got = np.asarray(_peak_entropy_mask(jnp.asarray(values), jnp.asarray(mask), q))
    np.testing.assert_array_equal(got, _np_peak_mask(values, mask, q))
  got = np.asarray(_peak_entropy_mask(jnp.asarray(values), jnp.asarray(mask), 0.8))
  assert not got[2].any() and not got[3].any()  # a single token is never above its own quantile


def test_peak_mask_all_zero_row_selects_nothing():
  """Rows whose top-p entropies are all 0 (top-1 prob >= p) have tau = 0 and no token > 0."""
  got = np.asarray(_peak_entropy_mask(jnp.asarray(TOPP), jnp.asarray(MASK), 0.8))
  assert not got[1].any()
  np.testing.assert_array_equal(got[0], [False, False, True, False, False])


def test_anchored_regularizer_value_and_gradient():
  """beta (Hbar - anchor)^2 with Hbar = seq-mean-token-mean over peak tokens (empty rows count as 0)."""
  siren = Siren(anchor=0.1, coef=0.5)
  selected = _np_peak_mask(TOPP, MASK, 0.8)
  hbar = _np_hbar(TOPP, selected)
  out = _apply(siren, _batch())
  assert float(out.extra_losses["siren"]) == pytest.approx(0.5 * (hbar - 0.1) ** 2, rel=1e-5)
  assert float(out.metrics["siren/entropy"]) == pytest.approx(hbar, rel=1e-5)

  def loss(topp):
    return _apply(siren, _batch(topp=topp)).extra_losses["siren"]

  grad = np.asarray(jax.jit(jax.grad(loss))(jnp.asarray(TOPP)))
  row_tokens = np.maximum(selected.sum(-1, keepdims=True), 1)
  expected = np.where(selected, 0.5 * 2 * (hbar - 0.1) / 4 / row_tokens, 0.0)  # 4 rows
  np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-8)


def test_anchor_is_captured_once_from_the_first_batch():
  """Unanchored: first loss is 0 (anchor = own aggregate); update freezes it; later batches use it."""
  objective = build_objective({"transforms": ("siren",), "siren": {"coef": 1.0}})
  objective_loss, update_state = jax.jit(objective.loss), jax.jit(objective.update_state)
  state = objective.init_state()
  loss0, metrics0 = objective_loss(_batch(), state)
  assert float(metrics0["loss/siren"]) == 0.0
  state = update_state(state, metrics0, PROGRESS)
  first = float(metrics0["siren/entropy"])
  assert float(state["siren"].anchor) == pytest.approx(first)
  assert bool(state["siren"].anchored)

  _, metrics1 = objective_loss(_batch(topp=TOPP * 2.0), state)
  assert float(metrics1["siren/anchor"]) == pytest.approx(first)
  assert float(metrics1["loss/siren"]) == pytest.approx((2 * first - first) ** 2, rel=1e-5)
  state2 = update_state(state, metrics1, PROGRESS)
  assert float(state2["siren"].anchor) == pytest.approx(first)  # not re-captured


def test_configured_anchor_is_used_from_the_first_step():
  """`anchor` given -> anchored from the start, never replaced by a batch aggregate."""
  siren = Siren(anchor=0.3)
  state = siren.init_state()
  assert bool(state.anchored) and float(state.anchor) == pytest.approx(0.3)
  updated = siren.update_state(state, {"siren/entropy": jnp.asarray(5.0)}, PROGRESS)
  assert float(updated.anchor) == pytest.approx(0.3)


def test_missing_entropy_metric_raises_instead_of_anchoring_at_zero():
  """The reference silently falls back to anchor 0 (entropy minimization); here it is an error."""
  with pytest.raises(ValueError, match="siren/entropy"):
    Siren().update_state(Siren().init_state(), {"loss/total": jnp.asarray(1.0)}, PROGRESS)


def test_micro_batch_scope_squares_each_group_and_weights_by_rows():
  """micro_batch: sum_g (rows_g / rows) (Hbar_g - anchor)^2, as per-micro-batch losses scaled by B_mb/B."""
  siren = Siren(anchor=0.2, coef=1.0, norm_scope="micro_batch")
  out = _apply(siren, _batch(norm_group=(0, 0, 1, 1), num_groups=2))
  selected = _np_peak_mask(TOPP, MASK, 0.8)
  h0, h1 = _np_hbar(TOPP[:2], selected[:2]), _np_hbar(TOPP[2:], selected[2:])
  expected = 0.5 * (h0 - 0.2) ** 2 + 0.5 * (h1 - 0.2) ** 2
  assert float(out.extra_losses["siren"]) == pytest.approx(expected, rel=1e-5)
  mini = _apply(Siren(anchor=0.2, coef=1.0), _batch(norm_group=(0, 0, 1, 1), num_groups=2))
  assert float(mini.extra_losses["siren"]) != pytest.approx(expected, rel=1e-3)


def test_ablation_variants_select_the_documented_entropy_and_mask():
  """wo_anchor maximizes; wo_topp masks/regularizes full H; token_first masks on full, regularizes top-p."""
  batch = _batch()
  anchor, coef = 0.1, 1.0
  peak_topp, peak_full = _np_peak_mask(TOPP, MASK, 0.8), _np_peak_mask(FULL, MASK, 0.8)
  all_tokens = MASK > 0
  cases = {
      "wo_anchor": -_np_hbar(TOPP, peak_topp),
      "wo_topp": (_np_hbar(FULL, peak_full) - anchor) ** 2,
      "token_first": (_np_hbar(TOPP, peak_full) - anchor) ** 2,
      "wo_token": (_np_hbar(TOPP, all_tokens) - anchor) ** 2,
      "only_anchor": (_np_hbar(FULL, all_tokens) - anchor) ** 2,
      "naive": -(FULL * MASK).sum() / MASK.sum(),  # policy's token-mean over all tokens
  }
  losses = jax.jit(lambda batch: {variant: _apply(Siren(variant=variant, anchor=anchor, coef=coef), batch)
                                   .extra_losses["siren"] for variant in cases})(batch)
  for variant, expected in cases.items():
    assert float(losses[variant]) == pytest.approx(expected, rel=1e-5), variant


def test_naive_adaptive_coefficient_moves_toward_the_anchor():
  """beta <- max(0, beta + lr (anchor - Hbar)): up when entropy is below the anchor, floored at 0."""
  siren = Siren(variant="naive_adaptive", coef=0.01, adaptive_lr=0.1, anchor=1.0)
  state = siren.init_state()
  up = siren.update_state(state, {"siren/entropy": jnp.asarray(0.5)}, PROGRESS)
  assert float(up.coef) == pytest.approx(0.01 + 0.1 * 0.5)
  down = siren.update_state(state, {"siren/entropy": jnp.asarray(2.0)}, PROGRESS)
  assert float(down.coef) == 0.0


def test_token_stats_request_and_required_inputs_follow_the_variant():
  """Top-p entropy (and its p, K) are requested only when the variant uses it."""
  assert Siren().token_stats_request() == {"top_p": 0.8, "top_k": 10000}
  assert Siren().required_inputs() == {"topp_entropy"}
  assert Siren(variant="token_first").required_inputs() == {"topp_entropy", "entropy"}
  assert Siren(variant="only_anchor").token_stats_request() == {}


def test_global_sequence_count_makes_micro_batch_calls_additive():
  """With global_sequences, two half-batch calls sum to the whole micro_batch-scoped regularizer."""
  siren = Siren(anchor=0.2, coef=1.0, norm_scope="micro_batch")
  whole = _apply(siren, _batch(norm_group=(0, 0, 1, 1), num_groups=2)).extra_losses["siren"]
  halves = []
  for rows in (slice(0, 2), slice(2, 4)):
    zeros = jnp.zeros(MASK[rows].shape)
    half = TokenBatch.create(response_mask=jnp.asarray(MASK[rows]), advantages=zeros, logp=zeros,
                             old_logp=zeros, topp_entropy=jnp.asarray(TOPP[rows]),
                             global_sequences=jnp.asarray(4.0))
    out = _apply(siren, half)
    halves.append(out.extra_losses["siren"])
    # The logged entropy stays this call's own mean (used for anchoring), not a partial sum.
    selected = _np_peak_mask(TOPP[rows], MASK[rows], 0.8)
    assert float(out.metrics["siren/entropy"]) == pytest.approx(_np_hbar(TOPP[rows], selected), rel=1e-5)
  assert float(sum(halves)) == pytest.approx(float(whole), rel=1e-5)
