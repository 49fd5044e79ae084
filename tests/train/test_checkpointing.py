"""orbax run checkpoints: the whole train state and the data iterator state round-trip exactly."""

import jax
import jax.numpy as jnp
import numpy as np

from rlvr_jax import models, sharding
from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._presets import method_preset
from rlvr_jax.train._checkpointing import CheckpointConfig, RunCheckpoints
from rlvr_jax.train._optimizer import OptimConfig, make_optimizer
from rlvr_jax.train._state import create_train_state


def _state(seed, mesh=None):
  config = models.preset("tiny", num_layers=1, vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_heads=4, num_kv_heads=2, head_dim=8)
  model = models.init(config, key=jax.random.key(seed), dtype=jnp.float32, mesh=mesh)
  objective = build_objective(method_preset("siren"))
  return create_train_state(model, make_optimizer(OptimConfig()), objective.init_state(), seed=seed)[1]


def test_train_state_and_data_state_round_trip(tmp_path):
  """Save at step 3, restore into a differently initialized state: every leaf and the data state equal."""
  mesh = sharding.make_mesh(sharding.MeshConfig(data=1, fsdp=4, tensor=2))
  saved = _state(0, mesh)
  saved = saved.replace(step=jnp.asarray(3, jnp.int32),
                        objective_state=jax.tree.map(lambda x: x + 1, saved.objective_state))
  data_state = {"version": 1, "grain": {"next_index": 48}, "fingerprint": {"seed": 0}}
  checkpoints = RunCheckpoints(str(tmp_path), CheckpointConfig(every=1, keep=2))
  checkpoints.save(3, saved, data_state, force=True)
  checkpoints.wait()
  assert checkpoints.latest_step() == 3

  target = _state(1, mesh)
  restored, restored_data = checkpoints.restore(3, target)
  checkpoints.close()
  assert restored_data == data_state
  for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(saved)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  embed = restored.params["embed"][...]
  assert embed.sharding.spec == saved.params["embed"][...].sharding.spec


def test_keeps_only_the_newest_checkpoints(tmp_path):
  checkpoints = RunCheckpoints(str(tmp_path), CheckpointConfig(every=1, keep=2))
  state = _state(0)
  for step in (1, 2, 3):
    checkpoints.save(step, state, {"step": step}, force=True)
  checkpoints.wait()
  assert checkpoints._manager.all_steps() == [2, 3]
  checkpoints.close()
