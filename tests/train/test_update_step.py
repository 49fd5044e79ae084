"""The jitted update step: exact gradient under micro-batching, non-finite updates skipped."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rlvr_jax import models
from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._presets import method_preset
from rlvr_jax.train._optimizer import OptimConfig, make_optimizer
from rlvr_jax.train._scoring import make_scoring_fn
from rlvr_jax.objectives._rollout_batch import RolloutBatch
from rlvr_jax.train._state import create_train_state
from rlvr_jax.train._update import UpdateConfig, make_update_step

ROWS, PROMPT, RESPONSE = 8, 6, 5


def _setup(method: str, seed: int = 0, tx=None):
  config = models.preset("tiny", num_layers=2, vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_heads=4, num_kv_heads=2, head_dim=8)
  model = models.init(config, key=jax.random.key(seed), dtype=jnp.float32)
  objective_config = method_preset(method)
  if method == "siren":  # a fixed anchor makes the squared regularizer active on the first step
    objective_config["siren"]["anchor"] = 0.5
    objective_config["siren"]["top_p"] = 0.95
  objective = build_objective(objective_config)
  tx = tx or make_optimizer(OptimConfig(lr=1e-2, weight_decay=0.0))
  graphdef, state = create_train_state(model, tx, objective.init_state(), seed=seed)

  rng = np.random.default_rng(seed)
  prompt_mask = np.ones((ROWS, PROMPT), np.int32)
  prompt_mask[::3, :2] = 0  # some left padding
  response_mask = np.ones((ROWS, RESPONSE), np.float32)
  response_mask[1::2, 3:] = 0  # some responses end early
  batch = dict(prompt_ids=rng.integers(0, 64, (ROWS, PROMPT)).astype(np.int32), prompt_mask=prompt_mask,
               completion_ids=rng.integers(0, 64, (ROWS, RESPONSE)).astype(np.int32), response_mask=response_mask)
  score = make_scoring_fn(graphdef, temperature=1.0, chunk_size=16, with_entropy=True, rows_per_chunk=4)
  old_logp, old_entropy = score(state.params, batch["prompt_ids"], batch["prompt_mask"], batch["completion_ids"],
                                batch["response_mask"])
  advantages = np.repeat(rng.normal(size=(ROWS, 1)), RESPONSE, axis=1).astype(np.float32) * response_mask
  rollout = RolloutBatch(**{k: jnp.asarray(v) for k, v in batch.items()}, advantages=jnp.asarray(advantages),
                         old_logp=old_logp - 0.05 * jnp.asarray(advantages), old_entropy=old_entropy)
  return graphdef, objective, tx, state, rollout


@pytest.mark.parametrize("method", ["steer", "siren", "clip_cov", "fork_tokens"])
def test_micro_batched_gradient_equals_whole_mini_batch(method):
  """k = 1, 2, 4 micro-batches give the same loss and updated parameters (batch statistics and
  non-linear terms included)."""
  results = []
  sgd = optax.apply_if_finite(optax.sgd(1.0), 10)  # the update is exactly -gradient
  for k in (1, 2, 4):
    graphdef, objective, tx, state, rollout = _setup(method, tx=sgd)
    step = jax.jit(make_update_step(graphdef, objective, tx, UpdateConfig(micro_batches=k, chunk_size=16)))
    new_state, metrics = step(state, rollout, jax.random.key(1))
    results.append((float(metrics["actor/loss"]), float(metrics["actor/grad_norm"]), new_state.params))
  (loss1, norm1, params1) = results[0]
  assert norm1 > 0
  for loss, norm, params in results[1:]:
    assert loss == pytest.approx(loss1, rel=1e-5, abs=1e-7)
    assert norm == pytest.approx(norm1, rel=1e-4)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(params1)):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_scoring_equals_full_logits():
  """The chunked old-log-prob pass equals log_softmax of the full logits at the completion positions."""
  graphdef, _, _, state, rollout = _setup("grpo")
  model = nnx.merge(graphdef, state.params)
  ids = jnp.concatenate([rollout.prompt_ids, rollout.completion_ids], 1)
  mask = jnp.concatenate([rollout.prompt_mask, rollout.response_mask.astype(jnp.int32)], 1)
  logits = models.logits(model, ids, mask)[:, PROMPT - 1:-1]
  expected = jnp.take_along_axis(jax.nn.log_softmax(logits), rollout.completion_ids[..., None], -1)[..., 0]
  score = make_scoring_fn(graphdef, temperature=1.0, chunk_size=16, with_entropy=False, rows_per_chunk=2)
  logp, entropy = score(state.params, rollout.prompt_ids, rollout.prompt_mask, rollout.completion_ids,
                        rollout.response_mask)
  assert entropy is None
  real = np.asarray(rollout.response_mask) > 0
  np.testing.assert_allclose(np.asarray(logp)[real], np.asarray(expected)[real], atol=1e-5)


def test_non_finite_gradient_skips_the_update():
  """A NaN advantage gives NaN gradients: parameters and optimizer moments stay, the skip is counted."""
  graphdef, objective, tx, state, rollout = _setup("grpo")
  bad = rollout.replace(advantages=rollout.advantages.at[0, 0].set(jnp.nan))
  step = jax.jit(make_update_step(graphdef, objective, tx, UpdateConfig(chunk_size=16)))
  new_state, metrics = step(state, bad, jax.random.key(0))
  assert float(metrics["actor/update_skipped"]) == 1.0 and float(metrics["actor/consecutive_skips"]) == 1.0
  for a, b in zip(jax.tree.leaves(new_state.params), jax.tree.leaves(state.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  good_state, metrics = step(new_state, rollout, jax.random.key(0))
  assert float(metrics["actor/update_skipped"]) == 0.0 and float(metrics["actor/consecutive_skips"]) == 0.0
  changed = [not np.array_equal(np.asarray(a), np.asarray(b))
             for a, b in zip(jax.tree.leaves(good_state.params), jax.tree.leaves(state.params))]
  assert all(changed)
