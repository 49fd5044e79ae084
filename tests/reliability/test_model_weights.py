"""Weights that do not belong to their config.json, or hold NaN: caught in `validate` from the safetensors
headers (names and shapes, no tensor read, so a config.json asking for a 10^9-row embedding allocates
nothing), at the HF load (a NaN tensor, named), and at an orbax restore (a NaN array of the train state,
named)."""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest
from safetensors.numpy import save_file

from rlvr_jax import models
from rlvr_jax.config import ConfigError, validate
from rlvr_jax.config._sections import CheckpointConfig
from rlvr_jax.models._pretrained import NonFiniteWeightsError, expected_hf_shapes
from rlvr_jax.train._checkpointing import CheckpointError, RunCheckpoints
from tests.reliability.conftest import config_with, write_hf_directory


def _set_config(directory: str, **fields) -> None:
  path = os.path.join(directory, "config.json")
  with open(path) as f:
    config = json.load(f)
  with open(path, "w") as f:
    json.dump({**config, **fields}, f)


def _edit_weights(directory: str, drop=(), add=None) -> None:
  tiny = models.preset("tiny")
  tensors = {n: np.zeros(s, np.float16) for n, s in expected_hf_shapes(tiny).items() if n not in drop}
  save_file({**tensors, **(add or {})}, os.path.join(directory, "model.safetensors"))


@pytest.mark.parametrize("damage, message", [
    (lambda d: _set_config(d, hidden_size=192),
     r"the weights do not match config\.json: 'model\.embed_tokens\.weight' is \(512, 128\) in the safetensors, "
     r"config\.json implies \(512, 192\) \(and \d+ more tensors\); config\.json: hidden_size=192"),
    (lambda d: _set_config(d, num_hidden_layers=8),
     r"config\.json has num_hidden_layers=8 but the weights hold 4 layers; config\.json: hidden_size=128, "
     r"num_hidden_layers=8"),
    (lambda d: _set_config(d, num_hidden_layers=2),
     r"config\.json has num_hidden_layers=2 but the weights hold 4 layers"),
    (lambda d: _set_config(d, vocab_size=10 ** 9),
     r"the weights do not match config\.json: 'model\.embed_tokens\.weight' is \(512, 128\) in the safetensors, "
     r"config\.json implies \(1000000000, 128\)"),
    (lambda d: _set_config(d, intermediate_size=512),
     r"the weights do not match config\.json: 'model\.layers\.0\.mlp\.down_proj\.weight' is \(128, 384\) in the "
     r"safetensors, config\.json implies \(128, 512\)"),
    (lambda d: _edit_weights(d, drop=("model.norm.weight",)),
     r"the weights lack tensor\(s\) config\.json implies: \['model\.norm\.weight'\]"),
    (lambda d: _edit_weights(d, add={"model.extra.weight": np.zeros(3, np.float16)}),
     r"the weights hold tensor\(s\) config\.json does not describe: \['model\.extra\.weight'\]"),
])
def test_config_and_weights_that_disagree_fail_in_validate(tmp_path, damage, message):
  path = write_hf_directory(tmp_path / "model")
  damage(path)
  with pytest.raises(ConfigError, match=rf"model\.path='.*model': {message}"):
    validate(config_with(**{"model.path": path}), num_devices=1)


@pytest.mark.parametrize("value, counts", [(np.nan, "3 NaN, 0 inf"), (np.inf, "0 NaN, 3 inf")])
def test_non_finite_tensor_is_named_at_the_hf_load(tmp_path, value, counts):
  """A NaN (or inf) anywhere in a tensor fails the load naming the tensor; the all-NaN model of a diverged
  run's export is caught at its first tensor."""
  tiny = models.preset("tiny")
  rng = np.random.default_rng(0)
  tensors = {n: rng.normal(size=s).astype(np.float32) * 0.02 for n, s in expected_hf_shapes(tiny).items()}
  tensors["model.layers.2.mlp.up_proj.weight"].flat[[5, 77, 1000]] = value
  path = write_hf_directory(tmp_path / "model")
  save_file(tensors, os.path.join(path, "model.safetensors"))
  validate(config_with(**{"model.path": path}), num_devices=1)  # headers are fine: values are the load's to check
  with pytest.raises(NonFiniteWeightsError, match=rf"weight 'model\.layers\.2\.mlp\.up_proj\.weight' holds non-finite "
                                                  rf"values \({counts} of 49152\)"):
    models.load_pretrained(path, dtype=jnp.float32)
  save_file({n: np.full_like(t, np.nan) for n, t in tensors.items()}, os.path.join(path, "model.safetensors"))
  with pytest.raises(NonFiniteWeightsError, match=r"weight 'model\.embed_tokens\.weight' holds non-finite values "
                                                  r"\(65536 NaN, 0 inf of 65536\)"):
    models.load_pretrained(path, dtype=jnp.float32)


def test_non_finite_array_in_a_checkpoint_is_named_at_the_restore(tmp_path):
  """A checkpoint whose state holds NaN (written by hand: the trainer skips non-finite updates, so only
  damage or an outside writer can put one there) fails the restore naming the array."""
  state = {"params": {"w": jnp.ones((4, 3)), "b": jnp.zeros(3)}, "step": jnp.int32(1)}
  checkpoints = RunCheckpoints(str(tmp_path), CheckpointConfig(every=1, keep=3))
  checkpoints.save(1, state, {"position": 1}, force=True)
  checkpoints.save(2, {**state, "params": {"w": state["params"]["w"].at[1, 2].set(jnp.nan), "b": state["params"]["b"]}},
                   {"position": 2}, force=True)
  checkpoints.wait()
  assert checkpoints.restore(1, state)[1] == {"position": 1}
  with pytest.raises(CheckpointError, match=r"checkpoint .*checkpoints/2 cannot be restored: state\['params'\]\['w'\] "
                                            r"hold\(s\) NaN or inf\. .*delete that directory to resume from step 1"):
    checkpoints.restore(2, state)
  checkpoints.close()
