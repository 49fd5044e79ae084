"""train.shared_prompt_forward: each group's prompt runs once and its samples attend to the cached prompt.

The same function as the whole-sequence forward: token statistics, gradients, scoring and the update
step (micro-batched included) agree with the per-row path to float32 rounding, and a training step gives
the per-row step's metrics and parameters, on one device and on an eight-device mesh.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rlvr_jax import models
from rlvr_jax.config import ConfigError, validate
from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._completion_stats import completion_statistics
from rlvr_jax.objectives._presets import method_preset
from rlvr_jax.objectives._rollout_batch import RolloutBatch
from rlvr_jax.train._loop import train
from rlvr_jax.train._row_chunks import merge_strided, split_strided
from rlvr_jax.train._scoring import make_scoring_fn
from rlvr_jax.train._state import create_train_state
from rlvr_jax.train._update import UpdateConfig, make_update_step
from tests.train.conftest import small_config
from tests.train.test_end_to_end import _final_params

GROUPS, GROUP_SIZE, PROMPT, RESPONSE = 3, 4, 6, 5
ROWS = GROUPS * GROUP_SIZE


def _model(scan_layers: bool = False):
  config = models.preset("tiny", num_layers=2, vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_heads=4, num_kv_heads=2, head_dim=8)
  return models.init(config, key=jax.random.key(0), dtype=jnp.float32, scan_layers=scan_layers)


def _grouped_batch(seed: int = 0) -> dict[str, np.ndarray]:
  """ROWS rows in GROUPS groups of GROUP_SIZE samples of one left-padded prompt; some responses end early."""
  rng = np.random.default_rng(seed)
  prompt_mask = np.ones((GROUPS, PROMPT), np.int32)
  prompt_mask[0, :2] = 0
  prompt_mask[2, :1] = 0
  response_mask = np.ones((ROWS, RESPONSE), np.float32)
  response_mask[1::3, 2:] = 0
  response_mask[5, 1:] = 0
  return dict(prompt_ids=np.repeat(rng.integers(0, 64, (GROUPS, PROMPT)), GROUP_SIZE, 0).astype(np.int32),
              prompt_mask=np.repeat(prompt_mask, GROUP_SIZE, 0),
              completion_ids=rng.integers(0, 64, (ROWS, RESPONSE)).astype(np.int32), response_mask=response_mask)


def test_split_strided_keeps_groups_whole_and_merge_inverts_it():
  rows = np.arange(24)
  split = np.asarray(split_strided(jnp.asarray(rows), 2, group_size=4))
  np.testing.assert_array_equal(split, [[0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19],
                                        [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23]])
  np.testing.assert_array_equal(np.asarray(split_strided(jnp.asarray(rows), 3)), rows.reshape(8, 3).T)
  for group in (1, 2, 4):
    np.testing.assert_array_equal(np.asarray(merge_strided(split_strided(jnp.asarray(rows), 2, group), group)), rows)


@pytest.mark.parametrize("scan_layers,remat", [(False, False), (True, True)])
def test_statistics_and_gradients_match_the_whole_sequence_forward(scan_layers, remat):
  graphdef, params = nnx.split(_model(scan_layers), nnx.Param)
  batch = _grouped_batch()
  mask = batch["response_mask"]

  def loss(params, group_size):
    stats = completion_statistics(nnx.merge(graphdef, params), batch["prompt_ids"], batch["prompt_mask"],
                                  batch["completion_ids"], mask, temperature=0.7, chunk_size=16, remat=remat,
                                  prompt_group_size=group_size, with_entropy=True)
    return jnp.sum((stats.logp + 0.3 * stats.entropy) * mask), stats

  # Jitted: run op by op, the chunked forward and its gradient compiled ~500 small programs (minutes).
  loss_and_grad = jax.jit(jax.value_and_grad(loss, has_aux=True), static_argnums=1)
  (loss_rows, rows), grads_rows = loss_and_grad(params, 1)
  (loss_groups, groups), grads_groups = loss_and_grad(params, GROUP_SIZE)
  real = mask > 0
  np.testing.assert_allclose(np.asarray(groups.logp)[real], np.asarray(rows.logp)[real], atol=2e-5)
  np.testing.assert_allclose(np.asarray(groups.entropy)[real], np.asarray(rows.entropy)[real], atol=2e-5)
  assert float(loss_groups) == pytest.approx(float(loss_rows), rel=1e-5)
  for a, b in zip(jax.tree.leaves(grads_groups), jax.tree.leaves(grads_rows)):
    assert float(jnp.abs(b).max()) > 0
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5 * float(jnp.abs(b).max()) + 1e-7)


def test_rows_must_split_into_groups():
  model = _model()
  batch = _grouped_batch()
  with pytest.raises(ValueError, match="prompt_group_size=5"):
    completion_statistics(model, batch["prompt_ids"], batch["prompt_mask"], batch["completion_ids"],
                          batch["response_mask"], temperature=1.0, chunk_size=16, prompt_group_size=5)


def test_scoring_pass_matches_per_row_scoring():
  graphdef, params = nnx.split(_model(), nnx.Param)
  batch = _grouped_batch(1)
  inputs = (batch["prompt_ids"], batch["prompt_mask"], batch["completion_ids"], batch["response_mask"])
  per_row = make_scoring_fn(graphdef, temperature=1.0, chunk_size=16, with_entropy=True, rows_per_chunk=4)
  grouped = make_scoring_fn(graphdef, temperature=1.0, chunk_size=16, with_entropy=True, rows_per_chunk=4,
                            with_sum_pi_squared=True, prompt_group_size=GROUP_SIZE)
  logp, entropy = per_row(params, *inputs)
  logp_g, entropy_g, sum_pi_squared = grouped(params, *inputs)
  real = batch["response_mask"] > 0
  np.testing.assert_allclose(np.asarray(logp_g)[real], np.asarray(logp)[real], atol=2e-5)
  np.testing.assert_allclose(np.asarray(entropy_g)[real], np.asarray(entropy)[real], atol=2e-5)
  assert np.all((np.asarray(sum_pi_squared) > 0) & (np.asarray(sum_pi_squared) <= 1))


@pytest.mark.parametrize("method", ["steer", "siren"])
def test_update_step_matches_per_row_update(method):
  """One SGD step (the update is exactly -gradient) with the prompt once per group, whole or in two
  micro-batches of whole groups, equals the per-row step."""
  batch = _grouped_batch(2)
  objective_config = method_preset(method)
  if method == "siren":
    objective_config["siren"]["anchor"], objective_config["siren"]["top_p"] = 0.5, 0.95
  objective = build_objective(objective_config)
  rng = np.random.default_rng(3)
  advantages = np.repeat(rng.normal(size=(ROWS, 1)), RESPONSE, 1).astype(np.float32) * batch["response_mask"]
  results = []
  for group_size, micro_batches in ((1, 1), (GROUP_SIZE, 1), (GROUP_SIZE, GROUPS)):
    sgd = optax.apply_if_finite(optax.sgd(1.0), 10)
    graphdef, state = create_train_state(_model(), sgd, objective.init_state(), seed=0)
    score = make_scoring_fn(graphdef, temperature=1.0, chunk_size=16, with_entropy=True, rows_per_chunk=ROWS)
    old_logp, old_entropy = score(state.params, *(batch[k] for k in ("prompt_ids", "prompt_mask", "completion_ids",
                                                                     "response_mask")))
    rollout = RolloutBatch(**{k: jnp.asarray(v) for k, v in batch.items()}, advantages=jnp.asarray(advantages),
                           old_logp=old_logp - 0.05 * jnp.asarray(advantages), old_entropy=old_entropy)
    config = UpdateConfig(micro_batches=micro_batches, chunk_size=16, prompt_group_size=group_size)
    new_state, metrics = jax.jit(make_update_step(graphdef, objective, sgd, config))(state, rollout,
                                                                                     jax.random.key(1))
    results.append((float(metrics["actor/loss"]), float(metrics["actor/grad_norm"]), new_state.params))
  loss_rows, norm_rows, params_rows = results[0]
  assert norm_rows > 0
  for loss, norm, params in results[1:]:
    assert loss == pytest.approx(loss_rows, rel=1e-5, abs=1e-7)
    assert norm == pytest.approx(norm_rows, rel=1e-4)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(params_rows)):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-6)


def test_micro_batches_must_hold_whole_groups(tmp_path):
  with pytest.raises(ConfigError, match=r"train.shared_prompt_forward=True needs micro-batches of whole groups.*"
                                        r"train.micro_batches=4"):
    validate(small_config("grpo", tmp_path, train__shared_prompt_forward=True, train__micro_batches=4),
             num_devices=1)


def test_training_step_matches_per_row_step_on_one_and_eight_devices(tmp_path):
  """One training step (rollout, scoring, two mini-batches of updates) with the shared prompt forward on
  one device and on a (2, 2, 2) mesh (two groups per mini-batch over four data-parallel devices) gives
  the per-row step's metrics and parameters."""
  per_row = train(validate(small_config("steer", tmp_path / "rows", train__steps=1), num_devices=1),
                  devices=jax.devices()[:1])
  one = train(validate(small_config("steer", tmp_path / "one", train__steps=1, train__shared_prompt_forward=True),
                       num_devices=1), devices=jax.devices()[:1])
  eight_config = small_config("steer", tmp_path / "eight", train__steps=1, train__shared_prompt_forward=True)
  eight_config.unlock()
  eight_config.mesh.data, eight_config.mesh.fsdp, eight_config.mesh.tensor = 2, 2, 2
  eight = train(validate(eight_config))
  _, params_rows = _final_params(str(tmp_path / "rows"))
  for run, name in ((one, "one"), (eight, "eight")):
    for key in ("reward/mean", "actor/loss", "actor/grad_norm", "actor/logp_mean"):
      assert run.last_metrics[key] == pytest.approx(per_row.last_metrics[key], rel=1e-4, abs=1e-6), (name, key)
    _, params = _final_params(str(tmp_path / name))
    # Adam divides by sqrt(v): in entries whose gradient is ~0 a rounding difference becomes a visible
    # fraction of the step, hence a looser bound than the metrics'.
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(params_rows)):
      np.testing.assert_allclose(a, b, atol=1e-5)
