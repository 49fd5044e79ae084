"""Bad-input fixtures: a config with overrides, and HF / data directories small enough to write in
milliseconds (no model is initialized: validation reads headers, never tensors)."""

import json

import ml_collections
import numpy as np
import pytest

from rlvr_jax import models
from rlvr_jax.config import method_config
from rlvr_jax.embedded._tokenizer import builtin_tokenizer
from rlvr_jax.models._pretrained import expected_hf_shapes
from rlvr_jax.data._text_codec import save_tokenizer


def config_with(method: str = "steer", variant: str | None = None, /, **fields) -> ml_collections.ConfigDict:
  """`method_config(method, variant)` with dotted-field overrides: config_with(**{"optim.lr": 0.0})."""
  config = method_config(method, variant)
  for field, value in fields.items():
    *sections, key = field.split(".")
    node = config
    for section in sections:
      node = node[section]
    node[key] = value
  return config


def write_hf_directory(path, *, tokenizer=True, **architecture) -> str:
  """An HF-shaped directory: config.json of a tiny Qwen2, a safetensors file with every tensor config.json
  implies (zeros: validation reads the headers' names and shapes, never the values), and the built-in
  tokenizer."""
  from safetensors.numpy import save_file

  path.mkdir(parents=True, exist_ok=True)
  config = models.preset("tiny", **architecture)
  (path / "config.json").write_text(json.dumps(config.to_hf_dict()))
  save_file({name: np.zeros(shape, np.float16) for name, shape in expected_hf_shapes(config).items()},
            str(path / "model.safetensors"), metadata={"format": "pt"})
  if tokenizer:
    save_tokenizer(builtin_tokenizer(), str(path))
  return str(path)


@pytest.fixture
def hf_dir(tmp_path):
  return write_hf_directory(tmp_path / "model")


@pytest.fixture
def data_file(tmp_path):
  path = tmp_path / "train.jsonl"
  path.write_text("".join(json.dumps({"question": f"Compute {i}+1.", "answer": str(i + 1)}) + "\n"
                          for i in range(16)))
  return str(path)
