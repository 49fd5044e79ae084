"""scan_layers=True: stacked decoder blocks run by lax.scan compute what the unrolled model computes.

Checked against transformers (logits), against the unrolled model (random init, gradients with remat,
KV-cache decode), through HF export/import, on the 8-device mesh, and shapes only at published scale.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlvr_jax import models, sharding
from rlvr_jax.models import hf_reference
from tests.models.test_qwen_parity import REL_TOL, relative_error


@pytest.fixture(scope="module")
def scanned(hf_checkpoints):
  """variant -> the float32 model loaded with scan_layers=True (loaded once for this module)."""
  return {name: models.load_pretrained(hf_checkpoints[name][0], dtype=jnp.float32, scan_layers=True)
          for name in ("qwen2-untied", "qwen3-tied-bias")}


def test_stacked_parameters_have_a_layer_axis(scanned, hf_checkpoints):
  """Every block parameter is one [L, ...] array flagged STACKED; the rest are as unscanned."""
  model = scanned["qwen2-untied"]
  config = model.config
  stacked = {name: a.shape for name, a in models.flat_params(model) if name.startswith("layers.")}
  assert stacked["layers.attn.q_proj"] == (config.num_layers, config.hidden_size, config.num_heads, config.head_dim)
  assert stacked["layers.mlp.down_proj"] == (config.num_layers, config.intermediate_size, config.hidden_size)
  flags = {".".join(map(str, p)): bool(v.get_metadata().get(sharding.STACKED))
           for p, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}
  assert all(flag == name.startswith("layers.") for name, flag in flags.items()), flags


@pytest.mark.parametrize("variant", ["qwen2-untied", "qwen3-tied-bias"])
def test_scanned_logits_match_transformers(hf_checkpoints, scanned, variant):
  """Same tolerance as the unrolled model's parity test, left-padded batch."""
  _, torch_model, config = hf_checkpoints[variant]
  ids, mask = hf_reference.padded_batch([9, 16, 4, 1], 16, config.vocab_size, side="left", seed=1)
  ours = np.asarray(models.logits(scanned[variant], ids, mask))
  assert relative_error(ours, hf_reference.reference_logits(torch_model, ids, mask), mask) <= REL_TOL


def test_scanned_init_is_the_stacked_unrolled_init_and_gradients_agree():
  """Same key: the scanned model holds the unrolled model's weights stacked; the gradient of a loss
  through scan + remat equals the unrolled gradient (no remat) stacked."""
  config = models.preset("tiny", num_layers=2, vocab_size=64)
  key = jax.random.key(3)
  plain = models.init(config, key=key, dtype=jnp.float32)
  scan = models.init(config, key=key, dtype=jnp.float32, scan_layers=True)
  layers = [dict(models.flat_params(layer)) for layer in plain.layers]
  for name, array in models.flat_params(scan):
    if name.startswith("layers."):
      sub = name[len("layers."):]
      np.testing.assert_array_equal(np.asarray(array), np.stack([np.asarray(l[sub]) for l in layers]), err_msg=name)

  ids, mask = hf_reference.padded_batch([12, 7], 12, config.vocab_size, side="left", seed=4)

  def loss(params, graphdef, remat):
    hidden, _ = nnx.merge(graphdef, params)(ids, mask, remat=remat)
    return jnp.sum(jnp.where(mask[..., None] > 0, hidden, 0.0) ** 2)

  grad = jax.jit(jax.grad(loss), static_argnums=(1, 2))
  plain_grads = dict(models.flat_params(nnx.merge(nnx.graphdef(plain), grad(nnx.state(plain), nnx.graphdef(plain),
                                                                               False))))
  scan_grads = models.flat_params(nnx.merge(nnx.graphdef(scan), grad(nnx.state(scan), nnx.graphdef(scan), True)))
  for name, g in scan_grads:
    want = (np.stack([np.asarray(plain_grads[name.replace("layers.", f"layers.{i}.", 1)])
                      for i in range(config.num_layers)]) if name.startswith("layers.") else plain_grads[name])
    # float32 sums in another order: the unrolled model with and without remat differ by ~1e-4 of the
    # largest gradient entry too.
    assert np.abs(np.asarray(g) - want).max() <= 3e-4 * np.abs(want).max(), name


def test_scanned_export_round_trips_through_transformers(hf_checkpoints, scanned, tmp_path):
  """save_pretrained of a scanned model writes per-layer HF tensors (several files) that transformers
  loads bit-exactly; they load back unscanned to the same weights."""
  import torch
  from transformers import AutoModelForCausalLM

  path, torch_model, _ = hf_checkpoints["qwen3-tied-bias"]
  models.save_pretrained(scanned["qwen3-tied-bias"], tmp_path, max_shard_bytes=64 << 10)
  assert (tmp_path / "model.safetensors.index.json").is_file()
  reloaded = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
  source = dict(torch_model.named_parameters())
  for name, param in reloaded.named_parameters():
    np.testing.assert_array_equal(param.detach().numpy(), source[name].detach().numpy(), err_msg=name)
  unscanned = dict(models.flat_params(models.load_pretrained(tmp_path, dtype=jnp.float32)))
  assert set(unscanned) == set(dict(models.flat_params(models.load_pretrained(path, dtype=jnp.float32))))


