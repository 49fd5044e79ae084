"""All entropy diagnostics of a training step behind two calls: `before` the updates, `after` them.

Every `every` steps (multiples of it) the suite measures, on the same rollout batch:
  * before the updates (rollout parameters, right after the rollout):
      - `diag/entropy/*`: full, top-p and SIREN peak-masked entropy of the whole batch (one scoring pass);
      - `diag/diversity/*`: distinct-n and unique answers per prompt group (host);
      - `diag/calibration/*`: ECE of sequence confidence vs correctness (host);
      - the entropy-change probe's first-order estimates on the probe rows;
  * after the step's updates (new parameters):
      - `diag/entropy_change/*`: predicted vs measured entropy change (and the npz dump);
      - `diag/quadrant/*`: per advantage-sign x probability quadrant, count, mean entropy, mean measured
        entropy change and post-update clip fraction (on the probe rows).
The device passes happen only on diagnostic steps, so the cost is one extra batch scoring pass with
top-p entropy and two passes over the probe rows every `every` steps.

Masks: device-side statistics use the batch's `response_mask` (the tokens that enter the loss, as the
update and SIREN see them); host-side response statistics use the real completion mask (every
generated token, before truncation masking or PSR/NSR row dropping), since they describe what was
sampled, not what was trained on.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import jax
import numpy as np
from flax import nnx

from rlvr_jax.diagnostics import _calibration as calibration, _diversity as diversity
from rlvr_jax.diagnostics._entropy_aggregates import make_entropy_aggregates_fn
from rlvr_jax.diagnostics._entropy_change_probe import EntropyChangeProbe, ProbeRecord, ScoringFn
from rlvr_jax.diagnostics._host_arrays import to_host
from rlvr_jax.diagnostics._quadrants import clipped_tokens, quadrant_statistics, validate_prob_threshold
from rlvr_jax.models._modules import Constrain, no_constraint
from rlvr_jax.objectives._batch import PPOClipParams
from rlvr_jax.objectives._token_stats import validate_topp
from rlvr_jax.objectives._validation import check_choice, check_int, check_number
from rlvr_jax.objectives._rollout_batch import RolloutBatch


@dataclasses.dataclass(frozen=True)
class DiagnosticsConfig:
  """Attributes:
    out_dir: directory of the per-token dumps, RUN_DIR/diagnostics.
    every: run on steps that are multiples of this.
    probe_rows: the first rows of the batch the entropy-change probe and quadrants follow (None = all
      rows; a smaller number must split into the scoring function's row chunks).
    prob_threshold: quadrant split; None = STEER's pi > exp(-H) (sign of its entropy-change indicator),
      a number in (0, 1) = fixed probability cut (see `quadrants`).
    distinct_n: n-gram orders of distinct-n.
    ece_bins: equal-width confidence bins of the ECE.
    confidence: sequence confidence, "mean" (exp of mean token log-prob) or "sum" (see `calibration`).
    top_p, top_k: nucleus of the top-p entropy (SIREN's defaults; set a SIREN run's own values to
      compare with its regularizer).
    mask_ratio: SIREN's per-row peak-entropy quantile.
  """

  out_dir: str
  every: int = 10
  probe_rows: int | None = None
  prob_threshold: float | None = None
  distinct_n: tuple[int, ...] = (1, 2, 3, 4)
  ece_bins: int = 10
  confidence: str = "mean"
  top_p: float = 0.8
  top_k: int = 10000
  mask_ratio: float = 0.8

  def __post_init__(self) -> None:
    if not isinstance(self.out_dir, str) or not self.out_dir:
      raise ValueError(f"diagnostics.out_dir must be a non-empty path, got {self.out_dir!r}")
    check_int("diagnostics", "every", self.every, low=1)
    if self.probe_rows is not None:
      check_int("diagnostics", "probe_rows", self.probe_rows, low=1)
    validate_prob_threshold(self.prob_threshold)
    if not isinstance(self.distinct_n, tuple) or not self.distinct_n:
      raise ValueError(f"diagnostics.distinct_n must be a non-empty tuple of n-gram orders, got "
                       f"{self.distinct_n!r}")
    for n in self.distinct_n:
      check_int("diagnostics", "distinct_n", n, low=1)
    check_int("diagnostics", "ece_bins", self.ece_bins, low=1)
    check_choice("diagnostics", "confidence", self.confidence, calibration.CONFIDENCE_MODES)
    validate_topp(top_p=self.top_p, top_k=self.top_k)
    check_number("diagnostics", "mask_ratio", self.mask_ratio, low=0.0, high=1.0)


@dataclasses.dataclass(frozen=True)
class ResponseOutcomes:
  """Host-side facts about the rollout's responses, rows aligned with the RolloutBatch.

  Attributes:
    completion_mask: [R, N] every generated token (the sampler's response mask, before loss masking).
    correct: [R] bool verifier verdicts.
    answers: R extracted final answers, None where none could be extracted.
  """

  completion_mask: np.ndarray
  correct: np.ndarray
  answers: Sequence[str | None]


@dataclasses.dataclass(frozen=True)
class DiagnosticsRecord:
  """What `before` hands to `after`: the probe record, device aggregates, finished host metrics."""

  step: int
  probe: ProbeRecord
  aggregates: dict[str, jax.Array]
  host_metrics: dict[str, float]


def _quadrants(advantages, old_logp, mask, logp, entropy, new_logp, actual, *, clip: PPOClipParams | None,
               prob_threshold: float | None):
  clipped = None if clip is None else clipped_tokens(new_logp, old_logp, advantages, clip)
  return quadrant_statistics(advantages, logp, entropy, mask, entropy_change=actual, clipped=clipped,
                             prob_threshold=prob_threshold)


class Diagnostics:
  """The loop's single entry point (see the module docstring for what is measured when).

  Usage (step = the number the step's metrics are logged under, e.g. `step + 1` in train/_loop.py):
    record = diagnostics.before(state.params, batch, step, outcomes, learning_rate=lr)  # after rollout
    ... the step's updates ...
    if record is not None:
      metrics.update(diagnostics.after(state.params, record))
  """

  def __init__(self, graphdef: nnx.GraphDef, config: DiagnosticsConfig, *, scoring_fn: ScoringFn,
               group_size: int, rows_per_chunk: int, clip: PPOClipParams | None, temperature: float = 1.0,
               chunk_size: int = 1024, mini_batches: int = 1, ppo_epochs: int = 1,
               constrain: Constrain = no_constraint):
    """Args:
      graphdef: the policy's graph definition.
      config: what to measure and where to write.
      scoring_fn: the loop's jitted old-log-prob pass (`make_scoring_fn(..., with_entropy=True)`).
      group_size: samples per prompt (rollout.num_samples).
      rows_per_chunk: rows per chunk of the aggregate scoring pass (as the loop's scoring function).
      clip: the clip range the token loss uses (`quadrants.training_clip_range(objective.config)`);
        None (no clipping, e.g. GPG) omits the clip fractions.
      temperature, chunk_size: as the loop's scoring pass.
      mini_batches, ppo_epochs: the update schedule, for the probe's step scale.
      constrain: activation sharding constraint of the model call.
    """
    self.config = config
    self.group_size = check_int("diagnostics", "group_size", group_size, low=1)
    self.probe = EntropyChangeProbe(scoring_fn, every=config.every, out_dir=config.out_dir,
                                    probe_rows=config.probe_rows, mini_batches=mini_batches,
                                    ppo_epochs=ppo_epochs)
    self._aggregates = make_entropy_aggregates_fn(
        graphdef, temperature=temperature, chunk_size=chunk_size, rows_per_chunk=rows_per_chunk,
        top_p=config.top_p, top_k=config.top_k, mask_ratio=config.mask_ratio, constrain=constrain)
    self._quadrants = jax.jit(functools.partial(_quadrants, clip=clip, prob_threshold=config.prob_threshold))

  def response_metrics(self, batch: RolloutBatch, outcomes: ResponseOutcomes) -> dict[str, float]:
    """Host metrics of the sampled responses: distinct-n, unique answers, calibration."""
    token_ids = to_host(batch.completion_ids)
    mask = np.asarray(outcomes.completion_mask)
    rows = token_ids.shape[0]
    if mask.shape != token_ids.shape or np.shape(outcomes.correct) != (rows,) or len(outcomes.answers) != rows:
      raise ValueError(f"diagnostics: outcomes do not match the batch's {token_ids.shape} completions: "
                       f"completion_mask {mask.shape}, correct {np.shape(outcomes.correct)}, "
                       f"{len(outcomes.answers)} answers")
    return {
        **diversity.distinct_n_metrics(token_ids, mask, self.group_size, self.config.distinct_n),
        **diversity.unique_answer_metrics(outcomes.answers, self.group_size),
        **calibration.calibration_metrics(to_host(batch.old_logp), mask, outcomes.correct,
                                          num_bins=self.config.ece_bins, mode=self.config.confidence),
    }

  def before(self, params, batch: RolloutBatch, step: int, outcomes: ResponseOutcomes, *,
             learning_rate: float) -> DiagnosticsRecord | None:
    """Everything measured under the rollout parameters; None when `step` is not a diagnostic step.

    Args:
      params: the parameters that generated the rollout (before any update of this step).
      batch: the whole rollout batch.
      step: the step number the metrics are logged under.
      outcomes: the responses' completion mask, verdicts and extracted answers.
      learning_rate: the optimizer's learning rate for this step's updates (for the probe's scale).
    """
    probe = self.probe.before(params, batch, step, learning_rate=learning_rate)
    if probe is None:
      return None
    aggregates = self._aggregates(params, batch.prompt_ids, batch.prompt_mask, batch.completion_ids,
                                  batch.response_mask)
    return DiagnosticsRecord(step=step, probe=probe, aggregates=aggregates,
                             host_metrics=self.response_metrics(batch, outcomes))

  def after(self, params, record: DiagnosticsRecord) -> dict[str, float]:
    """All `diag/*` metrics of the step, given the parameters after its updates."""
    measurement = self.probe.measure(params, record.probe)
    probe, rows = record.probe, record.probe.rows
    quadrants = self._quadrants(rows.advantages, rows.old_logp, rows.response_mask, probe.logp, probe.entropy,
                                measurement.logp, measurement.actual)
    return {
        **record.host_metrics,
        **{k: float(to_host(v)) for k, v in record.aggregates.items()},
        **self.probe.report(record.probe, measurement),
        **{k: float(to_host(v)) for k, v in quadrants.items()},
    }
