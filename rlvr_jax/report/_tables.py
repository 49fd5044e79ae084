"""The report's Markdown: final metrics per run, and the latest benchmark scores per run."""

from __future__ import annotations

from typing import Sequence

from rlvr_jax.report._runs import RunData

FINAL_KEYS = ("reward/mean", "reward/accuracy", "eval/accuracy", "actor/entropy", "rollout/entropy",
              "response/length_mean")


def _cell(value: float | None) -> str:
  return "—" if value is None else f"{value:.4f}"


def final_metrics_table(runs: Sequence[RunData], keys: Sequence[str] = FINAL_KEYS) -> str:
  """One row per run: its last logged step and the last finite value of each key."""
  lines = ["| run | steps | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
  for run in runs:
    step = run.last_step()
    lines.append(f"| {run.name} | {'—' if step is None else step} | "
                 + " | ".join(_cell(run.final(k)) for k in keys) + " |")
  return "\n".join(lines)


def benchmark_table(runs: Sequence[RunData]) -> str | None:
  """One row per (run, benchmark) from the run's newest report of it: avg@n with its bootstrap
  interval, pass@n and maj@n; None when no run has evaluation reports."""
  lines = ["| run | benchmark | step | problems | n | avg@n | 95% CI | pass@n | maj@n |",
           "|---|---|---|---|---|---|---|---|---|"]
  for run in runs:
    latest: dict[str, tuple] = {}
    for report in run.eval_reports:
      for name, record in report["benchmarks"].items():
        latest[name] = (report.get("step"), record)
    for name, (step, record) in sorted(latest.items()):
      n, m = record["num_samples"], record["metrics"]
      majority = f"{m[f'maj@{n}']:.4f}" if f"maj@{n}" in m else "—"  # none for code: programs are not voted on
      lines.append(f"| {run.name} | {name} | {'final' if step is None else step} | {record['num_problems']} | {n} | "
                   f"{m[f'avg@{n}']:.4f} | [{m[f'avg@{n}_ci_low']:.4f}, {m[f'avg@{n}_ci_high']:.4f}] | "
                   f"{m[f'pass@{n}']:.4f} | {majority} |")
  return "\n".join(lines) if len(lines) > 2 else None
