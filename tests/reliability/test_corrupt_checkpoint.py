"""A committed checkpoint that cannot be read raises CheckpointError naming its directory and the way out;
it never falls back silently to an older step."""

import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.train._checkpointing import CheckpointConfig, CheckpointError, RunCheckpoints


def _state(scale: float) -> dict:
  return {"w": jnp.arange(512, dtype=jnp.float32) * scale, "b": jnp.full((3,), scale), "step": jnp.asarray(1)}


@pytest.fixture
def run_dir(tmp_path):
  """A run directory with committed checkpoints at steps 1 and 2."""
  checkpoints = RunCheckpoints(str(tmp_path), CheckpointConfig(every=1, keep=3))
  checkpoints.save(1, _state(1.0), {"step": 1}, force=True)
  checkpoints.save(2, _state(2.0), {"step": 2}, force=True)
  checkpoints.close()
  return str(tmp_path)


def _step_dir(run_dir: str, step: int) -> str:
  return os.path.join(run_dir, "checkpoints", str(step))


def _array_files(step_dir: str) -> list[str]:
  """The chunk files of the 'state' item (the OCDBT data files under a 'd' directory)."""
  return [os.path.join(root, name) for root, _, files in os.walk(os.path.join(step_dir, "state"))
          if os.path.basename(root) == "d" for name in files]


def _expect_error(call, run_dir: str, step: int, reason: str, then: str = "resume from step 1"):
  with pytest.raises(CheckpointError) as info:
    call()
  message = str(info.value)
  assert f"checkpoint {_step_dir(run_dir, step)} cannot be restored" in message, message
  assert reason in message and then in message, message


def test_missing_item_fails_the_cheap_check(run_dir):
  shutil.rmtree(os.path.join(_step_dir(run_dir, 2), "state"))
  checkpoints = RunCheckpoints(run_dir, CheckpointConfig())
  assert checkpoints.latest_step() == 2  # the damaged step is still the latest: no silent fallback
  _expect_error(lambda: checkpoints.check(2), run_dir, 2, "item(s) ['state'] missing")
  _expect_error(lambda: checkpoints.restore(2, _state(0.0)), run_dir, 2, "Item \"state\" was not found")


def test_damaged_data_state_fails_the_cheap_check(run_dir):
  with open(os.path.join(_step_dir(run_dir, 2), "data", "metadata"), "w") as f:
    f.write("{half a JSON obj")
  checkpoints = RunCheckpoints(run_dir, CheckpointConfig())
  _expect_error(lambda: checkpoints.check(2), run_dir, 2, "JSONDecodeError")


def test_truncated_array_file_fails_the_restore(run_dir):
  files = _array_files(_step_dir(run_dir, 2))
  assert files
  for path in files:
    os.truncate(path, os.path.getsize(path) // 2)
  checkpoints = RunCheckpoints(run_dir, CheckpointConfig())
  assert checkpoints.check(2) == {"step": 2}  # array contents are only read by the restore
  _expect_error(lambda: checkpoints.restore(2, _state(0.0)), run_dir, 2, "OUT_OF_RANGE")


# orbax leaves the read coroutines of the other leaves unawaited when one leaf fails; harmless noise.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_state_of_another_model_names_the_checkpoint(run_dir):
  """A run directory reused with another model: shapes and tree structure differ from the checkpoint."""
  checkpoints = RunCheckpoints(run_dir, CheckpointConfig())
  other_shape = dict(_state(0.0), w=jnp.zeros((1024,), jnp.float32))
  _expect_error(lambda: checkpoints.restore(2, other_shape), run_dir, 2, "not compatible with the stored shape")
  other_tree = dict(_state(0.0), extra=jnp.zeros((2,)))
  _expect_error(lambda: checkpoints.restore(2, other_tree), run_dir, 2, "tree structures do not match")


def test_only_checkpoint_damaged_says_the_run_restarts(run_dir):
  shutil.rmtree(_step_dir(run_dir, 1))
  shutil.rmtree(os.path.join(_step_dir(run_dir, 2), "data"))
  checkpoints = RunCheckpoints(run_dir, CheckpointConfig())
  _expect_error(lambda: checkpoints.check(2), run_dir, 2, "item(s) ['data'] missing",
                then="start the run again from step 0")


def test_deleting_the_damaged_step_resumes_from_the_previous_one(run_dir):
  """The way out the message gives works: step 1 is restored with its own values."""
  shutil.rmtree(os.path.join(_step_dir(run_dir, 2), "state"))
  _expect_error(lambda: RunCheckpoints(run_dir, CheckpointConfig()).check(2), run_dir, 2, "missing")
  shutil.rmtree(_step_dir(run_dir, 2))
  checkpoints = RunCheckpoints(run_dir, CheckpointConfig())
  assert checkpoints.latest_step() == 1
  state, data = checkpoints.restore(1, _state(0.0))
  assert data == {"step": 1}
  np.testing.assert_array_equal(np.asarray(state["w"]), np.arange(512, dtype=np.float32))


def test_checkpoints_path_that_is_a_file(tmp_path):
  (tmp_path / "checkpoints").write_text("not a directory")
  with pytest.raises(CheckpointError, match=r"train\.run_dir=.*checkpoints exists and is not a directory"):
    RunCheckpoints(str(tmp_path), CheckpointConfig())
