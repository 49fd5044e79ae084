"""Loss aggregation modes against hand-computed numpy references (algorithms.md §1.4)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives._aggregation import AGGREGATION_MODES, aggregate, normalizer_counts

# Rows: full, partial, all-masked, single token.
VALUES = np.array([[1.0, 2.0, 3.0, 4.0],
                   [5.0, 6.0, 7.0, 8.0],
                   [9.0, 9.0, 9.0, 9.0],
                   [-2.0, 0.0, 0.0, 0.0]], np.float32)
MASK = np.array([[1, 1, 1, 1],
                 [1, 1, 0, 0],
                 [0, 0, 0, 0],
                 [1, 0, 0, 0]], np.float32)


def _agg(mode: str, **kwargs) -> float:
  return float(aggregate(jnp.asarray(VALUES), jnp.asarray(MASK), mode, **kwargs))


def test_token_mean_legacy_denominator():
  """token-mean = masked sum / (token count + 1e-8)."""
  expected = (1 + 2 + 3 + 4 + 5 + 6 - 2) / (7 + 1e-8)
  np.testing.assert_allclose(_agg("token-mean"), expected, rtol=1e-6)


def test_seq_mean_token_sum_counts_empty_rows_by_default():
  """seq-mean-token-sum averages row sums over all 4 rows ("zero") or the 3 non-empty ones ("exclude")."""
  row_sums = [10.0, 11.0, 0.0, -2.0]
  np.testing.assert_allclose(_agg("seq-mean-token-sum"), sum(row_sums) / 4, rtol=1e-6)
  np.testing.assert_allclose(_agg("seq-mean-token-sum", empty_rows="exclude"), sum(row_sums) / 3, rtol=1e-6)


def test_seq_mean_token_mean_empty_row_is_zero_not_nan():
  """An all-masked row contributes 0 (SIREN) and counts ("zero") or is dropped ("exclude")."""
  row_means = [2.5, 5.5, 0.0, -2.0]
  zero = _agg("seq-mean-token-mean")
  assert np.isfinite(zero)
  np.testing.assert_allclose(zero, sum(row_means) / 4, rtol=1e-6)
  np.testing.assert_allclose(_agg("seq-mean-token-mean", empty_rows="exclude"), sum(row_means) / 3, rtol=1e-6)


def test_seq_mean_token_sum_norm_sum_vs_mean_rows():
  """verl legacy sums rows / T_pad; SIREN's copy means rows / T_pad; norm_constant replaces T_pad."""
  total = 10.0 + 11.0 + 0.0 - 2.0
  np.testing.assert_allclose(_agg("seq-mean-token-sum-norm"), total / 4, rtol=1e-6)  # T_pad = 4
  np.testing.assert_allclose(_agg("seq-mean-token-sum-norm", token_sum_norm_rows="mean"), total / 4 / 4,
                             rtol=1e-6)
  np.testing.assert_allclose(_agg("seq-mean-token-sum-norm", norm_constant=3072.0), total / 3072, rtol=1e-6)


def test_masked_nan_does_not_leak():
  """A NaN or inf in a masked position leaves every mode finite and unchanged."""
  poisoned = VALUES.copy()
  poisoned[2, :] = np.nan
  poisoned[1, 3] = np.inf
  for mode in AGGREGATION_MODES:
    got = float(aggregate(jnp.asarray(poisoned), jnp.asarray(MASK), mode))
    np.testing.assert_allclose(got, _agg(mode), rtol=1e-6, err_msg=mode)


def test_all_masked_batch_is_zero():
  """A micro-batch with no valid token aggregates to 0 in every mode, never NaN."""
  empty = jnp.zeros_like(jnp.asarray(MASK))
  for mode in AGGREGATION_MODES:
    for empty_rows in ("zero", "exclude"):
      assert float(aggregate(jnp.asarray(VALUES), empty, mode, empty_rows=empty_rows)) == 0.0


@pytest.mark.parametrize("mode", AGGREGATION_MODES)
@pytest.mark.parametrize("empty_rows", ["zero", "exclude"])
@pytest.mark.parametrize("token_sum_norm_rows", ["sum", "mean"])
def test_micro_batch_invariance_with_global_counts(mode, empty_rows, token_sum_norm_rows):
  """Splitting the batch in two micro-batches and passing mini-batch counts: the results sum to the whole."""
  rng = np.random.default_rng(0)
  values = rng.normal(size=(6, 5)).astype(np.float32)
  mask = (rng.random((6, 5)) < 0.6).astype(np.float32)
  mask[3] = 0.0  # one all-masked row
  tokens, sequences = normalizer_counts(jnp.asarray(mask), empty_rows=empty_rows)
  kwargs = dict(global_tokens=tokens, global_sequences=sequences, empty_rows=empty_rows,
                token_sum_norm_rows=token_sum_norm_rows)
  whole = float(aggregate(jnp.asarray(values), jnp.asarray(mask), mode, **kwargs))
  parts = sum(float(aggregate(jnp.asarray(values[s]), jnp.asarray(mask[s]), mode, **kwargs))
              for s in (slice(0, 2), slice(2, 6)))
  np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-6)
  # The global-count result of the whole batch equals the local-count result.
  local = float(aggregate(jnp.asarray(values), jnp.asarray(mask), mode, empty_rows=empty_rows,
                          token_sum_norm_rows=token_sum_norm_rows))
  np.testing.assert_allclose(whole, local, rtol=1e-5, atol=1e-6)


def test_local_counts_are_not_micro_batch_invariant():
  """Without global counts token-mean of unequal micro-batches differs from the whole (why the option exists)."""
  values = jnp.asarray(VALUES)
  mask = jnp.asarray(MASK)
  whole = float(aggregate(values, mask, "token-mean"))
  halves = 0.5 * (float(aggregate(values[:1], mask[:1], "token-mean")) +
                  float(aggregate(values[1:], mask[1:], "token-mean")))
  assert abs(whole - halves) > 1e-3


def test_bfloat16_values_reduce_in_float32():
  """bfloat16 inputs give a float32 result."""
  out = aggregate(jnp.asarray(VALUES, jnp.bfloat16), jnp.asarray(MASK), "token-mean")
  assert out.dtype == jnp.float32


def test_bad_options_raise_naming_the_value():
  """Unknown mode / empty_rows / row reduction, bad norm_constant, negative counts, shapes raise ValueError."""
  values, mask = jnp.asarray(VALUES), jnp.asarray(MASK)
  with pytest.raises(ValueError, match="token-sum"):
    aggregate(values, mask, "token-sum")
  with pytest.raises(ValueError, match="empty_rows='drop'"):
    aggregate(values, mask, "seq-mean-token-mean", empty_rows="drop")
  with pytest.raises(ValueError, match="token_sum_norm_rows='avg'"):
    aggregate(values, mask, "seq-mean-token-sum-norm", token_sum_norm_rows="avg")
  with pytest.raises(ValueError, match="norm_constant"):
    aggregate(values, mask, "seq-mean-token-sum-norm", norm_constant=0.0)
  with pytest.raises(ValueError, match="global_tokens"):
    aggregate(values, mask, "token-mean", global_tokens=-1)
  with pytest.raises(ValueError, match="must both be"):
    aggregate(values, mask[:, :2], "token-mean")
