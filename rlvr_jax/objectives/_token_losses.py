"""Registry of the policy losses an objective can be built on (PPO, GPG, GSPO, CISPO, GMPO, SAPO).

Each entry is a frozen dataclass of its own hyperparameters (config section named after the loss, e.g.
`{"policy_loss": "sapo", "sapo": {"tau_neg": 1.1}}`) that maps the (batch, objective state) after all
transforms to a [B, T] token loss and its metrics; the objective then computes
`aggregate(token_weights * loss, loss_mask, loss_agg_mode)`.

Class attributes say how a loss composes with the entropy-control transforms (ObjectiveConfig checks
them when the config is built):

  uses_ppo_clip     reads the objective's PPO clip parameters, which `clip_higher` (and STEER's per-prompt
                    upper clip) write and Clip-Cov / KL-Cov / STEER's theorem form read. Only PPO does;
                    GSPO / CISPO / GMPO have their own clip range and SAPO has no clip.
  sequence_level    one loss per response (GMPO): a per-token weight has no place in it, so the
                    weight-scaling transforms are rejected; masks still choose the tokens it averages.
  loss_agg_mode     the aggregation verl hard-codes for this loss (GSPO / SAPO / GMPO:
                    seq-mean-token-mean); a different configured mode is an error, not overridden.

The PPO token loss (`policy_loss="ppo"`) stays the default; its clip parameters are the top-level
eps_low / eps_high / dual_clip_c / clamp_log_ratio of the objective config.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Callable, ClassVar, TypeVar

import jax
import jax.numpy as jnp

from rlvr_jax.objectives._aggregation import aggregate
from rlvr_jax.objectives._methods import register_method
from rlvr_jax.objectives._batch import ObjectiveState, TokenBatch
from rlvr_jax.objectives._policy_loss import clip_metrics, gpg_token_loss, ppo_token_loss
from rlvr_jax.objectives._sequence_ratio_losses import gmpo_sequence_loss, gspo_token_loss
from rlvr_jax.objectives._soft_clip_losses import cispo_token_loss, sapo_token_loss
from rlvr_jax.objectives._validation import check_number, check_optional_number
from rlvr_jax._registry import Registry

SEQ_MEAN_TOKEN_MEAN = "seq-mean-token-mean"


class PolicyLoss(abc.ABC):
  """Base class of policy losses (subclasses are frozen dataclasses of hyperparameters)."""

  name: ClassVar[str] = ""
  uses_ppo_clip: ClassVar[bool] = False
  sequence_level: ClassVar[bool] = False
  loss_agg_mode: ClassVar[str | None] = None

  @abc.abstractmethod
  def __call__(self, batch: TokenBatch, state: ObjectiveState) -> tuple[jax.Array, dict[str, jax.Array]]:
    """[B, T] token loss (unmasked) and float32 scalar metrics."""


POLICY_LOSSES: Registry[type[PolicyLoss]] = Registry("policy loss")

LossT = TypeVar("LossT", bound=type)


def register_policy_loss(name: str) -> Callable[[LossT], LossT]:
  """Registers a PolicyLoss subclass under `name` and records the name on the class."""

  def add(cls: LossT) -> LossT:
    cls.name = name  # type: ignore[attr-defined]
    return POLICY_LOSSES.register(name)(cls)

  return add


def _token_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
  return aggregate(jax.lax.stop_gradient(values).astype(jnp.float32), mask, "token-mean")


def _ppo_kl(batch: TokenBatch, mask: jax.Array) -> jax.Array:
  """verl ppo_kl: masked mean of old_logp - logp (k1 estimate of KL(pi_old || pi))."""
  return _token_mean(batch.old_logp - batch.logp, mask)


@register_policy_loss("ppo")
@dataclasses.dataclass(frozen=True)
class PPO(PolicyLoss):
  """verl's dual-clip PPO surrogate with the clip range the transforms left in the state."""

  uses_ppo_clip = True

  def __call__(self, batch: TokenBatch, state: ObjectiveState) -> tuple[jax.Array, dict[str, jax.Array]]:
    out = ppo_token_loss(batch.logp, batch.old_logp, state.advantages, eps_low=state.ppo.eps_low,
                         eps_high=state.upper_clip, dual_clip_c=state.ppo.dual_clip_c,
                         clamp_log_ratio=state.ppo.clamp_log_ratio)
    return out.loss, clip_metrics(out, state.loss_mask)


