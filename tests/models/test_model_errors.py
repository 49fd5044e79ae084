"""Unsupported configs and broken checkpoints fail with clear errors naming the field or weight."""

import json
import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax import models

BASE = models.PRESETS["qwen2.5-0.5b"].to_hf_dict()


@pytest.mark.parametrize("change, message", [
    ({"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}, r"rope_scaling\.rope_type='yarn'"),
    ({"rope_parameters": {"rope_type": "linear", "rope_theta": 1e6, "factor": 2.0}},
     r"rope_parameters\.rope_type='linear'"),
    ({"use_sliding_window": True, "sliding_window": 4096}, r"use_sliding_window=True"),
    ({"layer_types": ["full_attention", "sliding_attention"]}, r"layer_types contains \['sliding_attention'\]"),
    ({"num_experts": 64}, r"num_experts=64"),
    ({"hidden_act": "gelu"}, r"hidden_act='gelu'"),
    ({"model_type": "llama"}, r"model_type='llama'"),
])
def test_unsupported_hf_fields_raise(change, message):
  with pytest.raises(models.UnsupportedConfigError, match=message):
    models.QwenConfig.from_hf_dict({**BASE, **change})


def test_default_rope_in_either_spelling_is_accepted():
  """transformers >= 5 writes rope_parameters; older checkpoints write rope_theta + rope_scaling=None."""
  new = {k: v for k, v in BASE.items() if k not in ("rope_theta", "rope_scaling")}
  new["rope_parameters"] = {"rope_type": "default", "rope_theta": 12345.0}
  assert models.QwenConfig.from_hf_dict(new).rope_theta == 12345.0
  assert models.QwenConfig.from_hf_dict(BASE).rope_theta == BASE["rope_theta"]


def _copy(src, dst):
  shutil.copytree(src, dst)
  return dst


def test_missing_weight_is_named(hf_checkpoints, tmp_path):
  from safetensors.numpy import load_file, save_file

  path = _copy(hf_checkpoints["qwen2-untied"][0], tmp_path / "ckpt")
  tensors = load_file(path / "model.safetensors")
  del tensors["model.layers.1.self_attn.k_proj.bias"]
  save_file(tensors, path / "model.safetensors")
  with pytest.raises(models.CheckpointMismatchError, match=r"missing weight.*layers\.1\.self_attn\.k_proj\.bias"):
    models.load_pretrained(path, dtype=jnp.float32)


def test_shape_mismatch_is_named(hf_checkpoints, tmp_path):
  from safetensors.numpy import load_file, save_file

  path = _copy(hf_checkpoints["qwen2-untied"][0], tmp_path / "ckpt")
  tensors = load_file(path / "model.safetensors")
  tensors["model.layers.0.mlp.up_proj.weight"] = np.zeros((7, 64), np.float32)
  save_file(tensors, path / "model.safetensors")
  with pytest.raises(models.CheckpointMismatchError,
                     match=r"model\.layers\.0\.mlp\.up_proj\.weight.*\(7, 64\).*expects"):
    models.load_pretrained(path, dtype=jnp.float32)


def test_unexpected_weight_is_named(hf_checkpoints, tmp_path):
  """A checkpoint with tensors the config does not describe (e.g. a config with too few layers) fails."""
  path = _copy(hf_checkpoints["qwen2-untied"][0], tmp_path / "ckpt")
  with open(path / "config.json") as f:
    config = json.load(f)
  config["num_hidden_layers"] = 1
  with open(path / "config.json", "w") as f:
    json.dump(config, f)
  with pytest.raises(models.CheckpointMismatchError, match=r"does not describe.*model\.layers\.1\."):
    models.load_pretrained(path, dtype=jnp.float32)


def test_missing_checkpoint_paths(tmp_path):
  with pytest.raises(FileNotFoundError, match="no config.json"):
    models.load_pretrained(tmp_path, dtype=jnp.float32)
  with open(tmp_path / "config.json", "w") as f:
    json.dump(BASE, f)
  with pytest.raises(FileNotFoundError, match="neither model.safetensors nor model.safetensors.index.json"):
    models.load_pretrained(tmp_path, dtype=jnp.float32)
  with pytest.raises(FileNotFoundError, match="no config.json"):
    models.load_pretrained(os.path.join(tmp_path, "nope"), dtype=jnp.float32)


def test_invalid_config_values_are_named():
  with pytest.raises(ValueError, match="num_heads=6 is not a multiple of num_kv_heads=4"):
    models.preset("tiny", num_heads=6, num_kv_heads=4)
  with pytest.raises(ValueError, match="unknown model preset 'qwen9'"):
    models.preset("qwen9")
