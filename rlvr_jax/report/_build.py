"""Run directories -> a report directory: PNG figures and report.md linking them."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Sequence

from rlvr_jax.report import _figures as figures, _tables as tables
from rlvr_jax.report._runs import load_runs


@dataclasses.dataclass(frozen=True)
class ReportFiles:
  """Attributes:
    markdown: path of report.md.
    figures: paths of the PNGs drawn.
    notes: one line per figure left out, saying what it needed.
  """

  markdown: str
  figures: tuple[str, ...]
  notes: tuple[str, ...]


def benchmark_keys(runs) -> tuple[str, ...]:
  """`eval/<benchmark>/avg@n` keys the runs logged during training (the held-out split is eval/accuracy)."""
  pattern = re.compile(r"^eval/(?!heldout/)[^/]+/avg@\d+$")
  return tuple(sorted({key for run in runs for row in run.history for key in row if pattern.match(key)}))


def build_report(run_dirs: Sequence[str], out_dir: str) -> ReportFiles:
  """Draws every figure the runs have data for and writes report.md into `out_dir`."""
  runs = load_runs(list(run_dirs))
  os.makedirs(out_dir, exist_ok=True)
  plan = (
      ("entropy.png", lambda p: figures.metric_curves(runs, ("actor/entropy", "rollout/entropy"), p,
                                                      title="policy entropy")),
      ("reward.png", lambda p: figures.metric_curves(runs, ("reward/mean", "reward/accuracy"), p,
                                                     title="training reward")),
      ("heldout_accuracy.png", lambda p: figures.metric_curves(runs, ("eval/accuracy",) + benchmark_keys(runs), p,
                                                               title="held-out and benchmark accuracy")),
      ("response_length.png", lambda p: figures.metric_curves(runs, ("response/length_mean",), p,
                                                              title="response length (tokens)")),
      ("pass_at_k.png", lambda p: figures.pass_at_k_curves(runs, p)),
      ("entropy_change_scatter.png", lambda p: figures.entropy_change_scatter(runs, p)),
      ("quadrants.png", lambda p: figures.quadrant_bars(runs, p)),
  )
  drawn, notes = [], []
  for name, draw in plan:
    path = os.path.join(out_dir, name)
    note = draw(path)
    if note is None:
      drawn.append(path)
    else:
      notes.append(note)
  sections = ["# Run report", "", "Runs: " + ", ".join(f"`{run.name}` ({run.path})" for run in runs), "",
              "## Final metrics", "", tables.final_metrics_table(runs), ""]
  benchmarks = tables.benchmark_table(runs)
  if benchmarks is not None:
    sections += ["## Benchmarks (latest evaluation)", "", benchmarks, ""]
  sections += ["## Figures", ""] + [f"![{os.path.basename(p)}]({os.path.basename(p)})" for p in drawn]
  if notes:
    sections += ["", "Not drawn:", ""] + [f"- {note}" for note in notes]
  markdown = os.path.join(out_dir, "report.md")
  with open(markdown, "w", encoding="utf-8") as f:
    f.write("\n".join(sections) + "\n")
  return ReportFiles(markdown=markdown, figures=tuple(drawn), notes=tuple(notes))
