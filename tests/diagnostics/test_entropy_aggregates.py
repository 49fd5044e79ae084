"""Full / top-p / peak-masked batch entropy against a direct numpy computation from the definitions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.diagnostics import entropy_aggregates
from rlvr_jax.objectives._token_stats import statistics_from_logits
from tests.diagnostics import reference


def test_aggregates_match_numpy_on_a_tiny_batch():
  rng = np.random.default_rng(0)
  # Logit scales from flat to peaked, so some positions have H_p = 0 (top-1 mass >= p) and some rows
  # have no peak token at all.
  logits = rng.normal(size=(4, 6, 12)) * rng.uniform(0.2, 6.0, size=(4, 6, 1))
  mask = np.ones((4, 6), np.float32)
  mask[1, 4:] = 0
  mask[3, 1:] = 0  # a single-token row: nothing is strictly above its own quantile
  stats = statistics_from_logits(jnp.asarray(logits, jnp.float32), jnp.zeros((4, 6), jnp.int32), top_p=0.8)
  out = jax.jit(lambda *a: entropy_aggregates(*a, mask_ratio=0.8))(stats.entropy, stats.topp_entropy,
                                                                    jnp.asarray(mask))
  expected = reference.aggregates(logits, mask, top_p=0.8, mask_ratio=0.8)
  assert set(out) == set(expected)
  for name, value in expected.items():
    assert float(out[name]) == pytest.approx(value, abs=1e-5), name
  # The three entropies really differ here, so a mix-up between them would fail.
  assert expected["diag/entropy/full"] > expected["diag/entropy/top_p"] + 0.1
  assert expected["diag/entropy/peak_masked"] > expected["diag/entropy/top_p"] + 0.1


def test_rejects_bad_mask_ratio():
  with pytest.raises(ValueError, match="mask_ratio"):
    entropy_aggregates(jnp.zeros((1, 2)), jnp.zeros((1, 2)), jnp.ones((1, 2)), mask_ratio=1.5)
