"""`RunSpec`: a validated run, as typed frozen sections. What `rlvr_jax.train.train` and every other entry
point read; built only by `rlvr_jax.config.validate`."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from rlvr_jax.config._sections import (AdvantageSpec, CheckpointConfig, CriticSpec, DataSpec, EvalSpec, LogSpec,
                                      ModelSpec, OptimConfig, RewardSpec, RolloutSpec, TrainSpec)
from rlvr_jax.data._text_codec import TextCodec
from rlvr_jax.diagnostics import DiagnosticsConfig
from rlvr_jax.embedded import EmbeddedPolicy
from rlvr_jax.objectives import Objective
from rlvr_jax.objectives._kl_reward import KLInRewardConfig
from rlvr_jax.sharding import MeshConfig


@dataclasses.dataclass(frozen=True)
class RunSpec:
  """Attributes:
    name: the run's name (config file + variant); part of its identity on resume.
    method: the objective / advantage preset it started from.
    run_dir: where checkpoints, metrics, evaluations and exports go.
    model, codec, data, rollout, reward, advantage, objective, train, optim, checkpoint, mesh, eval, log:
      the sections, typed.
    diagnostics: the entropy diagnostics' settings, or None when off.
    warm_start: the embedded default's warm-started policy, or None when model.path is given.
    critic: PPO's value model and its optimizer, or None when the estimator reads no critic values.
    kl_in_reward: KL charged in the reward and its controller (verl use_kl_in_reward), or None when off.
    resolved: the whole config as plain data: written to RUN_DIR/config.json, compared on resume.
  """

  name: str
  method: str
  run_dir: str
  model: ModelSpec
  codec: TextCodec
  data: DataSpec
  rollout: RolloutSpec
  reward: RewardSpec
  advantage: AdvantageSpec
  objective: Objective
  train: TrainSpec
  optim: OptimConfig
  checkpoint: CheckpointConfig
  mesh: MeshConfig
  eval: EvalSpec
  diagnostics: DiagnosticsConfig | None
  warm_start: EmbeddedPolicy | None
  log: LogSpec
  resolved: Mapping[str, Any]
  critic: CriticSpec | None = None
  kl_in_reward: KLInRewardConfig | None = None

  @property
  def embedded_default(self) -> bool:
    return self.model.embedded
