"""PPO's value model and critic step on a one-layer Qwen: which position gives V(s_t), the head's
initialisation, the chunked value pass, the clipped value loss against a numpy transcription of verl's
`compute_value_loss`, exact gradient accumulation over micro-batches, and that the critic learns."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlvr_jax import models
from rlvr_jax.train._critic_update import CriticUpdateConfig, create_critic_state, make_critic_update_step
from rlvr_jax.train._optimizer import OptimConfig, make_optimizer
from rlvr_jax.train._state import TrainState
from rlvr_jax.train._train_batch import TrainBatch
from rlvr_jax.train._value_model import ValueModel, completion_values, make_value_fn

ARCH = models.preset("tiny", vocab_size=64, hidden_size=32, intermediate_size=64, num_layers=1, num_heads=2,
                     num_kv_heads=1, head_dim=16, tie_word_embeddings=False)
ROWS, PROMPT, RESPONSE = 8, 3, 5


def _value_model(seed: int = 0) -> ValueModel:
  backbone = models.init(ARCH, key=jax.random.key(seed), dtype=jnp.float32, param_dtype=jnp.float32)
  return ValueModel(backbone, key=jax.random.key(seed + 1))


def _batch(seed: int = 0) -> TrainBatch:
  rng = np.random.default_rng(seed)
  prompt_mask = np.ones((ROWS, PROMPT), np.int32)
  prompt_mask[0, 0] = 0  # a left-padded prompt
  lengths = rng.integers(1, RESPONSE + 1, ROWS)
  mask = (np.arange(RESPONSE)[None, :] < lengths[:, None]).astype(np.float32)
  returns = rng.normal(0.0, 1.0, (ROWS, RESPONSE)).astype(np.float32) * mask
  # Old values near and far (for a clip range of 0.05) from the current ones (|V| < 0.1 at initialisation).
  old_values = rng.normal(0.0, 0.1, (ROWS, RESPONSE)).astype(np.float32)
  zeros = jnp.zeros((ROWS, RESPONSE))
  return TrainBatch(prompt_ids=jnp.asarray(rng.integers(0, 64, (ROWS, PROMPT)), jnp.int32),
                    prompt_mask=jnp.asarray(prompt_mask), completion_ids=jnp.asarray(rng.integers(0, 64, (ROWS, RESPONSE)),
                                                                                      jnp.int32),
                    response_mask=jnp.asarray(mask), advantages=zeros, old_logp=zeros, returns=jnp.asarray(returns),
                    old_values=jnp.asarray(old_values))


def test_value_of_position_t_is_read_before_token_t_is_chosen():
  """V(s_t) comes from position P + t - 1 (verl values[:, -T - 1: -1]): changing response token t changes
  the values after it, never V(s_t) itself or earlier ones."""
  model, batch = _value_model(), _batch()
  values_of = nnx.jit(completion_values)  # one program for the three calls (op by op: ~100 compiles)

  @nnx.jit
  def by_hand_values(model, ids, mask):
    hidden, _ = model.backbone(ids, mask)
    return hidden[:, PROMPT - 1: PROMPT - 1 + RESPONSE] @ model.head[...] + model.bias[...]

  values = values_of(model, batch.prompt_ids, batch.prompt_mask, batch.completion_ids, batch.response_mask)
  ids = jnp.concatenate([batch.prompt_ids, batch.completion_ids], 1)
  mask = jnp.concatenate([batch.prompt_mask, batch.response_mask.astype(jnp.int32)], 1)
  by_hand = by_hand_values(model, ids, mask)
  np.testing.assert_allclose(np.asarray(values), np.asarray(by_hand), atol=1e-5)
  changed = batch.completion_ids.at[:, 2].set((batch.completion_ids[:, 2] + 1) % 64)
  after = values_of(model, batch.prompt_ids, batch.prompt_mask, changed, jnp.ones((ROWS, RESPONSE)))
  before = values_of(model, batch.prompt_ids, batch.prompt_mask, batch.completion_ids, jnp.ones((ROWS, RESPONSE)))
  np.testing.assert_allclose(np.asarray(after[:, :3]), np.asarray(before[:, :3]), atol=1e-6)
  assert np.abs(np.asarray(after[:, 3:] - before[:, 3:])).max() > 1e-4


def test_head_is_initialised_as_an_hf_linear_layer_and_the_lm_head_is_dropped():
  """verl's critic is AutoModelForTokenClassification(num_labels=1): score ~ normal(0, 0.02), bias 0, no
  LM head (which would otherwise carry dead optimizer state)."""
  model = _value_model()
  _, params = nnx.split(model, nnx.Param)
  assert "lm_head" not in params["backbone"]
  big = ValueModel(models.init(models.preset("tiny", num_layers=1), key=jax.random.key(0), dtype=jnp.float32),
                   key=jax.random.key(3))
  assert np.std(np.asarray(big.head[...])) == pytest.approx(0.02, rel=0.2)  # D = 128 draws
  assert float(big.bias[...]) == 0.0 and big.head[...].dtype == jnp.float32


def test_chunked_value_pass_equals_the_direct_one():
  model, batch = _value_model(), _batch()
  graphdef, params = nnx.split(model, nnx.Param)
  chunked = make_value_fn(graphdef, rows_per_chunk=2)(params, batch.prompt_ids, batch.prompt_mask,
                                                      batch.completion_ids, batch.response_mask)
  direct = nnx.jit(completion_values)(model, batch.prompt_ids, batch.prompt_mask, batch.completion_ids,
                                      batch.response_mask)
  np.testing.assert_allclose(np.asarray(chunked), np.asarray(direct), atol=1e-5)


@pytest.fixture(scope="module")
def critic():
  """One value model, optimizer and compiled critic step per micro-batch count (c = 0.05), shared."""
  model = _value_model()
  tx = make_optimizer(OptimConfig(lr=3e-3, weight_decay=0.0, grad_clip=0.0))
  graphdef, critic_state = create_critic_state(model, tx)
  state = TrainState(params={"policy": jnp.ones(3)}, opt_state=None, objective_state={}, step=jnp.zeros((), jnp.int32),
                     rollout_step=jnp.zeros((), jnp.int32), key=jax.random.key_data(jax.random.key(0)),
                     critic=critic_state)
  steps = {k: jax.jit(make_critic_update_step(graphdef, tx, CriticUpdateConfig(cliprange_value=C, micro_batches=k)))
           for k in (1, 4)}
  return model, state, steps


C = 0.05


def _numpy_value_loss(values, returns, old_values, mask, c):
  """verl compute_value_loss: 0.5 * masked_mean(max((v - R)^2, (clip(v, v_old - c, v_old + c) - R)^2))."""
  clipped = old_values + np.clip(values - old_values, -c, c)
  unclipped_loss, clipped_loss = (values - returns) ** 2, (clipped - returns) ** 2
  valid = mask > 0
  return (0.5 * np.maximum(unclipped_loss, clipped_loss)[valid].mean(),
          (clipped_loss > unclipped_loss)[valid].mean())


def test_critic_step_minimizes_verls_clipped_value_loss(critic):
  model, state, steps = critic
  batch = _batch()
  values = np.asarray(completion_values(model, batch.prompt_ids, batch.prompt_mask, batch.completion_ids,
                                        batch.response_mask))
  new_state, metrics = steps[1](state, batch)
  loss, clipfrac = _numpy_value_loss(values, np.asarray(batch.returns), np.asarray(batch.old_values),
                                     np.asarray(batch.response_mask), C)
  assert float(metrics["critic/value_loss"]) == pytest.approx(loss, rel=1e-5)
  assert float(metrics["critic/vf_clipfrac"]) == pytest.approx(clipfrac, abs=1e-6)
  assert 0.0 < clipfrac < 1.0  # both branches of the max occur
  assert int(new_state.critic.step) == 1 and float(metrics["critic/update_skipped"]) == 0.0
  np.testing.assert_array_equal(np.asarray(new_state.params["policy"]), np.ones(3))  # the actor is untouched
  moved = [np.abs(np.asarray(a) - np.asarray(b)).max() for a, b in
           zip(jax.tree.leaves(new_state.critic.params), jax.tree.leaves(state.critic.params))]
  assert min(moved) > 0  # every parameter, the head included, trains


def test_micro_batches_accumulate_the_exact_mini_batch_gradient(critic):
  _, state, steps = critic
  batch = _batch(1)
  (one, m1), (four, m4) = steps[1](state, batch), steps[4](state, batch)
  assert float(m4["critic/value_loss"]) == pytest.approx(float(m1["critic/value_loss"]), rel=1e-5)
  assert float(m4["critic/vf_clipfrac"]) == pytest.approx(float(m1["critic/vf_clipfrac"]), abs=1e-6)
  assert float(m4["critic/grad_norm"]) == pytest.approx(float(m1["critic/grad_norm"]), rel=1e-4)
  # Adam's first step is about lr * sign(g): a gradient element near zero may round either way (the
  # grad-norm check above is the exact one; this one catches rows or micro-batches mixed up).
  for a, b in zip(jax.tree.leaves(one.critic.params), jax.tree.leaves(four.critic.params)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-4)


def test_the_critic_fits_fixed_returns(critic):
  _, state, steps = critic
  batch = _batch(2)
  # Old values = the targets: the clipped branch is never above the unclipped one, so the loss is
  # 0.5 (V - R)^2 and nothing holds the values back.
  batch = batch.replace(old_values=batch.returns)
  losses = []
  for _ in range(40):
    state, metrics = steps[1](state, batch)
    losses.append(float(metrics["critic/value_loss"]))
  assert losses[-1] < 0.3 * losses[0]
