"""The train state: the pytree the trainer passes through (and donates to) its jitted update step.

The train state is one pytree (parameters, optimizer state, transform states such as SIREN's anchor and
the Positive-Advantage lambda, step, PRNG key, and, when configured, PPO's critic with its own optimizer
and the in-reward KL coefficient), so a single orbax save/restore captures a run exactly and the update
steps can donate it whole.
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
    critic: `critic_update.CriticState` (value model parameters, its optimizer state and step), or None
      without a critic.
    kl_controller: `kl_reward.KLControllerState` (the in-reward KL coefficient), or None without KL in
      the reward.
  """

  params: Any
  opt_state: Any
  objective_state: Any
  step: jax.Array
  rollout_step: jax.Array
  key: jax.Array
  critic: Any = None
  kl_controller: Any = None


def create_train_state(model: nnx.Module, tx: optax.GradientTransformation, objective_state: Any, seed: int, *,
                       critic: Any = None, kl_controller: Any = None) -> tuple[nnx.GraphDef, TrainState]:
  """The policy's graphdef and the initial train state; `critic` and `kl_controller` as in `TrainState`."""
  graphdef, params = nnx.split(model, nnx.Param)
  return graphdef, TrainState(
      params=params,
      opt_state=tx.init(params),
      objective_state=objective_state,
      step=jnp.zeros((), jnp.int32),
      rollout_step=jnp.zeros((), jnp.int32),
      key=jax.random.key_data(jax.random.key(seed)),
      critic=critic,
      kl_controller=kl_controller,
  )
