"""The pytrees the trainer passes through its jitted functions: the train state and a rollout batch.

The train state is one pytree (parameters, optimizer state, transform states such as SIREN's anchor and
the Positive-Advantage lambda, step, PRNG key), so a single orbax save/restore captures a run exactly
and the update step can donate it whole.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import nnx, struct


@struct.dataclass
class TrainState:
  """Attributes:
    params: `nnx.State` of the policy's parameters (the graphdef is static, kept by the trainer).
    opt_state: optax state (includes apply_if_finite's skip counters).
    objective_state: per-transform state, `Objective.init_state()` layout.
    step: [] int32, optimizer steps taken.
    rollout_step: [] int32, rollout batches consumed (the RL "training step" of verl).
    key: raw uint32 PRNG key data [2]; every random draw of a step folds from it.
  """

  params: Any
  opt_state: Any
  objective_state: Any
  step: jax.Array
  rollout_step: jax.Array
  key: jax.Array


def create_train_state(model: nnx.Module, tx: optax.GradientTransformation, objective_state: Any,
                       seed: int) -> tuple[nnx.GraphDef, TrainState]:
  graphdef, params = nnx.split(model, nnx.Param)
  return graphdef, TrainState(
      params=params,
      opt_state=tx.init(params),
      objective_state=objective_state,
      step=jnp.zeros((), jnp.int32),
      rollout_step=jnp.zeros((), jnp.int32),
      key=jax.random.key_data(jax.random.key(seed)),
  )


@struct.dataclass
class RolloutBatch:
  """One batch of scored responses, rows = responses (prompt-major: prompt p's samples are adjacent).

  Prompts are left-padded to a common bucket P, completions right-padded to N, so response token t of
  every row sits at sequence position P + t and is predicted by position P + t - 1.

  Attributes:
    prompt_ids, prompt_mask: [R, P].
    completion_ids: [R, N].
    response_mask: [R, N] float32, tokens that enter the loss (real tokens, minus masked truncations).
    advantages: [R, N] float32.
    old_logp: [R, N] float32, log-probs under the parameters that generated the rollout (recomputed).
    old_entropy: [R, N] float32 entropy under those parameters, or None when nothing needs it.
    ref_logp: [R, N] float32 reference-policy log-probs, or None without a KL loss.
  """

  prompt_ids: jax.Array
  prompt_mask: jax.Array
  completion_ids: jax.Array
  response_mask: jax.Array
  advantages: jax.Array
  old_logp: jax.Array
  old_entropy: jax.Array | None = None
  ref_logp: jax.Array | None = None

  @property
  def num_rows(self) -> int:
    return self.prompt_ids.shape[0]

  def take(self, rows: jax.Array) -> "RolloutBatch":
    return jax.tree.map(lambda x: x[rows], self)


def sequence_inputs(prompt_ids, prompt_mask, completion_ids, completion_mask):
  """Concatenated [R, P + N] ids and attention mask of prompt + completion."""
  ids = jnp.concatenate([prompt_ids, completion_ids], axis=1)
  mask = jnp.concatenate([prompt_mask.astype(jnp.int32), completion_mask.astype(jnp.int32)], axis=1)
  return ids, mask
