"""Typed, frozen sections of a validated run config that no other package owns.

Sections with an owner elsewhere are that owner's dataclass (`OptimConfig`, `CheckpointConfig`,
`MeshConfig`, `RewardConfig`, `SandboxConfig`, `SamplingSettings`, `DiagnosticsConfig`,
`EmbeddedPolicy`, the built `Objective`); `rlvr_jax.config.validate` builds every one of them once,
and nothing outside `rlvr_jax/config/` reads the raw ConfigDict.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from rlvr_jax.data._pipeline import PromptDataConfig
from rlvr_jax.models._config import QwenConfig
from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards.code import SandboxConfig
from rlvr_jax.sampling._settings import SamplingSettings


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """Attributes:
    architecture: the policy's `QwenConfig` (model.path's config.json, read once; or the preset).
    path: HF directory of the policy; "" = the embedded default.
    preset: architecture name of the embedded default.
    dtype: compute dtype (a jnp dtype); parameters are float32 master weights.
    remat: recompute decoder blocks in the backward pass.
    scan_layers: decoder layers stacked and run with lax.scan.
    attention: the attention option (`rlvr_jax.models._attention.ATTENTION_OPTIONS`), checked against the
      platform validation ran on; the trainer resolves it for the mesh's platform.
  """

  architecture: QwenConfig
  path: str
  preset: str
  dtype: Any
  remat: bool
  scan_layers: bool = False
  attention: str = "auto"

  @property
  def embedded(self) -> bool:
    return not self.path


@dataclasses.dataclass(frozen=True)
class DataSpec:
  """Attributes mirror the `data` section; files are tuples ("" in the config = the built-in task's)."""

  train_files: tuple[str, ...]
  eval_files: tuple[str, ...]
  builtin_task: str
  question_field: str
  answer_field: str
  template: str
  max_prompt_length: int
  skip_malformed: bool
  shuffle_seed: int
  epochs: int

  def prompts(self, files: tuple[str, ...], *, prompts_per_batch: int, training: bool) -> PromptDataConfig:
    """The pipeline config of `files`: shuffled, repeated for `epochs` and cut to whole batches when
    training; file order, one pass, every row when evaluating. The one place it is built."""
    return PromptDataConfig(files=files, question_field=self.question_field, answer_field=self.answer_field,
                            template=self.template, max_prompt_length=self.max_prompt_length,
                            skip_malformed=self.skip_malformed, shuffle=training, seed=self.shuffle_seed,
                            epochs=self.epochs if training else 1, prompts_per_step=prompts_per_batch,
                            drop_remainder=training)


@dataclasses.dataclass(frozen=True)
class RolloutSpec:
  """Attributes:
    prompts_per_step: prompts whose groups make one rollout batch (verl train_batch_size).
    gen_prompts: prompts per generation batch (verl gen_batch_size); dynamic sampling draws further
      generation batches until prompts_per_step informative groups are collected.
    prompts_per_call: prompts one sampler call decodes together; a generation batch is gen_prompts /
      prompts_per_call calls in sequence, the same responses as one call (keys are folded per prompt),
      with the KV cache of prompts_per_call x num_samples rows.
    sampling: how responses are drawn (stop tokens resolved to ids).
    stop_tokens: the stop token strings.
  """

  prompts_per_step: int
  gen_prompts: int
  prompts_per_call: int
  sampling: SamplingSettings
  stop_tokens: tuple[str, ...]

  @property
  def sampler_calls(self) -> int:
    """Sampler calls per generation batch."""
    return self.gen_prompts // self.prompts_per_call


@dataclasses.dataclass(frozen=True)
class RewardSpec:
  """Attributes: name (registry entry), values (scores, timeouts, workers), sandbox (code rewards)."""

  name: str
  values: RewardConfig
  sandbox: SandboxConfig


@dataclasses.dataclass(frozen=True)
class AdvantageSpec:
  """Attributes: estimator (registry name) and its keyword hyperparameters."""

  estimator: str
  hparams: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class CriticSpec:
  """PPO's value model, built when the advantage estimator reads critic values (gae), as verl builds a
  critic when `adv_estimator=gae`.

  Attributes:
    path: HF directory of the value model's backbone; "" = the policy's starting checkpoint.
    architecture: the backbone's `QwenConfig` (path's config.json, or the policy's).
    optim: its optimizer: lr, warm-up, weight decay and clipping from the critic section, the rest
      (betas, eps, schedule and its unit, skip limit) from `optim`.
    cliprange_value: c of the clipped value loss (verl critic.cliprange_value).
    loss_agg_mode: aggregation of the value loss (verl critic.loss_agg_mode).
    critic_warmup: the first N rollout steps update only the critic (verl trainer.critic_warmup).
  """

  path: str
  architecture: QwenConfig
  optim: OptimConfig
  cliprange_value: float
  loss_agg_mode: str
  critic_warmup: int


@dataclasses.dataclass(frozen=True)
class TrainSpec:
  """Attributes mirror the `train` section (run_dir resolved on `RunSpec`).

    steps: rollout steps; 0 = until data.epochs are used up.
    mini_batches, micro_batches, ppo_epochs: optimizer steps per rollout batch and their accumulation.
    max_gen_batches: dynamic sampling's generation batches per step (0 = unlimited).
    gen_cap: "stop" or "pad" when max_gen_batches are drawn and groups are still short.
    shared_prompt_forward: the update step and the rollout's scoring passes run each group's prompt once
      and give its rollout.num_samples responses the prompt's cached keys / values
      (`rlvr_jax.objectives._completion_stats`).
  """

  steps: int
  mini_batches: int
  micro_batches: int
  ppo_epochs: int
  seed: int
  chunk_size: int
  dynamic_sampling: bool
  max_gen_batches: int
  gen_cap: str
  overlong_buffer: int
  overlong_penalty: float
  mask_truncated: bool
  tis_cap: float
  shared_prompt_forward: bool = False

  @property
  def updates_per_step(self) -> int:
    return self.mini_batches * self.ppo_epochs


@dataclasses.dataclass(frozen=True)
class EvalSpec:
  """Attributes mirror the `eval` section (every = 0: no evaluation)."""

  every: int
  num_prompts: int
  num_samples: int
  temperature: float
  top_p: float
  benchmarks: str
  max_new_tokens: int


SCHEDULES = ("constant", "cosine")
SCHEDULE_UNITS = ("rollout", "optimizer")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """Attributes mirror verl's actor optim section (lr 1e-6, wd 0.01, clip 1.0 by default).

    warmup_steps, total_steps: in `schedule_unit` steps.
    updates_per_rollout: optimizer updates per rollout step (mini-batches x ppo epochs), for converting
      between the units in logs.
  """

  lr: float = 1e-6
  warmup_steps: int = 0
  schedule: str = "constant"
  schedule_unit: str = "rollout"
  total_steps: int = 1
  updates_per_rollout: int = 1
  min_lr_ratio: float = 0.0
  weight_decay: float = 0.01
  b1: float = 0.9
  b2: float = 0.999
  eps: float = 1e-8
  grad_clip: float = 1.0
  max_consecutive_skips: int = 5

  def __post_init__(self):
    if not self.lr > 0:
      raise ValueError(f"optim.lr must be > 0, got {self.lr!r}")
    if self.schedule not in SCHEDULES:
      raise ValueError(f"optim.schedule={self.schedule!r}; known: {SCHEDULES}")
    if self.schedule_unit not in SCHEDULE_UNITS:
      raise ValueError(f"optim.schedule_unit={self.schedule_unit!r}; known: {SCHEDULE_UNITS}")
    if self.updates_per_rollout < 1:
      raise ValueError(f"updates_per_rollout={self.updates_per_rollout} must be >= 1")
    if self.warmup_steps < 0 or self.total_steps < 1:
      raise ValueError(f"optim.warmup_steps={self.warmup_steps}, total_steps={self.total_steps}: "
                       "need warmup_steps >= 0 and total_steps >= 1")
    if self.grad_clip < 0 or self.weight_decay < 0:
      raise ValueError(f"optim.grad_clip={self.grad_clip}, weight_decay={self.weight_decay} must be >= 0")
    if self.max_consecutive_skips < 1:
      raise ValueError(f"optim.max_consecutive_skips must be >= 1, got {self.max_consecutive_skips}")


@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
  """Attributes:
    every: save every N rollout steps (0: only at the end).
    keep: number of checkpoints kept.
    export_hf_every: also export the policy as an HF directory every N rollout steps (0: only at the end).
  """

  every: int = 50
  keep: int = 3
  export_hf_every: int = 0

  def __post_init__(self):
    for name, low in (("every", 0), ("keep", 1), ("export_hf_every", 0)):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"checkpoint.{name}={value!r} must be an int >= {low}")


# What dynamic sampling does when train.max_gen_batches generation batches still hold too few informative
# groups: "stop" the run (verl's DAPO trainer raises there), or "pad" the batch with uninformative groups
# (zero advantage; they dilute token-mean losses, so it is opt-in).
GEN_CAP_MODES = ("stop", "pad")


@dataclasses.dataclass(frozen=True)
class LogSpec:
  tensorboard: bool
