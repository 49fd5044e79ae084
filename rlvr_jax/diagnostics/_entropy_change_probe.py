"""Predicted vs measured per-token entropy change of one training step (STEER's Table 1 / Fig. 18 check).

Before the step's updates the probe scores a fixed set of rollout rows under the current parameters and
records STEER's first-order estimate of each token's entropy change in both forms
(`objectives.entropy_change.entropy_change_estimate`: "theorem" = the paper's Omega, "code" = what the
released code weights by). After the updates it scores the same rows again; the measured change is
H_new - H_old per token, from the same chunked scoring function, so identical parameters give exactly 0.

Scale of the prediction. The estimate is defined up to the positive step factor eta / L: one SGD step of
size eta on a token-mean loss over L tokens moves a state's logits by (eta / L) r A (e_a - pi) in the
tabular-softmax view (algorithms.md §5.1). The probe multiplies by
  step_scale = learning_rate * ppo_epochs * mini_batches / loss_tokens,
i.e. eta / L with L the mean token count of one mini-batch, summed over the ppo_epochs updates each
token takes part in. This is the scale under which the MSE is reported. It is the paper's tabular scale,
not the network's: a real model moves a state's logits through shared parameters (its per-state kernel,
e.g. |h|^2 for the LM head alone, and couplings between tokens), Adam rescales the step per parameter,
and non-token-mean aggregations use another normalizer. So MSE is only comparable between runs with the
same optimizer and model; Pearson and Spearman are scale-free and are the primary numbers.

Estimate inputs: at probe time the parameters are the rollout's, so r = 1 and no token is clipped; the
theorem form is therefore evaluated with I_clip = 1 (which tokens a later mini-batch clips is not known
before the update). The estimate is that of the unweighted PPO surrogate: token weights that transforms
such as STEER apply are not in it, which is the point when comparing methods against the same reference.

Per-token work is jitted (the scoring function and the estimate); the host only flattens the valid
tokens, computes the correlations and writes `entropy_change_step_{step}.npz` with the 1-D arrays
`predicted_code`, `predicted_theorem`, `actual`, `advantage`, `prob` (sampled-token probability before
the update), `entropy` (before the update), one entry per valid response token of the probe rows.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from rlvr_jax.diagnostics import _correlation as correlation
from rlvr_jax.diagnostics._host_arrays import to_host, writes_files
from rlvr_jax.objectives._entropy_change import ENTROPY_CHANGE_FORMS, entropy_change_estimate
from rlvr_jax.objectives._validation import check_int
from rlvr_jax.objectives._rollout_batch import RolloutBatch

# (params, prompt_ids, prompt_mask, completion_ids, completion_mask) -> (logp [B, T], entropy [B, T]),
# e.g. `train.scoring.make_scoring_fn(..., with_entropy=True)`.
ScoringFn = Callable[..., tuple[jax.Array, jax.Array | None]]

NPZ_ARRAYS = ("predicted_code", "predicted_theorem", "actual", "advantage", "prob", "entropy")


def first_order_step_scale(learning_rate: float, loss_tokens: float, *, mini_batches: int = 1,
                           ppo_epochs: int = 1) -> float:
  """eta / L of the tabular first-order estimate, summed over the updates a token takes part in.

  Args:
    learning_rate: eta of the step (the optimizer's current learning rate).
    loss_tokens: valid tokens of the whole rollout batch; one mini-batch holds loss_tokens / mini_batches
      of them on average, which is the token-mean denominator L.
    mini_batches: optimizer steps per pass over the rollout batch.
    ppo_epochs: passes over the rollout batch (each token is in one mini-batch per pass).
  """
  if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real) or not (
      math.isfinite(learning_rate) and learning_rate > 0):
    raise ValueError(f"learning_rate must be a finite number > 0, got {learning_rate!r}")
  if not loss_tokens > 0:
    raise ValueError(f"loss_tokens must be > 0 (the probe batch has no valid token), got {loss_tokens!r}")
  check_int("", "mini_batches", mini_batches, low=1)
  check_int("", "ppo_epochs", ppo_epochs, low=1)
  return float(learning_rate) * ppo_epochs * mini_batches / float(loss_tokens)


@jax.jit
def _predict(advantages, logp, old_logp, entropy, mask, step_scale):
  """(form -> [B, T] scaled estimate, 0 on padding; [B, T] sampled-token probability)."""
  valid = mask > 0  # [B, T]
  predicted = {form: jnp.where(valid, step_scale * entropy_change_estimate(advantages, logp, old_logp, entropy,
                                                                            form=form), 0.0)
               for form in ENTROPY_CHANGE_FORMS}
  return predicted, jnp.exp(logp.astype(jnp.float32))


@jax.jit
def _change(new_entropy, entropy, mask):
  return jnp.where(mask > 0, new_entropy.astype(jnp.float32) - entropy.astype(jnp.float32), 0.0)


@dataclasses.dataclass(frozen=True)
class ProbeRecord:
  """What the probe keeps between `before` and `after` (device arrays, probe rows only).

  Attributes:
    step: the step number the metrics and the npz file are labelled with.
    rows: the probe rows of the rollout batch.
    logp: [B, T] sampled-token log-prob before the update.
    prob: [B, T] exp(logp).
    entropy: [B, T] entropy before the update.
    predicted: form -> [B, T] scaled first-order estimate (0 on padding).
    step_scale: the eta / L factor the estimates carry.
  """

  step: int
  rows: RolloutBatch
  logp: jax.Array
  prob: jax.Array
  entropy: jax.Array
  predicted: dict[str, jax.Array]
  step_scale: float


@dataclasses.dataclass(frozen=True)
class ProbeMeasurement:
  """After the update: logp [B, T], entropy [B, T] under the new parameters, actual = H_new - H_old."""

  logp: jax.Array
  entropy: jax.Array
  actual: jax.Array


class EntropyChangeProbe:
  """Records predictions before a step's updates and compares them with the measured change after.

  Usage in the loop (step = the number the step's metrics are logged under):
    record = probe.before(params, batch, step, learning_rate=lr)  # right after the rollout; None off-cadence
    ... the step's updates ...
    if record is not None:
      metrics.update(probe.after(new_params, record))
  """

  def __init__(self, scoring_fn: ScoringFn, *, every: int, out_dir: str, probe_rows: int | None = None,
               mini_batches: int = 1, ppo_epochs: int = 1):
    """Args:
      scoring_fn: the chunked, jitted scoring pass; it must return entropies. Reusing the loop's own
        old-log-prob function reuses its compilation when the probe covers the whole batch.
      every: probe on steps that are multiples of it.
      out_dir: directory of the npz dumps (RUN_DIR/diagnostics).
      probe_rows: the first rows of the rollout batch to probe (None = all). It must split into the
        scoring function's row chunks, like any batch it scores.
      mini_batches, ppo_epochs: the loop's update schedule, for the step scale.
    """
    self.every = check_int("diagnostics", "every", every, low=1)
    if probe_rows is not None:
      check_int("diagnostics", "probe_rows", probe_rows, low=1)
    if not isinstance(out_dir, str) or not out_dir:
      raise ValueError(f"diagnostics.out_dir must be a non-empty path, got {out_dir!r}")
    self.probe_rows = probe_rows
    self.out_dir = out_dir
    self.mini_batches = check_int("diagnostics", "mini_batches", mini_batches, low=1)
    self.ppo_epochs = check_int("diagnostics", "ppo_epochs", ppo_epochs, low=1)
    self._score = scoring_fn

  def is_probe_step(self, step: int) -> bool:
    return check_int("diagnostics", "step", step, low=0) % self.every == 0

  def _entropy_pass(self, params, rows: RolloutBatch) -> tuple[jax.Array, jax.Array]:
    logp, entropy = self._score(params, rows.prompt_ids, rows.prompt_mask, rows.completion_ids,
                                rows.response_mask)
    if entropy is None:
      raise ValueError("entropy-change probe: the scoring function returned no entropy; build it with "
                       "with_entropy=True")
    return logp, entropy

  def probe_batch(self, batch: RolloutBatch) -> RolloutBatch:
    """The rows the probe follows: the first probe_rows of the batch."""
    if self.probe_rows is None:
      return batch
    if self.probe_rows > batch.num_rows:
      raise ValueError(f"diagnostics.probe_rows={self.probe_rows} exceeds the rollout batch's "
                       f"{batch.num_rows} rows")
    return jax.tree.map(lambda x: x[:self.probe_rows], batch)

  def before(self, params, batch: RolloutBatch, step: int, *, learning_rate: float) -> ProbeRecord | None:
    """Scores the probe rows under `params` (the rollout's) and records the estimates; None off-cadence.

    The step scale counts the loss tokens of the whole batch (the mini-batches are cut from it).
    """
    if not self.is_probe_step(step):
      return None
    rows = self.probe_batch(batch)
    loss_tokens = float(jnp.sum(batch.response_mask > 0))
    step_scale = first_order_step_scale(learning_rate, loss_tokens, mini_batches=self.mini_batches,
                                        ppo_epochs=self.ppo_epochs)
    logp, entropy = self._entropy_pass(params, rows)
    predicted, prob = _predict(rows.advantages, logp, rows.old_logp, entropy, rows.response_mask,
                               jnp.float32(step_scale))
    return ProbeRecord(step=step, rows=rows, logp=logp, prob=prob, entropy=entropy, predicted=predicted,
                       step_scale=step_scale)

  def measure(self, params, record: ProbeRecord) -> ProbeMeasurement:
    """Scores the probe rows under the updated parameters (device arrays, no host work)."""
    logp, entropy = self._entropy_pass(params, record.rows)
    return ProbeMeasurement(logp=logp, entropy=entropy,
                            actual=_change(entropy, record.entropy, record.rows.response_mask))

  def token_pairs(self, record: ProbeRecord, measurement: ProbeMeasurement) -> dict[str, np.ndarray]:
    """The npz arrays: one float32 entry per valid token of the probe rows, in row-major order."""
    valid = to_host(record.rows.response_mask) > 0
    per_token = {
        "predicted_code": record.predicted["code"],
        "predicted_theorem": record.predicted["theorem"],
        "actual": measurement.actual,
        "advantage": record.rows.advantages,
        "prob": record.prob,
        "entropy": record.entropy,
    }
    return {name: to_host(values)[valid].astype(np.float32) for name, values in per_token.items()}

  def report(self, record: ProbeRecord, measurement: ProbeMeasurement) -> dict[str, float]:
    """Correlation / MSE metrics of each form; writes the npz dump (process 0)."""
    pairs = self.token_pairs(record, measurement)
    actual = pairs["actual"]
    metrics = {
        "diag/entropy_change/actual_mean": float(np.mean(actual)) if actual.size else float("nan"),
        "diag/entropy_change/tokens": float(actual.size),
        "diag/entropy_change/step_scale": record.step_scale,
    }
    for form in ENTROPY_CHANGE_FORMS:
      predicted = pairs[f"predicted_{form}"]
      metrics[f"diag/entropy_change/predicted_{form}_mean"] = (
          float(np.mean(predicted)) if predicted.size else float("nan"))
      metrics[f"diag/entropy_change/{form}/pearson"] = correlation.pearson(predicted, actual)
      metrics[f"diag/entropy_change/{form}/spearman"] = correlation.spearman(predicted, actual)
      metrics[f"diag/entropy_change/{form}/mse"] = correlation.mean_squared_error(predicted, actual)
    if writes_files():
      write_npz(self.dump_path(record.step), pairs)
    return metrics

  def after(self, params, record: ProbeRecord) -> dict[str, float]:
    """measure + report: the step's `diag/entropy_change/*` metrics."""
    return self.report(record, self.measure(params, record))

  def dump_path(self, step: int) -> str:
    return os.path.join(self.out_dir, f"entropy_change_step_{step}.npz")


def write_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
  """Writes through a temporary name that no `*.npz` glob matches, so a reader (the report tool reads
  `entropy_change_step_*.npz`) never sees a half-written file."""
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  temporary = path + ".partial"
  with open(temporary, "wb") as f:  # a file object: np.savez appends no ".npz" suffix
    np.savez(f, **arrays)
  os.replace(temporary, path)
