"""Override order: base < scale (embedded profile or recipe) < the method's own settings < :variants <
--config.x=y, checked for every config file at every variant (the layers each file declares)."""

import glob
import importlib.util
import os

import ml_collections
import pytest
from absl import flags
from ml_collections import config_flags

from rlvr_jax.config import Recipe, build, method_layers

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "configs")
CONFIG_FILES = sorted(glob.glob(os.path.join(CONFIG_DIR, "*.py")))


def _load(path):
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _variants(module) -> list[str | None]:
  return [None, "mesh=v5p-128"] + [f"model={model}" for model in module.RECIPES] + [
      f"model={model},mesh=single" for model in module.RECIPES]


def _leaves(tree, prefix=""):
  for key, value in tree.items():
    if isinstance(value, dict):
      yield from _leaves(value, f"{prefix}{key}.")
    else:
      yield f"{prefix}{key}", value


def _get(config: ml_collections.ConfigDict, field: str):
  node = config
  for part in field.split("."):
    node = node[part]
  return node.to_dict() if isinstance(node, ml_collections.ConfigDict) else node


def _same(a, b) -> bool:
  return (list(a) == list(b)) if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) else a == b


CASES = [(path, variant) for path in CONFIG_FILES for variant in _variants(_load(path))]


@pytest.mark.parametrize("path, variant", CASES, ids=lambda x: os.path.basename(x) if isinstance(x, str) else str(x))
def test_each_layer_wins_over_the_ones_before_it(path, variant):
  """Every field any layer sets ends with the value of the last layer that sets it."""
  module = _load(path)
  layers = method_layers(path, module.METHOD, variant, own=module.OWN, embedded=module.EMBEDDED,
                         recipes=module.RECIPES)
  assert [layer.name.split(" ")[0] for layer in layers] == [
      "base", "embedded" if not variant or "model=" not in variant else "recipe", "method", "variants"]
  config = module.get_config(variant)
  winner: dict[str, tuple[str, object]] = {}
  for layer in layers:
    for field, value in _leaves(dict(layer.values)):
      winner[field] = (layer.name, value)
  assert winner, "no layer sets anything"
  for field, (layer, value) in winner.items():
    assert _same(_get(config, field), value), f"{field}: {layer} set {value!r}, got {_get(config, field)!r}"


def test_the_order_is_enforced_where_layers_collide():
  """A field set by every layer: the scale layer beats base, the method's layer beats the scale, the
  variant beats the method, the command line beats the variant."""
  layers = method_layers("configs/x.py", "grpo", "model=qwen2.5-math-7b,mesh=single",
                         own={"mesh": {"tensor": 2}, "optim": {"lr": 3e-6}},
                         recipes={"qwen2.5-math-7b": _recipe({"optim.lr": 1e-6, "mesh.tensor": 4, "train.steps": 7})})
  config = build("grpo", layers)
  assert config.train.steps == 7  # recipe over base
  assert config.optim.lr == 3e-6  # method over recipe
  assert config.mesh.tensor == 1  # variant (mesh=single) over method
  assert config.name == "x-qwen2.5-math-7b" and config.model.preset == "qwen2.5-math-7b"


def test_command_line_overrides_win_over_every_layer(monkeypatch):
  """The last layer: --config.x=y through ml_collections' config_flags, as the launcher parses it."""
  path = os.path.join(CONFIG_DIR, "steer.py")
  module = _load(path)
  model = next(iter(module.RECIPES))
  argv = ["prog", f"--config={path}:model={model},mesh=single", "--config.mesh.tensor=2",
          f"--config.rollout.num_samples={module.RECIPES[model].values['rollout']['num_samples'] + 1}",
          "--config.optim.lr=7e-7"]
  monkeypatch.setattr("sys.argv", argv)  # config_flags reads the overrides from sys.argv, as in the launcher
  values = flags.FlagValues()
  config_flags.DEFINE_config_file("config", None, "", flag_values=values, lock_config=True)
  values(argv)
  config = values.config
  assert config.mesh.tensor == 2  # over the mesh variant
  assert config.rollout.num_samples == module.RECIPES[model].values["rollout"]["num_samples"] + 1  # over the recipe
  assert config.optim.lr == 7e-7
  assert config.name == f"steer-{model}"


def test_embedded_code_run_keeps_the_raw_template():
  """The code task's embedded run: the method's own layer (builtin_task, code reward) applies at every
  scale, while the chat template of a real checkpoint is a recipe value and does not leak into the tiny run."""
  module = _load(os.path.join(CONFIG_DIR, "steer_code.py"))
  tiny = module.get_config()
  assert (tiny.data.builtin_task, tiny.reward.name, tiny.data.template) == ("code", "code_exec", "raw")


def _recipe(fields):
  return Recipe(paper="p", code="c", dataset="d", fields={k: (v, "test") for k, v in fields.items()})
