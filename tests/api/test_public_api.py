"""The top-level functional API: every advertised name resolves to the object its module defines, and
importing `rlvr_jax` alone stays light (verifier workers import rlvr_jax submodules)."""

import ast
import fnmatch
import importlib
import pathlib
import re
import subprocess
import sys

import rlvr_jax


def test_every_public_name_resolves_to_its_definition():
  import rlvr_jax.train

  assert callable(rlvr_jax.train.train)
  for name in rlvr_jax.__all__:
    module = importlib.import_module(rlvr_jax._PUBLIC[name])
    assert getattr(rlvr_jax, name) is getattr(module, name), name
  assert set(rlvr_jax.__all__) <= set(dir(rlvr_jax))


def test_subpackages_resolve_without_an_import():
  """`rlvr_jax.train.train(spec)` as the README writes it, in a fresh interpreter (no prior import of the
  subpackage), for every advertised subpackage."""
  code = ("import rlvr_jax, types; assert callable(rlvr_jax.train.train); "
          "assert all(isinstance(getattr(rlvr_jax, n), types.ModuleType) for n in rlvr_jax.SUBPACKAGES)")
  subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_unknown_names_raise_attribute_error():
  try:
    rlvr_jax.not_a_name  # noqa: B018
  except AttributeError as e:
    assert "not_a_name" in str(e)
  else:
    raise AssertionError("no AttributeError")


def test_a_notebook_ablation_through_the_top_level_api():
  import jax.numpy as jnp

  objective = rlvr_jax.build_objective(dict(rlvr_jax.METHOD_PRESETS["steer"]))
  mask = jnp.ones((2, 3))
  batch = rlvr_jax.TokenBatch.create(response_mask=mask, advantages=jnp.asarray([[1.0] * 3, [-1.0] * 3]),
                                     logp=jnp.full((2, 3), -1.0), old_logp=jnp.full((2, 3), -1.0),
                                     old_entropy=jnp.full((2, 3), 0.5))
  loss, metrics = objective.loss(batch, objective.init_state(), None)
  assert jnp.isfinite(loss) and metrics


def test_importing_the_reward_package_does_not_import_jax():
  code = "import sys, rlvr_jax.rewards._math_verify_reward; print('jax' in sys.modules)"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
  assert out.strip() == "False"


def _module_names() -> list[str]:
  root = pathlib.Path(rlvr_jax.__file__).parent
  return sorted(".".join(("rlvr_jax",) + path.relative_to(root).with_suffix("").parts)
                for path in root.rglob("*.py"))


def test_implementation_modules_are_private():
  """Every module is a package `__init__`, a `__main__`, private (`_name`), or listed in PUBLIC_MODULES."""
  public = [name for name in _module_names()
            if not any(part.startswith("_") for part in name.split(".")[1:])]
  unlisted = [name for name in public if not any(fnmatch.fnmatchcase(name, pattern)
                                                  for pattern in rlvr_jax.PUBLIC_MODULES)]
  assert unlisted == [], f"public modules not in rlvr_jax.PUBLIC_MODULES: {unlisted}"
  methods = [name for name in public if name.startswith("rlvr_jax.objectives.transforms.")]
  assert "rlvr_jax.objectives.transforms.steer" in methods and len(methods) >= 10, methods
  for pattern in rlvr_jax.PUBLIC_MODULES:  # the list names only modules that exist
    assert any(fnmatch.fnmatchcase(name, pattern) for name in public), pattern


def _private_imports(path: pathlib.Path) -> list[str]:
  found = []
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rlvr_jax"):
      dotted = [node.module + "." + alias.name for alias in node.names]
    elif isinstance(node, ast.Import):
      dotted = [alias.name for alias in node.names if alias.name.startswith("rlvr_jax")]
    else:
      continue
    found += [f"{path.name}:{node.lineno} {name}" for name in dotted
              if any(part.startswith("_") for part in name.split(".")[1:])]
  for match in re.finditer(r"rlvr_jax(?:\.\w+)*\._\w+", path.read_text()):  # strings, docstrings
    found.append(f"{path.name}: {match.group(0)}")
  return found


def test_launchers_benchmarks_and_configs_use_only_the_public_api():
  root = pathlib.Path(__file__).resolve().parents[2]
  files = [p for folder in ("launch", "bench", "configs") for p in sorted((root / folder).glob("*.py"))]
  assert len(files) > 30
  private = [hit for path in files for hit in _private_imports(path)]
  assert private == [], private


def test_every_package_all_resolves():
  for name in _module_names():
    if name.endswith(".__init__"):
      module = importlib.import_module(name.removesuffix(".__init__"))
      missing = [n for n in getattr(module, "__all__", ()) if not hasattr(module, n)]
      assert missing == [], (module.__name__, missing)