@register_policy_loss("gpg")
@dataclasses.dataclass(frozen=True)
class GPG(PolicyLoss):
  """GPG / REINFORCE: -A log pi, no ratio, no clip."""

  def __call__(self, batch: TokenBatch, state: ObjectiveState) -> tuple[jax.Array, dict[str, jax.Array]]:
    return gpg_token_loss(batch.logp, state.advantages), {}


@register_policy_loss("gspo")
@dataclasses.dataclass(frozen=True)
class GSPO(PolicyLoss):
  """GSPO: clipped sequence ratio exp(mean log r) in verl's straight-through token form.

  Attributes:
    eps_low, eps_high: clip range of the sequence ratio (verl's recipe 3e-4 / 4e-4).
  """

  eps_low: float = 3e-4
  eps_high: float = 4e-4

  loss_agg_mode = SEQ_MEAN_TOKEN_MEAN

  def __post_init__(self) -> None:
    check_number("gspo", "eps_low", self.eps_low, low=0.0, high=1.0)
    check_number("gspo", "eps_high", self.eps_high, low=0.0)

  def __call__(self, batch: TokenBatch, state: ObjectiveState) -> tuple[jax.Array, dict[str, jax.Array]]:
    out = gspo_token_loss(batch.logp, batch.old_logp, state.advantages, batch.response_mask,
                          eps_low=self.eps_low, eps_high=self.eps_high)
    rows = jnp.any(state.loss_mask, axis=-1)
    return out.loss, {
        "pg_clipfrac": _token_mean(out.clipped, state.loss_mask),
        "ppo_kl": _ppo_kl(batch, state.loss_mask),
        "seq_log_ratio_mean": jnp.sum(jnp.where(rows, out.seq_log_ratio, 0.0)) / jnp.maximum(jnp.sum(rows), 1),
    }


@register_policy_loss("cispo")
@dataclasses.dataclass(frozen=True)
class CISPO(PolicyLoss):
  """CISPO: -sg(clip(r, 1 - eps_low, 1 + eps_high)) A log pi on every token.

  Attributes:
    eps_low: lower clip of the importance weight; None = unbounded (verl's example: 10, never binds).
    eps_high: upper clip of the importance weight (verl's example: 0.2).
  """

  eps_low: float | None = None
  eps_high: float = 0.2

  def __post_init__(self) -> None:
    check_optional_number("cispo", "eps_low", self.eps_low, low=0.0)
    check_number("cispo", "eps_high", self.eps_high, low=0.0)

  def __call__(self, batch: TokenBatch, state: ObjectiveState) -> tuple[jax.Array, dict[str, jax.Array]]:
    out = cispo_token_loss(batch.logp, batch.old_logp, state.advantages, eps_low=self.eps_low,
                           eps_high=self.eps_high)
    return out.loss, {"pg_clipfrac": _token_mean(out.clipped, state.loss_mask),
                      "ppo_kl": _ppo_kl(batch, state.loss_mask)}


