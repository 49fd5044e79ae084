"""The compile check builds what the trainer runs: its abstract train state has the trainer's shapes,
dtypes and shardings leaf by leaf, its sampler programs are the very (cached) programs a rollout calls,
and its mini-batch layout is the one the trainer's gather produces. 8 fake CPU devices, tiny policy."""

import importlib.util
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax import models, sharding
from rlvr_jax.config import method_config, validate
from rlvr_jax.errors import ConfigError
from rlvr_jax.objectives._rollout_batch import RolloutBatch
from rlvr_jax.sampling import make_generate_fn, _sampler as sampler
from rlvr_jax.scale import abstract_run_spec, run_targets
from rlvr_jax.scale import _targets as scale_targets
from rlvr_jax.train._loop import _placer, _replicate_unsharded
from rlvr_jax.train._optimizer import make_optimizer
from rlvr_jax.train._programs import abstract_train_state, build_programs
from rlvr_jax.train._state import create_train_state

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def config_file(name: str, variant: str | None = None):
  """configs/<name>.py's get_config(variant), as the launcher reads it."""
  module_spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "configs", f"{name}.py"))
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(variant)


def _tiny_spec(scan_layers: bool, **changes):
  c = method_config("steer")
  c.unlock()
  c.mesh.fsdp, c.mesh.tensor = 4, 2
  c.model.scan_layers = scan_layers
  c.rollout.prompts_per_step, c.rollout.num_samples, c.rollout.max_new_tokens = 8, 4, 8
  c.data.max_prompt_length = 16
  c.train.mini_batches = 2
  for key, value in changes.items():
    section, field = key.split("__")
    c[section][field] = value
  return validate(c, 8)


def _trainer_state(spec, mesh, tx, model_dir):
  """What `rlvr_jax.train._loop.train` builds (Model and Programs stages), from an HF directory."""
  model = models.load_pretrained(model_dir, dtype=spec.model.dtype, param_dtype=jnp.float32, mesh=mesh,
                                 scan_layers=spec.model.scan_layers, attention=spec.model.attention,
                                 platform=mesh.devices.flat[0].platform)
  graphdef, state = create_train_state(model, tx, spec.objective.init_state(), seed=spec.train.seed)
  return graphdef, _replicate_unsharded(state, mesh)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp("tiny_hf")
  models.save_pretrained(models.init(models.preset("tiny"), key=jax.random.key(0), dtype=jnp.float32), path)
  return str(path)


@pytest.mark.parametrize("scan_layers", [False, True])
def test_abstract_train_state_is_the_trainer_s_leaf_by_leaf(model_dir, scan_layers):
  spec = _tiny_spec(scan_layers)
  mesh = sharding.make_mesh(spec.mesh)
  tx = make_optimizer(spec.optim)
  real_graphdef, real = _trainer_state(spec, mesh, tx, model_dir)
  graphdef, abstract = abstract_train_state(spec, mesh, tx)
  assert graphdef == real_graphdef and hash(graphdef) == hash(real_graphdef)  # the sampler cache keys on it
  real_leaves, real_tree = jax.tree.flatten(real)
  leaves, tree = jax.tree.flatten(abstract)
  assert tree == real_tree
  sharded = 0
  for a, r in zip(leaves, real_leaves):
    assert (a.shape, a.dtype) == (r.shape, r.dtype)
    assert a.sharding.is_equivalent_to(r.sharding, r.ndim), (a.sharding, r.sharding)
    sharded += not r.sharding.is_fully_replicated
  # Split leaves: the parameters' and both Adam moments' (so the check above is not vacuous).
  split_params = sum(not x.sharding.is_fully_replicated for x in jax.tree.leaves(real.params))
  assert split_params > len(jax.tree.leaves(real.params)) // 2 and sharded == 3 * split_params


def test_sampler_programs_are_the_rollout_s_cached_programs(model_dir):
  """A rollout through the trainer's generate function, then the compile check's targets: the sampler
  programs come out of the same cache entry (a hit, no new entry)."""
  spec = _tiny_spec(True)
  mesh = sharding.make_mesh(spec.mesh)
  tx = make_optimizer(spec.optim)
  graphdef, state = _trainer_state(spec, mesh, tx, model_dir)
  generate = make_generate_fn(graphdef, spec.rollout.sampling, mesh)
  prompts = spec.rollout.gen_prompts
  ids = np.ones((prompts, spec.data.max_prompt_length), np.int32)
  generate(state.params, ids, np.ones_like(ids), np.arange(prompts, dtype=np.int32), jax.random.key(1))
  before = sampler._programs.cache_info()
  targets = {t.name: t for t in run_targets(spec, mesh)}
  after = sampler._programs.cache_info()
  assert (after.hits, after.misses) == (before.hits + 1, before.misses)
  prefill = targets["prefill"]
  assert prefill.args[1].shape == (prompts, spec.data.max_prompt_length)
  real_params = jax.tree.leaves(state.params)
  for a, r in zip(jax.tree.leaves(prefill.args[0]), real_params):
    assert a.sharding.is_equivalent_to(r.sharding, r.ndim)
  # Continuous batching (the default): decode reads the prefill's prompt store, one KV copy per prompt.
  store = targets["decode"].args[1]
  assert spec.rollout.sampling.slots > 0
  assert store.k.shape == (4, prompts, spec.data.max_prompt_length, 2, 32)  # stacked: 4 layers, 2 KV heads of 32


