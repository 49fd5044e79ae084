"""Full-size presets, shapes only (jax.eval_shape): parameter counts equal the published / transformers counts."""

import pytest

from rlvr_jax import models

PUBLISHED = {
    "qwen2.5-1.5b": 1_543_714_304,
    "qwen2.5-7b": 7_615_616_512,
    # Model cards: Qwen2.5-32B "32.5B" (31.0B non-embedding), Qwen3-14B(-Base) "14.8B" (13.2B non-embedding);
    # the exact counts are transformers' num_parameters() on the meta device (below), which round to those.
    "qwen2.5-32b": 32_763_876_352,
    "qwen3-14b-base": 14_768_307_200,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameter_counts(name):
  """Counts from the model cards, computed without allocating a single weight."""
  assert models.param_count(models.preset(name)) == PUBLISHED[name]


@pytest.mark.parametrize("name", ["qwen2.5-0.5b", "qwen2.5-math-1.5b", "qwen2.5-math-7b", "qwen2.5-7b", "qwen2.5-32b",
                                  "qwen3-0.6b", "qwen3-1.7b", "qwen3-4b", "qwen3-8b", "qwen3-14b-base"])
def test_parameter_counts_match_transformers_meta_build(name):
  """transformers builds the same architecture on the meta device (no memory) from our to_hf_dict."""
  import torch
  from transformers import AutoConfig, AutoModelForCausalLM

  config = models.preset(name)
  hf_config = AutoConfig.for_model(**config.to_hf_dict())
  with torch.device("meta"):
    reference = AutoModelForCausalLM.from_config(hf_config)
  assert models.param_count(config) == reference.num_parameters()


def test_preset_round_trips_through_hf_config_dict():
  """from_hf_dict(to_hf_dict(c)) == c for every preset (the HF description loses nothing)."""
  for name, config in models.PRESETS.items():
    assert models.QwenConfig.from_hf_dict(config.to_hf_dict()) == config, name


@pytest.mark.parametrize("name, positions, rms_eps", [
    ("qwen2.5-7b", 131072, 1e-6), ("qwen2.5-32b", 131072, 1e-5), ("qwen3-14b-base", 32768, 1e-6),
    ("qwen2.5-math-7b", 4096, 1e-6),
])
def test_recipe_models_have_their_published_context_and_norm_epsilon(name, positions, rms_eps):
  """The fields a parameter count cannot see: the context the recipes' length checks use, and the RMSNorm
  epsilon (Qwen2.5-32B's is 1e-5, not the family's 1e-6)."""
  config = models.preset(name)
  assert (config.max_position_embeddings, config.rms_norm_eps) == (positions, rms_eps)
