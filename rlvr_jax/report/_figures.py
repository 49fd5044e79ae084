"""The report's figures, one function each: runs overlaid in one colour each and labelled by run name.

Every function returns None when it drew the figure, or a note saying why there was nothing to draw
(no run logged the keys), which the report prints and lists instead of an empty plot.
"""

from __future__ import annotations

import os
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only: no display on training hosts or in CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rlvr_jax.report._runs import RunData  # noqa: E402

QUADRANTS = ("pos_high", "pos_low", "neg_high", "neg_low")


def _colors(runs: Sequence[RunData]) -> dict[str, tuple]:
  cmap = plt.get_cmap("tab10")
  return {run.name: cmap(i % 10) for i, run in enumerate(runs)}


def _save(fig, path: str) -> None:
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def metric_curves(runs: Sequence[RunData], keys: Sequence[str], path: str, *, title: str) -> str | None:
  """One panel per metric key, value over rollout steps; panels no run logged are left out."""
  present = [k for k in keys if any(run.series(k)[0].size for run in runs)]
  if not present:
    return f"{os.path.basename(path)}: no run logged {', '.join(keys)}"
  colors = _colors(runs)
  fig, axes = plt.subplots(1, len(present), figsize=(5.5 * len(present), 3.8), squeeze=False)
  for ax, key in zip(axes[0], present):
    for run in runs:
      steps, values = run.series(key)
      if steps.size:
        ax.plot(steps, values, marker="o" if steps.size < 30 else None, ms=3, color=colors[run.name], label=run.name)
    ax.set_title(key)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle(title)
  _save(fig, path)
  return None


def _latest_reports(run: RunData) -> dict[str, dict]:
  """benchmark -> its record in the run's newest report that evaluated it."""
  out = {}
  for report in run.eval_reports:
    out.update(report["benchmarks"])
  return out


def pass_at_k_curves(runs: Sequence[RunData], path: str) -> str | None:
  """pass@k (solid, bootstrap band) and maj@k (dashed) over k, one panel per benchmark."""
  latest = {run.name: _latest_reports(run) for run in runs}
  benchmarks = sorted({name for records in latest.values() for name in records})
  if not benchmarks:
    return f"{os.path.basename(path)}: no run has evaluation reports (RUN_DIR/eval/*.json)"
  colors = _colors(runs)
  fig, axes = plt.subplots(1, len(benchmarks), figsize=(5.0 * len(benchmarks), 3.8), squeeze=False)
  for ax, benchmark in zip(axes[0], benchmarks):
    for run in runs:
      record = latest[run.name].get(benchmark)
      if record is None:
        continue
      curves = record["curves"]
      k = np.asarray(curves["k"])
      color = colors[run.name]
      ax.plot(k, curves["pass@k"], marker="o", ms=3, color=color, label=f"{run.name} pass@k")
      ax.fill_between(k, curves["pass@k_ci_low"], curves["pass@k_ci_high"], color=color, alpha=0.15)
      if "maj@k" in curves:  # absent for code benchmarks (programs are not voted on)
        ax.plot(k, curves["maj@k"], ls="--", color=color, label=f"{run.name} maj@k")
    ax.set_xscale("log", base=2)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(benchmark)
    ax.set_xlabel("k (samples)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle("pass@k and maj@k (latest evaluation of each run)")
  _save(fig, path)
  return None


def entropy_change_scatter(runs: Sequence[RunData], path: str) -> str | None:
  """Predicted (code path and closed-form theorem) vs measured entropy change, with y = x and Pearson r."""
  with_data = [run for run in runs if run.entropy_change is not None]
  if not with_data:
    return (f"{os.path.basename(path)}: no run has entropy-change diagnostics "
            "(RUN_DIR/diagnostics/entropy_change_step_*.npz)")
  colors = _colors(runs)
  fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
  for ax, key in zip(axes, ("predicted_code", "predicted_theorem")):
    for run in with_data:
      predicted, actual = run.entropy_change[key], run.entropy_change["actual"]
      ok = np.isfinite(predicted) & np.isfinite(actual)
      r = np.corrcoef(predicted[ok], actual[ok])[0, 1] if ok.sum() > 1 else float("nan")
      ax.scatter(predicted[ok], actual[ok], s=12, alpha=0.7, color=colors[run.name], label=f"{run.name} (r={r:.2f})")
    ax.axline((0.0, 0.0), slope=1.0, color="gray", lw=1, ls=":")  # a perfect prediction
    ax.set_xlabel(f"{key.replace('_', ' ')} entropy change")
    ax.set_ylabel("actual entropy change")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle("predicted vs actual entropy change per update")
  _save(fig, path)
  return None


def quadrant_bars(runs: Sequence[RunData], path: str) -> str | None:
  """Per (advantage sign, probability) quadrant: token count and mean entropy change, averaged over steps."""
  stats = ("count", "entropy_change_mean")
  keys = [f"diag/quadrant/{q}/{s}" for q in QUADRANTS for s in stats]
  with_data = [run for run in runs if any(run.series(k)[0].size for k in keys)]
  if not with_data:
    return f"{os.path.basename(path)}: no run logged diag/quadrant/<pos|neg>_<high|low>/* metrics"
  colors = _colors(runs)
  width = 0.8 / len(with_data)
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
  for ax, stat in zip(axes, stats):
    for i, run in enumerate(with_data):
      means = [np.mean(v) if (v := run.series(f"diag/quadrant/{q}/{stat}")[1]).size else np.nan for q in QUADRANTS]
      ax.bar(np.arange(len(QUADRANTS)) + i * width - 0.4 + width / 2, means, width, color=colors[run.name],
             label=run.name)
    ax.set_xticks(np.arange(len(QUADRANTS)), [q.replace("_", "/") for q in QUADRANTS])
    ax.set_title(f"{stat} (mean over steps)")
    ax.axhline(0, color="gray", lw=0.8)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
  fig.suptitle("entropy change by quadrant (advantage sign / token probability)")
  _save(fig, path)
  return None
