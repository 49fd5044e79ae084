"""Tiny random HF checkpoints shared by the model tests (built once per session, never downloaded)."""

import pytest

from rlvr_jax.models import hf_reference

# (family, tied LM head, Qwen3 attention_bias): covers qkv bias (Qwen2), q/k-norm (Qwen3), tied and untied.
VARIANTS = {
    "qwen2-tied": ("qwen2", True, False),
    "qwen2-untied": ("qwen2", False, False),
    "qwen3-untied": ("qwen3", False, False),
    "qwen3-tied-bias": ("qwen3", True, True),
}


@pytest.fixture(scope="session")
def hf_checkpoints(tmp_path_factory):
  """name -> (directory, torch model, transformers config)."""
  out = {}
  for name, (family, tied, bias) in VARIANTS.items():
    path = tmp_path_factory.mktemp(name)
    config = hf_reference.tiny_hf_config(family, tied=tied, attention_bias=bias)
    out[name] = (str(path), hf_reference.make_random_checkpoint(path, config), config)
  return out
