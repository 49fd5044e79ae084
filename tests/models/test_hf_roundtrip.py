"""HF checkpoint -> load_pretrained -> save_pretrained -> transformers -> identical logits; sharded files."""

import json
import os

import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax import models
from rlvr_jax.models import hf_reference


@pytest.mark.parametrize("variant", ["qwen2-tied", "qwen3-untied", "qwen3-tied-bias"])
def test_save_pretrained_round_trips_through_transformers(hf_checkpoints, variant, tmp_path):
  """transformers loads what save_pretrained wrote, with the same weights and logits as the source."""
  import torch
  from transformers import AutoModelForCausalLM

  path, torch_model, config = hf_checkpoints[variant]
  model = models.load_pretrained(path, dtype=jnp.float32)
  models.save_pretrained(model, tmp_path / "export")
  reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "export", dtype=torch.float32).eval()
  assert type(reloaded) is type(torch_model)
  source = dict(torch_model.named_parameters())
  for name, param in reloaded.named_parameters():
    np.testing.assert_array_equal(param.detach().numpy(), source[name].detach().numpy(), err_msg=name)
  ids, mask = hf_reference.padded_batch([10, 5], 10, config.vocab_size, side="left", seed=3)
  np.testing.assert_allclose(hf_reference.reference_logits(reloaded, ids, mask),
                             hf_reference.reference_logits(torch_model, ids, mask), atol=1e-6)


def test_loads_multi_file_safetensors_index(tmp_path):
  """A checkpoint split over several safetensors files with an index loads to the same model."""
  config = hf_reference.tiny_hf_config("qwen2", tied=False)
  torch_model = hf_reference.make_random_checkpoint(tmp_path, config, max_shard_size="60KB")
  with open(tmp_path / "model.safetensors.index.json") as f:
    files = set(json.load(f)["weight_map"].values())
  assert len(files) > 2
  model = models.load_pretrained(tmp_path, dtype=jnp.float32)
  ids, mask = hf_reference.padded_batch([6, 8], 8, config.vocab_size, side="right", seed=4)
  np.testing.assert_allclose(np.asarray(models.logits(model, ids, mask)),
                             hf_reference.reference_logits(torch_model, ids, mask), atol=1e-5)


def test_save_pretrained_writes_sharded_index_that_reloads(hf_checkpoints, tmp_path):
  """save_pretrained with a small shard size writes several files plus an index; both loaders accept it."""
  from transformers import AutoModelForCausalLM

  path, torch_model, config = hf_checkpoints["qwen2-untied"]
  model = models.load_pretrained(path, dtype=jnp.float32)
  models.save_pretrained(model, tmp_path, max_shard_bytes=64 << 10)
  shards = [f for f in os.listdir(tmp_path) if f.endswith(".safetensors")]
  assert len(shards) > 2 and os.path.isfile(tmp_path / "model.safetensors.index.json")
  again = models.load_pretrained(tmp_path, dtype=jnp.float32)
  for (name_a, a), (name_b, b) in zip(models.flat_params(model), models.flat_params(again)):
    assert name_a == name_b
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert AutoModelForCausalLM.from_pretrained(tmp_path) is not None