def test_minibatch_layout_is_what_the_trainer_s_gather_gives(model_dir):
  """The trainer places rollout arrays rows-over-devices, scores them, then gathers each mini-batch with
  a host index array (`_update_stage`); the compile check's abstract mini-batch has that layout."""
  spec = _tiny_spec(False)
  mesh = sharding.make_mesh(spec.mesh)
  tx = make_optimizer(spec.optim)
  graphdef, state = _trainer_state(spec, mesh, tx, model_dir)
  programs = build_programs(spec, graphdef, mesh, tx, jax.tree.map(lambda x: x.sharding, state))
  place = _placer(mesh)
  rows = spec.rollout.prompts_per_step * spec.rollout.sampling.num_samples
  prompt, new = spec.data.max_prompt_length, spec.rollout.sampling.max_new_tokens
  ids, tokens = np.ones((rows, prompt), np.int32), np.ones((rows, new), np.int32)
  mask = np.ones((rows, new), np.float32)
  logp, entropy = programs.score(state.params, place(ids), place(ids), place(tokens), place(mask))
  batch = RolloutBatch(prompt_ids=place(ids), prompt_mask=place(ids), completion_ids=place(tokens),
                       response_mask=place(mask), advantages=place(mask) * place(mask), old_logp=logp,
                       old_entropy=entropy)
  order = np.random.default_rng(0).permutation(rows)[: rows // spec.train.mini_batches]
  real = jax.tree.map(lambda x: x[order], batch)
  abstract = scale_targets.minibatch(spec, mesh)
  assert jax.tree.structure(abstract) == jax.tree.structure(real)
  for a, r in zip(jax.tree.leaves(abstract), jax.tree.leaves(real)):
    assert (a.shape, a.dtype) == (r.shape, r.dtype)
    assert a.sharding.is_equivalent_to(r.sharding, r.ndim), (a.sharding, r.sharding)


def test_a_published_variant_validates_without_its_weights():
  config = config_file("steer", "model=qwen2.5-math-7b,mesh=v5p-128")
  with pytest.raises(ConfigError, match="model.path"):
    validate(config, 64, num_processes=16, platform="tpu")
  spec = abstract_run_spec(config, num_devices=64, num_processes=16, platform="tpu")
  assert spec.model.architecture == models.preset("qwen2.5-math-7b")
  assert spec.mesh.tensor == 4 and spec.model.attention == "auto"
  assert spec.model.scan_layers and spec.model.remat  # the published-scale defaults (docs/scale.md)
  # Every other check runs as at launch: a mini-batch that cannot split over the slice's devices fails.
  config.unlock()
  config.train.micro_batches = 512
  with pytest.raises(ConfigError, match="train.micro_batches"):
    abstract_run_spec(config, num_devices=64, num_processes=16, platform="tpu")



def _published_variants() -> list[tuple[str, str]]:
  variants = []
  for path in sorted(os.listdir(os.path.join(ROOT, "configs"))):
    if path.endswith(".py"):
      module_spec = importlib.util.spec_from_file_location(path[:-3], os.path.join(ROOT, "configs", path))
      module = importlib.util.module_from_spec(module_spec)
      module_spec.loader.exec_module(module)
      variants += [(path[:-3], model) for model in module.RECIPES]
  return variants


@pytest.mark.parametrize("name, model", _published_variants())
def test_every_published_recipe_validates_on_a_v5p_128(name, model):
  """docs/scale.md's slice for every recipe: `mesh=v5p-128` (64 chips, 16 hosts) accepts its batch splits,
  sampler calls and kernels as a launch there would, before anyone compiles or rents it."""
  spec = abstract_run_spec(config_file(name, f"model={model},mesh=v5p-128"), num_devices=64, num_processes=16,
                           platform="tpu")
  assert spec.model.scan_layers and spec.model.remat
  assert spec.rollout.gen_prompts % spec.rollout.prompts_per_call == 0
