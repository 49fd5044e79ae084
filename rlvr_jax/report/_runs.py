"""What a report reads from a run directory: metrics.jsonl, eval/*.json reports, diagnostics/*.npz.

Only plain files are read (no jax, no checkpoints), so a report can be made on a laptop from a copied
run directory. Missing optional parts (no evaluations, no entropy-change diagnostics) are reported as
absent; a part that is present but malformed is an error naming its file.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import re

import numpy as np

ENTROPY_CHANGE_ARRAYS = ("predicted_code", "predicted_theorem", "actual")
_STEP_FILE = re.compile(r"step_(\d+)\.npz$")


@dataclasses.dataclass(frozen=True)
class RunData:
  """One run's logs.

  Attributes:
    name: label in figures and tables (the directory name; the path when two runs share a name).
    path: the run directory.
    history: metrics.jsonl rows in file order; null (non-finite) values are NaN.
    eval_reports: JSON evaluation reports, ordered by step (reports without a step, which evaluate a
      final export, last).
    entropy_change: predicted_code / predicted_theorem / actual, each [M] concatenated over the
      diagnostics files in step order; None when the run has none.
  """

  name: str
  path: str
  history: tuple[dict, ...]
  eval_reports: tuple[dict, ...]
  entropy_change: dict[str, np.ndarray] | None

  def series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps [S], values [S]) of the rows that logged a finite `key`."""
    pairs = [(row["step"], row[key]) for row in self.history if key in row and math.isfinite(row[key])]
    steps, values = zip(*pairs) if pairs else ((), ())
    return np.asarray(steps, np.float64), np.asarray(values, np.float64)

  def final(self, key: str) -> float | None:
    """The last finite value of `key`, or None if the run never logged one."""
    _, values = self.series(key)
    return float(values[-1]) if values.size else None

  def last_step(self) -> int | None:
    return int(self.history[-1]["step"]) if self.history else None


def read_history(path: str) -> tuple[dict, ...]:
  rows = []
  with open(path, encoding="utf-8") as f:
    for line_number, line in enumerate(f, start=1):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
      except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{line_number}: invalid JSON ({e.msg})") from None
      if not isinstance(row, dict) or not isinstance(row.get("step"), int):
        raise ValueError(f"{path}:{line_number}: expected an object with an integer 'step'")
      rows.append({k: (math.nan if v is None else v) for k, v in row.items()})
  return tuple(rows)


def read_eval_reports(run_dir: str) -> tuple[dict, ...]:
  reports = []
  for path in glob.glob(os.path.join(run_dir, "eval", "*.json")):
    with open(path, encoding="utf-8") as f:
      try:
        report = json.load(f)
      except json.JSONDecodeError as e:
        raise ValueError(f"{path}: invalid JSON ({e.msg})") from None
    if not isinstance(report, dict) or not isinstance(report.get("benchmarks"), dict):
      raise ValueError(f"{path}: not an evaluation report (no 'benchmarks' object)")
    reports.append(report)
  return tuple(sorted(reports, key=lambda r: (r.get("step") is None, r.get("step") or 0)))


def read_entropy_change(run_dir: str) -> dict[str, np.ndarray] | None:
  files = glob.glob(os.path.join(run_dir, "diagnostics", "entropy_change_step_*.npz"))
  files = sorted(files, key=lambda p: int(_STEP_FILE.search(p).group(1)) if _STEP_FILE.search(p) else -1)
  if not files:
    return None
  parts: dict[str, list[np.ndarray]] = {k: [] for k in ENTROPY_CHANGE_ARRAYS}
  for path in files:
    with np.load(path) as data:
      missing = [k for k in ENTROPY_CHANGE_ARRAYS if k not in data.files]
      if missing:
        raise ValueError(f"{path}: missing array(s) {missing}; has {sorted(data.files)}")
      arrays = {k: np.asarray(data[k], np.float64).reshape(-1) for k in ENTROPY_CHANGE_ARRAYS}
    if len({a.size for a in arrays.values()}) != 1:
      raise ValueError(f"{path}: arrays {ENTROPY_CHANGE_ARRAYS} differ in size "
                       f"{[a.size for a in arrays.values()]}")
    for k, a in arrays.items():
      parts[k].append(a)
  return {k: np.concatenate(v) for k, v in parts.items()}


def _labels(paths: list[str]) -> list[str]:
  """The shortest trailing path parts that tell the runs apart ('steer', or 'a/steer' and 'b/steer')."""
  parts = [os.path.normpath(os.path.abspath(p)).split(os.sep) for p in paths]
  for depth in range(1, max(len(p) for p in parts) + 1):
    labels = ["/".join(p[-depth:]) for p in parts]
    if len(set(labels)) == len(labels):
      return labels
  raise ValueError(f"RUN_DIR: the same run directory is named twice: {paths}")


def load_runs(run_dirs: list[str]) -> list[RunData]:
  """Every run's logs; a directory without metrics.jsonl is an error naming it."""
  if not run_dirs:
    raise ValueError("RUN_DIR: name at least one run directory")
  runs = []
  for path, name in zip(run_dirs, _labels(run_dirs)):
    metrics = os.path.join(path, "metrics.jsonl")
    if not os.path.isfile(metrics):
      raise FileNotFoundError(f"RUN_DIR={path!r} has no metrics.jsonl (not a run directory?)")
    runs.append(RunData(name=name, path=path, history=read_history(metrics), eval_reports=read_eval_reports(path),
                        entropy_change=read_entropy_change(path)))
  return runs
