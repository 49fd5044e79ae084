"""The transform interface, the registry of transforms, and the rule that makes a list of them well defined.

A transform is a frozen dataclass of hyperparameters (validated in `__post_init__`) with three pure
methods:

  init_state()                                   -> transform state pytree (may be {})
  apply(batch, objective_state, state, key)      -> objective_state       (inside the loss, jit-able)
  update_state(state, step_metrics, progress)    -> state                 (between optimizer steps)

Order semantics. Transforms run in config order, each on the output of the previous one. Scaling
weights, shrinking the loss mask and adding loss terms commute, so most orders give the same loss. Three
pieces of the objective state are *read* by some transforms and *written* by others ("channels"):

  ppo_params   the clip parameters (clip_higher writes; STEER theorem form, Clip-Cov read)
  advantages   (entropy_advantage writes; everything that looks at A reads)
  token_loss   the replacement of the PPO token loss (Clip-Cov and KL-Cov write; there can be only one)

`check_transform_order` rejects a list where a transform writes a channel that an earlier transform
already read (the earlier one would have seen a stale value), two writers of `token_loss`, and a
transform listed twice. Every registered channel has a single writer, so every accepted list gives the
same objective in any accepted order; what order can change is only whether the list is accepted.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, ClassVar, Mapping, Sequence, TypeVar

import flax.struct
import jax
import jax.numpy as jnp

from rlvr_jax.objectives._batch import ObjectiveState, TokenBatch
from rlvr_jax._registry import Registry

PPO_PARAMS = "ppo_params"
ADVANTAGES = "advantages"
TOKEN_LOSS = "token_loss"
CHANNELS = (PPO_PARAMS, ADVANTAGES, TOKEN_LOSS)
# A channel only one transform in a list may write.
EXCLUSIVE_CHANNELS = (TOKEN_LOSS,)


@flax.struct.dataclass
class TrainingProgress:
  """Where training stands when a schedule is updated (arrays, so update_state can be jitted).

  Attributes:
    step: number of optimizer steps completed (= index of the step about to run).
    total_steps: planned number of optimizer steps.
    epoch: 0-based index of the epoch the next step belongs to.
    total_epochs: planned number of epochs.
  """

  step: jax.Array
  total_steps: jax.Array
  epoch: jax.Array
  total_epochs: jax.Array

  @classmethod
  def create(cls, step: int, total_steps: int, epoch: int = 0, total_epochs: int = 1) -> TrainingProgress:
    return cls(*(jnp.asarray(value, jnp.float32) for value in (step, total_steps, epoch, total_epochs)))


class Transform(abc.ABC):
  """Base class of entropy-control transforms (subclasses are frozen dataclasses).

  Class attributes a subclass sets:
    name: registry name, set by `register_transform`.
    needs_ppo_loss: only meaningful with the PPO policy loss (it sets or replaces the PPO clipped loss);
      validated against the config's policy loss.
    scales_weights: multiplies the per-token weights, which a sequence-level policy loss (GMPO) has no
      place for; validated against the config's policy loss.
    needs_kl_loss: acts on the KL loss term, so the config must have one (`kl`).
    needs_key: draws random numbers from the `key` argument of `apply`.
  """

  name: ClassVar[str] = ""
  needs_ppo_loss: ClassVar[bool] = False
  scales_weights: ClassVar[bool] = False
  needs_kl_loss: ClassVar[bool] = False
  needs_key: ClassVar[bool] = False

  def reads(self) -> frozenset[str]:
    """Channels of the objective state this transform reads."""
    return frozenset()

  def writes(self) -> frozenset[str]:
    """Channels of the objective state this transform writes."""
    return frozenset()

  def required_inputs(self) -> frozenset[str]:
    """Optional TokenBatch fields this transform needs (subset of batch.OPTIONAL_INPUTS)."""
    return frozenset()

  def token_stats_request(self) -> dict[str, Any]:
    """Keyword arguments for `token_statistics` (e.g. SIREN's top_p / top_k)."""
    return {}

  def init_state(self) -> Any:
    return {}

  @abc.abstractmethod
  def apply(self, batch: TokenBatch, state: ObjectiveState, transform_state: Any,
            key: jax.Array | None) -> ObjectiveState:
    """Returns the objective state with this method applied; pure (runs inside the jitted loss)."""

  def update_state(self, transform_state: Any, step_metrics: Mapping[str, jax.Array],
                   progress: TrainingProgress) -> Any:
    del step_metrics, progress
    return transform_state


TRANSFORMS: Registry[type[Transform]] = Registry("objective transform")

TransformT = TypeVar("TransformT", bound=type)


def register_transform(name: str) -> Callable[[TransformT], TransformT]:
  """Registers a Transform subclass under `name` and records the name on the class."""

  def add(cls: TransformT) -> TransformT:
    cls.name = name  # type: ignore[attr-defined]
    return TRANSFORMS.register(name)(cls)

  return add


def read_metric(step_metrics: Mapping[str, jax.Array], key: str, owner: str) -> jax.Array:
  """A step metric a schedule needs; a missing one names the field and what is available."""
  if key not in step_metrics:
    raise ValueError(f"{owner}: step metric {key!r} is missing; available: "
                     f"{', '.join(sorted(step_metrics)) or 'none'}")
  return jnp.asarray(step_metrics[key], jnp.float32)


def check_transform_order(transforms: Sequence[Transform]) -> None:
  """Rejects duplicates, read-after-write violations and two writers of an exclusive channel."""
  names = [t.name for t in transforms]
  duplicates = sorted({n for n in names if names.count(n) > 1})
  if duplicates:
    raise ValueError(f"transforms lists {duplicates} more than once: {tuple(names)}")
  for later_index, later in enumerate(transforms):
    for earlier in transforms[:later_index]:
      stale = earlier.reads() & later.writes()
      if stale:
        raise ValueError(
            f"transforms order {tuple(names)}: {later.name!r} writes {sorted(stale)}, which "
            f"{earlier.name!r} reads before it; list {later.name!r} first")
  for channel in EXCLUSIVE_CHANNELS:
    writers = [t.name for t in transforms if channel in t.writes()]
    if len(writers) > 1:
      raise ValueError(f"transforms {writers} all replace the policy {channel}; keep only one")
