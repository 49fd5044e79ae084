"""The top-level functional API: every advertised name resolves to the object its module defines, and
importing `rlvr_jax` alone stays light (verifier workers import rlvr_jax submodules)."""

import importlib
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
  code = "import sys, rlvr_jax.rewards.math_verify_reward; print('jax' in sys.modules)"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
  assert out.strip() == "False"
