"""The entropy-change probe on a tiny policy and one real SGD training step.

What the numbers say on this policy (see conftest): with every state distinct, the exact tabular
first-order change (all vocabulary terms) tracks the measured change with r > 0.99 and slope g^2 D,
the LM head's per-state kernel, which pins the probe's step scale eta / L. STEER's estimate keeps only
the sampled token's term; it still correlates clearly (r ~ 0.8 for the theorem form). Repeated states
would lower all of this: a state updated by several tokens moves by their sum, which no per-token
estimate sees (the conftest draws distinct tokens for that reason).
"""

import math
import os

import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.diagnostics import NPZ_ARRAYS, EntropyChangeProbe, first_order_step_scale, pearson
from rlvr_jax.objectives._entropy_change import tabular_first_order_entropy_change
from tests.diagnostics.conftest import GAIN, HIDDEN, LEARNING_RATE


@pytest.fixture(scope="module")
def probed(tiny_rollout, sgd_update, tmp_path_factory):
  out_dir = str(tmp_path_factory.mktemp("diagnostics"))
  probe = EntropyChangeProbe(tiny_rollout.scoring_fn, every=2, out_dir=out_dir)
  record = probe.before(tiny_rollout.params, tiny_rollout.batch, 4, learning_rate=LEARNING_RATE)
  measurement = probe.measure(sgd_update.params, record)
  return probe, record, measurement, probe.report(record, measurement)


def test_prediction_correlates_with_the_measured_change(probed):
  _, _, _, metrics = probed
  assert all(math.isfinite(v) for v in metrics.values()), metrics
  assert metrics["diag/entropy_change/theorem/pearson"] > 0.5
  assert metrics["diag/entropy_change/theorem/spearman"] > 0.5
  # The code form is the theorem form divided by pi: same signs, low-probability tokens magnified.
  assert metrics["diag/entropy_change/code/pearson"] > 0.0
  assert metrics["diag/entropy_change/code/spearman"] > 0.5


def test_step_scale_is_eta_over_tokens(tiny_rollout, probed):
  """Regressing the measured change on the exact tabular first-order change with c = step_scale r A
  gives r > 0.98 and slope |h|^2 = g^2 D (RMSNorm output): a wrong step scale moves the slope."""
  probe, record, measurement, metrics = probed
  valid = np.asarray(tiny_rollout.batch.response_mask) > 0
  tokens = int(valid.sum())
  assert record.step_scale == pytest.approx(LEARNING_RATE / tokens)
  assert metrics["diag/entropy_change/step_scale"] == record.step_scale
  exact = np.asarray(tabular_first_order_entropy_change(
      jnp.asarray(tiny_rollout.full_logits), tiny_rollout.batch.completion_ids,
      record.step_scale * tiny_rollout.batch.advantages))[valid]
  actual = np.asarray(measurement.actual)[valid]
  assert pearson(exact, actual) > 0.98
  slope = np.polyfit(exact, actual, 1)[0]
  assert slope == pytest.approx(GAIN ** 2 * HIDDEN, rel=0.2)


def test_npz_dump_holds_the_documented_arrays(tiny_rollout, probed):
  probe, record, _, metrics = probed
  assert os.listdir(probe.out_dir) == ["entropy_change_step_4.npz"]  # no temporary file left behind
  dump = np.load(probe.dump_path(4))
  assert set(dump.files) == set(NPZ_ARRAYS)
  valid = np.asarray(tiny_rollout.batch.response_mask) > 0
  for name in NPZ_ARRAYS:
    assert dump[name].shape == (valid.sum(),) and dump[name].dtype == np.float32, name
  np.testing.assert_allclose(dump["advantage"], np.asarray(tiny_rollout.batch.advantages)[valid])
  np.testing.assert_allclose(dump["prob"], np.exp(np.asarray(tiny_rollout.batch.old_logp))[valid], rtol=1e-5)
  np.testing.assert_allclose(dump["entropy"], np.asarray(tiny_rollout.batch.old_entropy)[valid], rtol=1e-5)
  assert pearson(dump["predicted_theorem"], dump["actual"]) == pytest.approx(
      metrics["diag/entropy_change/theorem/pearson"])
  assert float(dump["actual"].mean()) == pytest.approx(metrics["diag/entropy_change/actual_mean"])


def test_cadence_unchanged_parameters_and_probe_rows(tiny_rollout, tmp_path):
  probe = EntropyChangeProbe(tiny_rollout.scoring_fn, every=2, out_dir=str(tmp_path), probe_rows=4)
  assert probe.before(tiny_rollout.params, tiny_rollout.batch, 3, learning_rate=LEARNING_RATE) is None
  record = probe.before(tiny_rollout.params, tiny_rollout.batch, 2, learning_rate=LEARNING_RATE)
  assert record.rows.num_rows == 4
  metrics = probe.after(tiny_rollout.params, record)  # nothing changed: the change is exactly 0
  assert metrics["diag/entropy_change/actual_mean"] == 0.0
  assert math.isnan(metrics["diag/entropy_change/theorem/pearson"])  # a constant has no correlation
  assert metrics["diag/entropy_change/tokens"] == float(np.asarray(tiny_rollout.batch.response_mask)[:4].sum())
  with pytest.raises(ValueError, match="probe_rows=99"):
    EntropyChangeProbe(tiny_rollout.scoring_fn, every=1, out_dir=str(tmp_path), probe_rows=99).before(
        tiny_rollout.params, tiny_rollout.batch, 1, learning_rate=LEARNING_RATE)


def test_first_order_step_scale():
  assert first_order_step_scale(1e-3, 400, mini_batches=4, ppo_epochs=2) == pytest.approx(1e-3 * 2 / 100)
  with pytest.raises(ValueError, match="learning_rate"):
    first_order_step_scale(0.0, 10)
  with pytest.raises(ValueError, match="loss_tokens"):
    first_order_step_scale(1e-3, 0)