def test_scanned_cached_decode_matches_full_forward(scanned, hf_checkpoints):
  """Prefill + 4 decode steps through the stacked [L, B, S, K, H] cache equal one full forward."""
  model = scanned["qwen3-tied-bias"]
  config = hf_checkpoints["qwen3-tied-bias"][2]
  prompt_len, steps = 8, 4
  ids, mask = hf_reference.padded_batch([8, 5, 2], prompt_len + steps, config.vocab_size, side="left", seed=6)
  mask[:, prompt_len:] = 1
  full_hidden, _ = nnx.jit(lambda m, i, a: m(i, a))(model, ids, mask)
  step = nnx.jit(lambda m, i, a, p, c: m(i, a, p, cache=c))
  positions = np.asarray(models.positions_from_mask(mask))
  cache = models.init_cache(model.config, batch=3, max_length=prompt_len + steps, dtype=jnp.float32,
                            scan_layers=True)
  assert cache.k.shape == (model.config.num_layers, 3, prompt_len + steps, model.config.num_kv_heads,
                           model.config.head_dim)
  hidden, cache = step(model, ids[:, :prompt_len], mask[:, :prompt_len], positions[:, :prompt_len], cache)
  outs = [hidden]
  for t in range(prompt_len, prompt_len + steps):
    hidden, cache = step(model, ids[:, t:t + 1], mask[:, t:t + 1], positions[:, t:t + 1], cache)
    outs.append(hidden)
  cached = np.concatenate([np.asarray(h) for h in outs], axis=1)
  real = mask.astype(bool)
  np.testing.assert_allclose(cached[real], np.asarray(full_hidden)[real], atol=1e-5)


def test_cache_layout_must_match_the_model(scanned):
  model = scanned["qwen3-tied-bias"]
  cache = models.init_cache(model.config, batch=1, max_length=4, dtype=jnp.float32)  # per-layer layout
  with pytest.raises(ValueError, match=r"per-layer.*scan_layers=True"):
    model(jnp.zeros((1, 2), jnp.int32), jnp.ones((1, 2), jnp.int32), cache=cache)


def test_scanned_sharded_forward_equals_single_device(hf_checkpoints, scanned):
  """Stacked weights on a (2, 2, 2) mesh: layer axis unsplit (leading None), same logits as 1 device."""
  path, _, config = hf_checkpoints["qwen2-untied"]
  mesh = sharding.make_mesh(sharding.MeshConfig(data=2, fsdp=2, tensor=2))
  sharded = models.load_pretrained(path, dtype=jnp.float32, mesh=mesh, scan_layers=True)
  q_proj = sharded.layers.attn.q_proj[...]
  assert q_proj.sharding.spec == jax.sharding.PartitionSpec(None, "fsdp", "tensor", None)
  assert q_proj.addressable_shards[0].data.shape == (q_proj.shape[0], q_proj.shape[1] // 2, q_proj.shape[2] // 2,
                                                    q_proj.shape[3])
  acts = sharding.ActivationSharding(mesh, "train")
  ids, mask = hf_reference.padded_batch([16, 9, 3, 12], 16, config.vocab_size, side="left", seed=5)

  @nnx.jit
  def forward(model, ids, mask):
    hidden, _ = model(ids, mask, constrain=acts.constrain, remat=True)
    return model.logits(hidden, constrain=acts.constrain)

  out = forward(sharded, ids, mask)
  np.testing.assert_allclose(np.asarray(out), np.asarray(models.logits(scanned["qwen2-untied"], ids, mask)),
                             atol=2e-5)


def test_scanned_parameter_count_and_shardings_at_scale():
  """Shapes only: the same parameter count as unscanned, and every stacked spec is the unstacked one with
  a leading None (fsdp 16 x tensor 4 on abstract devices)."""
  config = models.preset("qwen2.5-math-7b")
  scan = models.abstract_model(config, scan_layers=True)
  assert sum(x.size for x in jax.tree.leaves(nnx.state(scan))) == models.param_count(config)
  plain_state = nnx.state(models.abstract_model(config))
  mesh = jax.sharding.AbstractMesh((1, 16, 4), sharding.MESH_AXES)
  plain_specs = {".".join(map(str, p)): s.spec for p, s in nnx.to_flat_state(
      sharding.state_shardings(plain_state, mesh))}
  for p, s in nnx.to_flat_state(sharding.state_shardings(nnx.state(scan), mesh)):
    dotted = ".".join(map(str, p))
    if dotted.startswith("layers."):
      assert s.spec == jax.sharding.PartitionSpec(None, *plain_specs[dotted.replace("layers.", "layers.0.", 1)])
    else:
      assert s.spec == plain_specs[dotted]
