"""A tiny policy whose next-token distributions look like a language model's, and a rollout batch of it.

At the default random init the residual stream is ~0.02 in size, so the final RMSNorm divides by ~0.02
and every logit moves mostly through the shared lower layers, and the distributions are near uniform,
where STEER's sampled-token factor pi (1 - pi)(log pi + H) vanishes. Neither resembles a trained LM.
Scaling the embedding to unit size and the final-norm gain g up (peaked distributions, H ~ 2.5 nats of
log 512 = 6.2) puts the logits' movement in the LM head, whose per-state kernel is |h|^2 = g^2 D: an SGD
step then moves each state's logits as the tabular view behind the estimate assumes, times g^2 D.
Completions are sampled from the policy itself, so sampled tokens are typical rather than uniform.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from rlvr_jax import models
from rlvr_jax.objectives import Objective, build_objective
from rlvr_jax.objectives._presets import method_preset
from rlvr_jax.train._scoring import make_scoring_fn
from rlvr_jax.objectives._rollout_batch import RolloutBatch
from rlvr_jax.train._state import TrainState
from rlvr_jax.train._update import UpdateConfig, make_update_step

ROWS, PROMPT, RESPONSE, VOCAB, GROUP = 8, 4, 6, 512, 4
HIDDEN, EMBED_SCALE, GAIN = 32, 50.0, 30.0
# Small enough that entropies move by ~1e-3 nats (first-order regime), far above float32 noise.
LEARNING_RATE = 1e-5


@dataclasses.dataclass(frozen=True)
class TinyRollout:
  graphdef: nnx.GraphDef
  params: nnx.State
  scoring_fn: object
  batch: RolloutBatch
  full_logits: np.ndarray  # [R, N, V] at the completion positions, for reference computations


@pytest.fixture(scope="session")
def tiny_rollout() -> TinyRollout:
  config = models.preset("tiny", num_layers=2, vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
                         num_heads=4, num_kv_heads=2, head_dim=8, tie_word_embeddings=False)
  model = models.init(config, key=jax.random.key(0), dtype=jnp.float32)
  model.embed[...] = model.embed[...] * EMBED_SCALE
  model.final_norm.scale[...] = model.final_norm.scale[...] * GAIN
  graphdef, params = nnx.split(model, nnx.Param)

  rng = np.random.default_rng(0)
  prompt_ids = rng.integers(0, VOCAB, (ROWS, PROMPT)).astype(np.int32)
  prompt_ids[:, -1] = rng.choice(VOCAB, ROWS, replace=False)  # distinct first states
  prompt_mask = np.ones((ROWS, PROMPT), np.int32)
  prompt_mask[::3, :1] = 0  # some left padding
  ids = np.concatenate([prompt_ids, np.zeros((ROWS, RESPONSE), np.int32)], axis=1)
  attention = np.concatenate([prompt_mask, np.ones((ROWS, RESPONSE), np.int32)], axis=1)
  logits_fn = jax.jit(lambda p, i, m: models.logits(nnx.merge(graphdef, p), i, m))
  # Each response token is drawn from the policy restricted to tokens that no position has seen yet:
  # this policy's state is mostly its input token, so a repeated input would be one state updated by
  # several tokens at once, which a per-token estimate cannot know about (see test_entropy_change_probe).
  used = np.zeros(VOCAB, bool)
  used[prompt_ids[:, -1]] = True
  for t in range(RESPONSE):  # causal: position P + t - 1 only sees tokens already drawn
    logits = np.asarray(logits_fn(params, ids, attention)[:, PROMPT + t - 1], np.float64)  # [R, V]
    for row in range(ROWS):
      z = np.where(used, -np.inf, logits[row])
      probs = np.exp(z - z.max())
      ids[row, PROMPT + t] = rng.choice(VOCAB, p=probs / probs.sum())
      used[ids[row, PROMPT + t]] = True
  full_logits = np.asarray(logits_fn(params, ids, attention)[:, PROMPT - 1:-1])

  response_mask = np.ones((ROWS, RESPONSE), np.float32)
  response_mask[1::2, 4:] = 0  # some responses end early
  completion_ids = ids[:, PROMPT:]
  scoring_fn = make_scoring_fn(graphdef, temperature=1.0, chunk_size=16, with_entropy=True, rows_per_chunk=4)
  old_logp, old_entropy = scoring_fn(params, prompt_ids, prompt_mask, completion_ids, response_mask)
  advantages = np.repeat(rng.normal(size=(ROWS, 1)), RESPONSE, axis=1).astype(np.float32) * response_mask
  batch = RolloutBatch(prompt_ids=jnp.asarray(prompt_ids), prompt_mask=jnp.asarray(prompt_mask),
                       completion_ids=jnp.asarray(completion_ids), response_mask=jnp.asarray(response_mask),
                       advantages=jnp.asarray(advantages), old_logp=old_logp, old_entropy=old_entropy)
  return TinyRollout(graphdef=graphdef, params=params, scoring_fn=scoring_fn, batch=batch, full_logits=full_logits)


@dataclasses.dataclass(frozen=True)
class Update:
  objective: Objective
  params: nnx.State  # after the step


@pytest.fixture(scope="session")
def sgd_update(tiny_rollout) -> Update:
  """One real training step on the batch: the trainer's update step, GRPO objective, plain SGD."""
  objective = build_objective(method_preset("grpo"))
  tx = optax.apply_if_finite(optax.sgd(LEARNING_RATE), 3)
  state = TrainState(params=tiny_rollout.params, opt_state=tx.init(tiny_rollout.params),
                     objective_state=objective.init_state(), step=jnp.zeros((), jnp.int32),
                     rollout_step=jnp.zeros((), jnp.int32), key=jax.random.key_data(jax.random.key(0)))
  step = jax.jit(make_update_step(tiny_rollout.graphdef, objective, tx, UpdateConfig(chunk_size=16)))
  new_state, metrics = step(state, tiny_rollout.batch, jax.random.key(0))
  assert float(metrics["actor/update_skipped"]) == 0.0
  return Update(objective=objective, params=new_state.params)