@register_policy_loss("gmpo")
@dataclasses.dataclass(frozen=True)
class GMPO(PolicyLoss):
  """GMPO (verl `geo_mean`): -A_i exp(mean_t clipped log r_t), one loss per response.

  The per-response loss is laid on every kept token of its row, so seq-mean-token-mean aggregation of the
  token loss equals verl's mean over rows (a row without kept tokens contributes 0 and still counts).

  Attributes:
    eps_low, eps_high: per-token clip of log r to [-eps_low, eps_high] (verl's example: 0.4 / 0.4).
  """

  eps_low: float = 0.4
  eps_high: float = 0.4

  sequence_level = True
  loss_agg_mode = SEQ_MEAN_TOKEN_MEAN

  def __post_init__(self) -> None:
    check_number("gmpo", "eps_low", self.eps_low, low=0.0)
    check_number("gmpo", "eps_high", self.eps_high, low=0.0)

  def __call__(self, batch: TokenBatch, state: ObjectiveState) -> tuple[jax.Array, dict[str, jax.Array]]:
    out = gmpo_sequence_loss(batch.logp, batch.old_logp, state.advantages, state.loss_mask,
                             eps_low=self.eps_low, eps_high=self.eps_high)
    token_loss = jnp.broadcast_to(out.loss[:, None], state.loss_mask.shape)  # [B, T]
    return token_loss, {"pg_clipfrac": _token_mean(out.clipped_high, state.loss_mask),
                        "pg_clipfrac_lower": _token_mean(out.clipped_low, state.loss_mask),
                        "ppo_kl": _ppo_kl(batch, state.loss_mask)}


@register_policy_loss("sapo")
@dataclasses.dataclass(frozen=True)
class SAPO(PolicyLoss):
  """SAPO: soft gate -sigmoid(tau (r - 1)) (4 / tau) A instead of the hard clip.

  Attributes:
    tau_pos: gate temperature for A > 0 (verl actor.tau_pos).
    tau_neg: gate temperature for A <= 0 (verl actor.tau_neg).
  """

  tau_pos: float = 1.0
  tau_neg: float = 1.05

  loss_agg_mode = SEQ_MEAN_TOKEN_MEAN

  def __post_init__(self) -> None:
    check_number("sapo", "tau_pos", self.tau_pos, low=0.0, low_inclusive=False)
    check_number("sapo", "tau_neg", self.tau_neg, low=0.0, low_inclusive=False)

  def __call__(self, batch: TokenBatch, state: ObjectiveState) -> tuple[jax.Array, dict[str, jax.Array]]:
    out = sapo_token_loss(batch.logp, batch.old_logp, state.advantages, tau_pos=self.tau_pos,
                          tau_neg=self.tau_neg)
    return out.loss, {"gate_slope_mean": _token_mean(out.gate_slope, state.loss_mask),
                      "ppo_kl": _ppo_kl(batch, state.loss_mask)}


_VERL_EXAMPLES = "verl-project/verl examples/{}_trainer/run_qwen3_8b_fsdp.sh"
# GPG: -A log pi with GPG's advantage (verl examples/gpg_trainer).
register_method("gpg", objective={"policy_loss": "gpg"}, estimator="gpg", source=_VERL_EXAMPLES.format("gpg"))
# GSPO: clip 3e-4 / 4e-4 (the GSPO defaults), seq-mean-token-mean, no KL.
register_method("gspo", objective={"policy_loss": "gspo", "loss_agg_mode": SEQ_MEAN_TOKEN_MEAN},
                source=_VERL_EXAMPLES.format("gspo"))
# CISPO: clip_ratio_low 10 (never binds: eps_low None), high 0.2; KL loss low_var_kl 0.001.
register_method("cispo", objective={"policy_loss": "cispo", "kl": {}}, source=_VERL_EXAMPLES.format("cispo"))
# GMPO: log-ratio clip 0.4 / 0.4; KL loss low_var_kl 0.001.
register_method("gmpo", objective={"policy_loss": "gmpo", "loss_agg_mode": SEQ_MEAN_TOKEN_MEAN, "kl": {}},
                source=_VERL_EXAMPLES.format("gmpo"))
# SAPO: tau_pos 1.0, tau_neg 1.05 (the SAPO defaults), no KL.
register_method("sapo", objective={"policy_loss": "sapo", "loss_agg_mode": SEQ_MEAN_TOKEN_MEAN},
                source=_VERL_EXAMPLES.format("sapo"))
