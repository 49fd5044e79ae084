"""The two pytrees an objective is computed from: the token batch (inputs) and the objective state.

`TokenBatch` holds everything measured on the rollout and in the training forward pass. It never changes
inside the objective. `ObjectiveState` is what the entropy-control transforms edit, one after another:
advantages, per-token weights, the loss mask, the PPO clip parameters, an optional replacement of the
PPO token loss, extra scalar loss terms and metrics. Every method in this library is a function
`ObjectiveState -> ObjectiveState`, which is what makes a list of methods composable.

Normalization groups: several methods compute batch statistics (STEER's min/max of |Omega|, the
Clip-Cov/KL-Cov covariance means and top-k, the forking-token top-20%, SIREN's entropy aggregate). The
reference code computes them per micro-batch per GPU (algorithms.md §0, §9.1). `norm_group` labels each
row with its micro-batch, so a transform can reproduce that grouping with segment ops ("micro_batch"
scope) or ignore it and use the whole batch ("mini_batch" scope), without Python loops either way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp

from rlvr_jax.objectives._aggregation import aggregate

# Input fields a transform may require; `Objective.required_inputs` reports their union.
OPTIONAL_INPUTS = ("old_entropy", "entropy", "topp_entropy", "ref_logp")  # [B, T]
ROW_INPUTS = ("clip_ratio_high",)  # [B]
# "micro_batch": statistics per `norm_group` (reference parity); "mini_batch": over the whole batch.
NORM_SCOPES = ("mini_batch", "micro_batch")


@flax.struct.dataclass
class TokenBatch:
  """Per-token inputs of the objective for one (mini- or micro-) batch.

  Attributes:
    response_mask: [B, T] 1 on real response tokens.
    advantages: [B, T] advantage per token (already masked by the estimator).
    logp: [B, T] log-prob of the sampled token under the current parameters; carries the gradient.
    old_logp: [B, T] log-prob under the rollout-time policy (constant).
    old_entropy: [B, T] full entropy under the rollout-time policy (STEER's H_old), or None.
    entropy: [B, T] full entropy of the current policy, with gradient (entropy bonus, fork mask), or None.
    topp_entropy: [B, T] SIREN's nucleus entropy of the current policy, with gradient, or None.
    ref_logp: [B, T] reference-model log-prob (KL loss), or None.
    clip_ratio_high: [B] per-prompt upper clip eps_high of each row (STEER's per_prompt_clip_ratio_high,
      read by clip_higher with per_prompt=True), or None.
    norm_group: [B] int in [0, num_norm_groups): the micro-batch each row belongs to.
    global_tokens: valid-token count of the whole mini-batch (micro-batch-invariant token-mean), or None.
    global_sequences: row count of the whole mini-batch (seq-mean modes), or None.
    num_norm_groups: static number of normalization groups (segment ops need it at trace time).
  """

  response_mask: jax.Array
  advantages: jax.Array
  logp: jax.Array
  old_logp: jax.Array
  norm_group: jax.Array
  old_entropy: jax.Array | None = None
  entropy: jax.Array | None = None
  topp_entropy: jax.Array | None = None
  ref_logp: jax.Array | None = None
  clip_ratio_high: jax.Array | None = None
  global_tokens: jax.Array | None = None
  global_sequences: jax.Array | None = None
  num_norm_groups: int = flax.struct.field(pytree_node=False, default=1)

  @classmethod
  def create(cls, *, response_mask: jax.Array, advantages: jax.Array, logp: jax.Array,
             old_logp: jax.Array, norm_group: jax.Array | None = None, num_norm_groups: int = 1,
             **optional: Any) -> TokenBatch:
    """Builds a batch; without `norm_group` every row is in group 0 (one group)."""
    if norm_group is None:
      norm_group = jnp.zeros(response_mask.shape[:1], jnp.int32)
    return cls(response_mask=response_mask, advantages=advantages, logp=logp, old_logp=old_logp,
               norm_group=norm_group, num_norm_groups=num_norm_groups, **optional)

  @classmethod
  def from_token_stats(cls, stats: Any, *, response_mask: jax.Array, advantages: jax.Array,
                       old_logp: jax.Array, **optional: Any) -> TokenBatch:
    """Takes logp / entropy / topp_entropy from a `token_stats.TokenStats` of the training forward."""
    return cls.create(response_mask=response_mask, advantages=advantages, logp=stats.logp,
                      old_logp=old_logp, entropy=stats.entropy, topp_entropy=stats.topp_entropy,
                      **optional)

  def validate(self, required: frozenset[str] | set[str] = frozenset()) -> None:
    """Shape and presence checks (Python-level, so they fail before compilation)."""
    shape = tuple(self.response_mask.shape)
    if len(shape) != 2:
      raise ValueError(f"TokenBatch.response_mask must be [B, T], got shape {shape}")
    for name in ("advantages", "logp", "old_logp") + OPTIONAL_INPUTS:
      value = getattr(self, name)
      if value is not None and tuple(value.shape) != shape:
        raise ValueError(f"TokenBatch.{name} has shape {tuple(value.shape)}, expected {shape}")
    for name in ROW_INPUTS:
      value = getattr(self, name)
      if value is not None and tuple(value.shape) != shape[:1]:
        raise ValueError(f"TokenBatch.{name} has shape {tuple(value.shape)}, expected {shape[:1]}")
    if tuple(self.norm_group.shape) != shape[:1]:
      raise ValueError(f"TokenBatch.norm_group has shape {tuple(self.norm_group.shape)}, "
                       f"expected {shape[:1]}")
    if not isinstance(self.num_norm_groups, int) or self.num_norm_groups < 1:
      raise ValueError(f"TokenBatch.num_norm_groups must be a positive int, got {self.num_norm_groups!r}")
    missing = sorted(name for name in required if getattr(self, name) is None)
    if missing:
      raise ValueError(f"the objective needs TokenBatch fields {missing}, which are None; compute "
                       f"them in the rollout / training forward (see Objective.required_inputs)")

  @staticmethod
  def entropy_field(source: str) -> str:
    """The field holding the entropy of the current ("current") or rollout-time policy ("old")."""
    return "entropy" if source == "current" else "old_entropy"

  def entropy_from(self, source: str) -> jax.Array | None:
    return getattr(self, self.entropy_field(source))

  def group_ids(self, scope: str) -> tuple[jax.Array, int]:
    """[B] group id per row and the static group count for a normalization `scope`."""
    if scope == "mini_batch":
      return jnp.zeros_like(self.norm_group), 1
    if scope == "micro_batch":
      return self.norm_group, self.num_norm_groups
    raise ValueError(f"norm_scope={scope!r} is not one of: mini_batch, micro_batch")



@dataclasses.dataclass(frozen=True)
class PPOClipParams:
  """Static clip parameters of the PPO token loss; `clip_higher` and friends replace them.

  Attributes:
    eps_low: lower clip, ratio floor 1 - eps_low for A < 0.
    eps_high: upper clip, ratio cap 1 + eps_high for A > 0.
    dual_clip_c: dual-clip cap c > 1 on the loss of A < 0 tokens, or None for single-clip PPO.
    clamp_log_ratio: clamp logp - old_logp to [-20, 20] (verl >= 0.4.1; absent in SIREN's copy).
  """

  eps_low: float = 0.2
  eps_high: float = 0.2
  dual_clip_c: float | None = 3.0
  clamp_log_ratio: bool = True


@dataclasses.dataclass(frozen=True)
class AggregationSpec:
  """How the policy loss reduces [B, T] to a scalar; entropy terms that follow the policy reuse it.

  Attributes: see `aggregation.aggregate` (mode, norm_constant, empty_rows, token_sum_norm_rows).
  """

  mode: str = "token-mean"
  norm_constant: float | None = None
  empty_rows: str = "zero"
  token_sum_norm_rows: str = "sum"

  def __call__(self, values: jax.Array, mask: jax.Array, *, global_tokens: jax.Array | None = None,
               global_sequences: jax.Array | None = None) -> jax.Array:
    return aggregate(values, mask, self.mode, global_tokens=global_tokens,
                     global_sequences=global_sequences, norm_constant=self.norm_constant,
                     empty_rows=self.empty_rows, token_sum_norm_rows=self.token_sum_norm_rows)


@flax.struct.dataclass
class ObjectiveState:
  """What the transforms edit; the objective turns the final state into the scalar loss.

  The policy loss is `aggregation(token_weights * L_tok, loss_mask) + sum(extra_losses)`,
  where L_tok is `token_loss` when a transform replaced the PPO loss, else the configured policy loss
  of `advantages` (PPO under `ppo`); the KL loss term, if configured, is aggregated over `kl_mask`.

  Attributes:
    advantages: [B, T] float32 advantages as modified so far.
    token_weights: [B, T] float32 constant weights on the token loss (not renormalized).
    loss_mask: [B, T] bool, tokens that enter the aggregation (numerator and denominator).
    token_loss: [B, T] float32 replacement of the PPO token loss, or None.
    extra_losses: name -> float32 scalar added to the loss (already scaled by its coefficient).
    metrics: name -> float32 scalar.
    kl_mask: [B, T] bool, tokens the KL loss term is aggregated over (SIREN's siren_kl restricts it).
    eps_high_rows: [B] float32 per-row upper clip replacing ppo.eps_high (STEER's per-prompt clip), or None.
    ppo: static PPO clip parameters.
    aggregation: static aggregation of the policy loss (entropy bonus terms reuse it).
  """

  advantages: jax.Array
  token_weights: jax.Array
  loss_mask: jax.Array
  token_loss: jax.Array | None
  extra_losses: dict[str, jax.Array]
  metrics: dict[str, jax.Array]
  kl_mask: jax.Array
  eps_high_rows: jax.Array | None
  ppo: PPOClipParams = flax.struct.field(pytree_node=False)
  aggregation: AggregationSpec = flax.struct.field(pytree_node=False)

  @classmethod
  def initial(cls, batch: TokenBatch, ppo: PPOClipParams,
              aggregation: AggregationSpec | str) -> ObjectiveState:
    """Unit weights, the response mask and the batch's advantages; a str is a plain aggregation mode."""
    if isinstance(aggregation, str):
      aggregation = AggregationSpec(mode=aggregation)
    mask = batch.response_mask > 0  # [B, T]
    return cls(
        advantages=jnp.where(mask, batch.advantages.astype(jnp.float32), 0.0),
        token_weights=jnp.ones(mask.shape, jnp.float32),
        loss_mask=mask,
        token_loss=None,
        extra_losses={},
        metrics={},
        kl_mask=mask,
        eps_high_rows=None,
        ppo=ppo,
        aggregation=aggregation,
    )

  @property
  def upper_clip(self) -> float | jax.Array:
    """The PPO upper clip eps_high: a float, or [B, 1] when a per-prompt clip is set."""
    return self.ppo.eps_high if self.eps_high_rows is None else self.eps_high_rows[:, None]

  def restrict_kl_mask(self, keep: jax.Array) -> ObjectiveState:
    """Drops tokens from the KL loss term's aggregation."""
    return self.replace(kl_mask=self.kl_mask & keep.astype(bool))

  def scale_weights(self, weights: jax.Array) -> ObjectiveState:
    """Multiplies the token weights by stop-gradient `weights` ([B, T])."""
    weights = jax.lax.stop_gradient(weights.astype(jnp.float32))
    return self.replace(token_weights=self.token_weights * weights)

  def restrict_mask(self, keep: jax.Array) -> ObjectiveState:
    """Drops tokens from the aggregation (they leave the denominator too)."""
    return self.replace(loss_mask=self.loss_mask & keep.astype(bool))

  def add_loss(self, name: str, value: jax.Array) -> ObjectiveState:
    if name in self.extra_losses:
      raise ValueError(f"extra loss term {name!r} is added twice")
    return self.replace(extra_losses={**self.extra_losses, name: value.astype(jnp.float32)})

  def add_metrics(self, prefix: str, metrics: dict[str, jax.Array]) -> ObjectiveState:
    new = {f"{prefix}/{key}": jnp.asarray(value, jnp.float32) for key, value in metrics.items()}
    return self.replace(metrics={**self.metrics, **new})
