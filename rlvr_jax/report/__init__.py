"""Figures and a Markdown summary from run directories (metrics.jsonl, eval reports, diagnostics).

    python -m rlvr_jax.report runs/steer runs/grpo --out reports/steer_vs_grpo

Public API:
  build_report(run_dirs, out_dir) -> ReportFiles   every figure the runs have data for, plus report.md
  load_runs(run_dirs) -> [RunData]                 the logs a report reads
"""

from rlvr_jax.report._build import ReportFiles, build_report
from rlvr_jax.report._runs import RunData, load_runs

__all__ = ["ReportFiles", "RunData", "build_report", "load_runs"]
