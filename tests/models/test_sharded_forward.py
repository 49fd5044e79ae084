"""The model on an 8-device CPU mesh (data=2, fsdp=2, tensor=2) computes what it computes on one device."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlvr_jax import models, sharding
from rlvr_jax.models import hf_reference


def test_eight_fake_devices_are_available():
  """conftest must set the 8-device flag before jax starts; without it the sharded tests prove nothing."""
  assert jax.device_count() == 8


@pytest.mark.parametrize("layout", ["train", "sample"])
def test_sharded_forward_equals_single_device(hf_checkpoints, layout):
  """Weights placed by role on a (2, 2, 2) mesh, activations constrained: same logits as 1 device."""
  path, _, config = hf_checkpoints["qwen3-untied"]
  mesh = sharding.make_mesh(sharding.MeshConfig(data=2, fsdp=2, tensor=2))
  single = models.load_pretrained(path, dtype=jnp.float32)
  sharded = models.load_pretrained(path, dtype=jnp.float32, mesh=mesh, layout=layout)

  q_proj = sharded.layers[0].attn.q_proj[...]
  assert len(q_proj.sharding.device_set) == 8
  expected = sharding.fit_spec(sharding.layout_config(layout).q_dnh, q_proj.shape, mesh)
  assert q_proj.sharding.spec == expected
  if layout == "train":  # FSDP splits D over 'fsdp'; tensor splits heads.
    assert q_proj.addressable_shards[0].data.shape == (q_proj.shape[0] // 2, q_proj.shape[1] // 2, q_proj.shape[2])

  acts = sharding.ActivationSharding(mesh, layout)
  ids, mask = hf_reference.padded_batch([16, 9, 3, 12], 16, config.vocab_size, side="left", seed=5)
  ids_sharded = jax.device_put(ids, acts.sharding("act_bt", ids.shape))
  mask_sharded = jax.device_put(mask, acts.sharding("act_bt", mask.shape))

  @nnx.jit
  def forward(model, ids, mask):
    hidden, _ = model(ids, mask, constrain=acts.constrain)
    return model.logits(hidden, constrain=acts.constrain)

  out = forward(sharded, ids_sharded, mask_sharded)
  assert len(out.sharding.device_set) == 8
  np.testing.assert_allclose(np.asarray(out), np.asarray(models.logits(single, ids, mask)), atol=2e-5)


def test_random_init_is_born_sharded_and_layout_independent():
  """init with a mesh places every weight in its shards and gives the same values as init without one."""
  config = models.preset("tiny", num_layers=2)
  mesh = sharding.make_mesh(sharding.MeshConfig(data=1, fsdp=4, tensor=2))
  key = jax.random.key(7)
  sharded = models.init(config, key=key, dtype=jnp.float32, mesh=mesh)
  plain = models.init(config, key=key, dtype=jnp.float32)
  embed = sharded.embed[...]
  assert embed.sharding.spec == jax.sharding.PartitionSpec("tensor", "fsdp")
  for (name, a), (_, b) in zip(models.flat_params(sharded), models.flat_params(plain)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)


def test_mesh_config_resolves_and_rejects():
  """-1 takes the remaining devices; sizes that do not fit the device count raise naming the mesh."""
  assert sharding.MeshConfig(data=2, fsdp=-1, tensor=2).resolve(8) == (2, 2, 2)
  assert sharding.MeshConfig(data=1, fsdp=-1, tensor=1).resolve(8) == (1, 8, 1)
  with pytest.raises(ValueError, match="needs 12 devices"):
    sharding.MeshConfig(data=3, fsdp=2, tensor=2).resolve(8)
  with pytest.raises(ValueError, match="do not divide"):
    sharding.MeshConfig(data=3, fsdp=-1, tensor=1).resolve(8)
  with pytest.raises(ValueError, match="at most one axis"):
    sharding.MeshConfig(data=-1, fsdp=-1, tensor=1).resolve(8)


def test_fit_spec_replicates_dimensions_an_axis_does_not_divide():
  """2 KV heads on tensor=4 cannot be split: that dimension is replicated, the others keep their axes."""
  mesh = sharding.make_mesh(sharding.MeshConfig(data=1, fsdp=2, tensor=4))
  spec = sharding.fit_spec(jax.sharding.PartitionSpec("fsdp", "tensor", None), (64, 2, 16), mesh)
  assert spec == jax.sharding.PartitionSpec("fsdp", None, None)
  mesh = sharding.make_mesh(sharding.MeshConfig(data=2, fsdp=2, tensor=2))
  spec = sharding.fit_spec(jax.sharding.PartitionSpec(("data", "fsdp"), None), (6, 3), mesh)
  assert spec == jax.sharding.PartitionSpec("data", None)  # 6 rows split 2 ways, not 4
  spec = sharding.fit_spec(jax.sharding.PartitionSpec(("data", "fsdp"), None), (8, 3), mesh)
  assert spec == jax.sharding.PartitionSpec(("data", "fsdp"), None)
