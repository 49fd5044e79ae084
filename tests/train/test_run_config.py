"""Run configs: every method file builds and validates; bad values fail before anything compiles."""

import glob
import importlib.util
import os

import pytest

from rlvr_jax.config import ConfigError, method_config, validate

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "configs")


def _load(path):
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(CONFIG_DIR, "*.py"))),
                         ids=lambda p: os.path.basename(p))
def test_every_method_config_validates(path):
  """The embedded-default form of each config passes validation; the paper form differs in scale."""
  module = _load(path)
  assert "python launch/tpu_pod.py --config configs/" in module.__doc__
  spec = validate(module.get_config())
  assert spec.embedded_default and spec.name == os.path.basename(path)[:-3]
  for model, recipe in module.RECIPES.items():  # base.py has none: the embedded default only
    paper = module.get_config(f"model={model}")
    assert paper.name == f"{spec.name}-{model}" and paper.model.preset == model
    assert paper.rollout.prompts_per_step == recipe.values["rollout"]["prompts_per_step"]
    assert paper.rollout.prompts_per_step > spec.rollout.prompts_per_step
    assert tuple(paper.objective.transforms) == tuple(spec.resolved["objective"]["transforms"])


@pytest.mark.parametrize("field, value, message", [
    ("rollout.top_p", 1.5, r"rollout\.top_p=1\.5 must be in \(0, 1\]"),
    ("train.mini_batches", 3, r"prompts_per_step=16 is not divisible by train\.mini_batches=3"),
    ("train.micro_batches", 3, r"not divisible by train\.micro_batches=3"),
    ("advantage.estimator", "ppo_gae", r"unknown advantage estimator advantage\.estimator='ppo_gae'"),
    ("reward.name", "llm_judge", r"unknown reward reward\.name='llm_judge'"),
    ("model.path", "/does/not/exist", r"model\.path='/does/not/exist' does not exist"),
    ("model.dtype", "float16", r"model\.dtype='float16'"),
    ("optim.lr", -1.0, r"optim\.lr must be > 0"),
    ("mesh.tensor", 3, r"mesh .*tensor.: 3.*do not divide the 8 available devices"),
    ("train.overlong_buffer", 16, r"train\.overlong_buffer=16"),
])
def test_bad_values_name_the_field(field, value, message):
  config = method_config("steer")
  section, key = field.split(".")
  config[section][key] = value
  with pytest.raises((ConfigError, ValueError), match=message):
    validate(config)


def test_objective_errors_are_reported_with_the_section():
  config = method_config("steer")
  config.objective.steer.w_min = 1.5
  with pytest.raises(ConfigError, match=r"objective: .*w_min"):
    validate(config)


def test_unknown_keys_are_rejected_by_the_locked_config():
  config = method_config("steer")
  with pytest.raises(AttributeError, match="lrr"):
    config.optim.lrr = 1.0


def test_published_preset_without_a_path_is_an_error():
  config = method_config("steer")
  config.model.preset = "qwen2.5-math-7b"
  with pytest.raises(ConfigError, match=r"needs --config\.model\.path"):
    validate(config)


def test_a_model_variant_without_a_recipe_is_an_error():
  with pytest.raises(ValueError, match=r"model='qwen3-8b'; known for steer.py: tiny, qwen2.5-math-7b"):
    method_config("configs/steer.py", "model=qwen3-8b", method="steer",
                  recipes={"qwen2.5-math-7b": None})
