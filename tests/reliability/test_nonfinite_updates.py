"""A non-finite loss or gradient skips the update; too many in a row stop the run with a checkpoint.

NaN is injected deterministically: the rollout's advantages are multiplied by NaN at chosen steps
(`collect_rollout` wrapped in the loop's namespace), so the loss and every gradient are NaN there. A
huge learning rate would not reliably produce one.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from rlvr_jax.config import validate
from rlvr_jax.train import _loop as loop
from tests.reliability.launcher_runs import metrics_rows, shared_cache_dir
from tests.train.conftest import small_config


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch):
  path = shared_cache_dir(tmp_path_factory)
  monkeypatch.setenv("RLVR_JAX_CACHE", path)
  return path


def _poison_steps(monkeypatch, steps: set[int]) -> None:
  """Makes the advantages of these (1-based) rollout steps NaN."""
  collect = loop.collect_rollout
  calls = []

  def poisoned(**kwargs):
    batch, metrics, outcomes = collect(**kwargs)
    calls.append(None)
    if len(calls) in steps:
      batch = batch.replace(advantages=batch.advantages * jnp.nan)
    return batch, metrics, outcomes

  monkeypatch.setattr(loop, "collect_rollout", poisoned)


def _checkpoint(run_dir, step: int) -> dict:
  """Checkpoint `step`'s train state as a tree of numpy arrays."""
  manager = ocp.CheckpointManager(os.path.join(run_dir, "checkpoints"), item_names=("state", "data"))
  try:
    restored = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))
  finally:
    manager.close()
  return jax.tree.map(np.asarray, restored.state)


def _assert_trees_equal(a, b, what: str):
  leaves_a, leaves_b = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
  assert [p for p, _ in leaves_a] == [p for p, _ in leaves_b]
  for (path, x), (_, y) in zip(leaves_a, leaves_b):
    np.testing.assert_array_equal(x, y, err_msg=f"{what}{jax.tree_util.keystr(path)}")


def test_skipped_step_leaves_parameters_optimizer_and_transform_states_unchanged(tmp_path, capsys, monkeypatch):
  """Step 2's two updates are NaN: checkpoint 2 holds checkpoint 1's parameters, Adam moments and count,
  and Positive-Advantage lambda (which otherwise moves every step); the skips are counted and logged;
  step 3 updates again and resets the streak."""
  _poison_steps(monkeypatch, {2})
  run_dir = tmp_path / "run"
  spec = validate(small_config("pos_adv_reweight", run_dir, train__steps=3, checkpoint__keep=3), num_devices=1)
  result = loop.train(spec, devices=jax.devices()[:1])
  assert result.steps_done == 3
  one, two, three = (_checkpoint(run_dir, s) for s in (1, 2, 3))
  _assert_trees_equal(one["params"], two["params"], "params")
  _assert_trees_equal(one["opt_state"]["inner_state"], two["opt_state"]["inner_state"], "opt_state.inner_state")
  _assert_trees_equal(one["objective_state"], two["objective_state"], "objective_state")
  assert int(two["opt_state"]["notfinite_count"]) == 2 and int(two["opt_state"]["total_notfinite"]) == 2
  assert int(three["opt_state"]["notfinite_count"]) == 0 and int(three["opt_state"]["total_notfinite"]) == 2
  assert any(not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(two["params"]), jax.tree.leaves(three["params"])))
  lambdas = [float(c["objective_state"]["pos_adv_reweight"]["positive_weight"]) for c in (one, two, three)]
  assert lambdas[0] == lambdas[1] != lambdas[2]

  rows = {r["step"]: r for r in metrics_rows(run_dir)}
  assert rows[2]["actor/update_skipped"] == 1.0 and rows[2]["actor/loss"] is None  # NaN is logged as null
  assert rows[2]["actor/consecutive_skips"] == 2.0 and rows[2]["actor/skipped_total"] == 2.0
  assert rows[3]["actor/update_skipped"] == 0.0 and rows[3]["actor/consecutive_skips"] == 0.0
  assert rows[3]["actor/skipped_total"] == 2.0 and np.isfinite(rows[3]["actor/loss"])
  assert ("step 2: 2 of 2 optimizer update(s) skipped (non-finite loss or gradient); 2 consecutive, 2 in the run"
          in capsys.readouterr().out)


def test_consecutive_skips_stop_the_run_with_a_checkpoint(tmp_path, monkeypatch):
  """From step 2 on every update is NaN; with optim.max_consecutive_skips=3 and one update per step the
  third skip (step 4) writes a checkpoint and raises TrainingStopped, whose message names the field;
  the checkpoint holds the parameters of step 1, the last finite update."""
  _poison_steps(monkeypatch, {2, 3, 4, 5, 6})
  run_dir = tmp_path / "run"
  spec = validate(small_config("siren", run_dir, train__steps=6, train__mini_batches=1, checkpoint__keep=3,
                               optim__max_consecutive_skips=3), num_devices=1)
  with pytest.raises(loop.TrainingStopped, match=r"training stopped at step 4: 3 consecutive optimizer updates had "
                     r"a non-finite loss or gradient \(optim\.max_consecutive_skips=3\).*checkpointed as step 4"):
    loop.train(spec, devices=jax.devices()[:1])
  assert sorted(int(s) for s in os.listdir(run_dir / "checkpoints")) == [2, 3, 4]  # checkpoint.keep=3
  _assert_trees_equal(_checkpoint(run_dir, 2)["params"], _checkpoint(run_dir, 4)["params"], "params")
  assert [r["step"] for r in metrics_rows(run_dir)] == [1, 2, 3, 4]
  assert not (run_dir / "hf" / "final").exists()


def test_a_run_whose_every_update_was_skipped_does_not_export(tmp_path, monkeypatch):
  """Every update non-finite but fewer in a row than optim.max_consecutive_skips: the run reaches its last
  step with the starting parameters. It checkpoints, but stops with TrainingStopped instead of exporting
  them as hf/final (the launcher's exit code 3)."""
  _poison_steps(monkeypatch, {1, 2, 3})
  run_dir = tmp_path / "run"
  spec = validate(small_config("siren", run_dir, train__steps=3, optim__max_consecutive_skips=100, checkpoint__keep=3),
                  num_devices=1)
  with pytest.raises(loop.TrainingStopped, match=r"training stopped at step 3: all 6 optimizer updates of the run had "
                     r"a non-finite loss or gradient, so the parameters are the starting ones and hf/final is not "
                     r"written"):
    loop.train(spec, devices=jax.devices()[:1])
  assert not (run_dir / "hf" / "final").exists() and not (run_dir / "hf" / "final.partial").exists()
  assert sorted(int(s) for s in os.listdir(run_dir / "checkpoints")) == [1, 2, 3]
