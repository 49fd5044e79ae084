"""Where metrics go: tensorboardX scalars, a JSONL file (one object per step) and a console progress
line with ETA and the key figures. Only process 0 writes.

Resuming: a run killed between two checkpoints has logged steps the resumed run will compute again. The
logger is told the step it resumes from and drops the JSONL rows after it (and a torn last line, the
trace of a kill in mid-write) before appending, so `metrics.jsonl` holds each step once, with the values
of the run that the checkpoints continue; tensorboard hides the later events itself (`purge_step`). A
damaged line before the last one is not the trace of a kill: `check_jsonl` (run when the run directory
is opened, before anything is built) and the truncation raise `MetricsFileError` naming file and line.
Both read the file a line at a time.

Every write runs in `rlvr_jax.train._disk_full.writing`, so a full disk is reported as such, naming the
file; tensorboard events are written synchronously (`rlvr_jax.train._tensorboard_events`).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Mapping

import jax
import numpy as np

from rlvr_jax.errors import ConfigError
from rlvr_jax.train._disk_full import writing
from rlvr_jax.train._tensorboard_events import EventFile

METRICS_FILE = "metrics.jsonl"
_MAX_ROW_BYTES = 1 << 20  # no metrics row comes near this; a longer line is damage, and is not read whole

KEY_FIGURES = (("reward", "reward/mean"), ("acc", "reward/accuracy"), ("H", "rollout/entropy"),
               ("len", "response/length_mean"), ("eval", "eval/accuracy"))


def _scalar(value) -> float:
  return float(np.asarray(value))


class MetricsFileError(ConfigError):
  """metrics.jsonl holds a damaged line that a kill cannot explain; the message names file and line."""


def _lines(path: str):
  """(number, line without its newline or None when over the bound, whether it ended with a newline, is
  it the last line) for every line of `path`, read a line at a time."""
  with open(path, "rb") as f:
    number, line = 0, f.readline(_MAX_ROW_BYTES + 1)
    while line:
      number += 1
      complete = line.endswith(b"\n")
      if not complete and len(line) > _MAX_ROW_BYTES:
        while line and not line.endswith(b"\n"):
          line = f.readline(_MAX_ROW_BYTES)
        following = f.readline(_MAX_ROW_BYTES + 1)
        yield number, None, True, not following
      else:
        following = f.readline(_MAX_ROW_BYTES + 1)
        yield number, line.rstrip(b"\n"), complete, not following
      line = following


def _row(line: bytes | None) -> dict | None:
  """The row a line holds, or None if it is not a JSON object (or not UTF-8, or over the bound)."""
  if line is None:
    return None
  try:
    row = json.loads(line)
  except ValueError:  # JSONDecodeError, UnicodeDecodeError
    return None
  return row if isinstance(row, dict) else None


def _damaged(path: str, number: int) -> MetricsFileError:
  return MetricsFileError(f"{path}:{number}: not a JSON metrics row; only the last line can be torn (by a kill), "
                          f"so the file was edited or damaged: repair or delete that line (the checkpoints do "
                          f"not depend on it)")


def check_jsonl(path: str) -> None:
  """Raises MetricsFileError if a line before the last of `path` is not a metrics row."""
  if not os.path.isfile(path):
    return
  for number, line, _, last in _lines(path):
    if not last and _row(line) is None:
      raise _damaged(path, number)


def truncate_jsonl(path: str, last_step: int) -> int:
  """Rewrites `path` without the rows whose step is after `last_step` (atomically: a kill during the rewrite
  leaves the old file); returns the number of rows dropped. Only the final line may be torn; a damaged
  line before it is not the trace of a kill, and raises naming the file and line."""
  if not os.path.exists(path):
    return 0
  kept, dropped, ends_with_newline = [], 0, True
  for number, line, complete, last in _lines(path):
    row = _row(line)
    if row is None:
      if not last:
        raise _damaged(path, number)
      dropped += 1  # a kill while the row was written
      continue
    if row.get("step", 0) <= last_step:
      kept.append(number)
    else:
      dropped += 1
    ends_with_newline = complete
  if dropped or not ends_with_newline:  # the next row must start on a line of its own
    staging = f"{path}.tmp"
    keep = set(kept)
    with writing("metrics.jsonl (dropping the rows after the resumed step)", path):
      with open(staging, "wb") as out:
        for number, line, _, _ in _lines(path):
          if number in keep:
            out.write(line + b"\n")
      os.replace(staging, path)
  return dropped


class MetricsLogger:
  """Args:
    run_dir: where `metrics.jsonl` and `tensorboard/` go.
    total_steps: for the progress bar and ETA.
    resume_step: the step the run continues from (its checkpoint's); rows logged after it by an earlier,
      interrupted run are dropped. 0 for a run from scratch, which keeps nothing (its step-0 evaluation
      is logged again).
  """

  def __init__(self, run_dir: str, total_steps: int, *, tensorboard: bool = True, stream=sys.stdout,
               resume_step: int = 0):
    self.enabled = jax.process_index() == 0
    self.total_steps = total_steps
    self.stream = stream
    self._start = time.monotonic()
    self._start_step: int | None = None
    self._writer = None
    self._jsonl = None
    if self.enabled:
      self.path = os.path.join(run_dir, METRICS_FILE)
      self._events_dir = os.path.join(run_dir, "tensorboard")
      with writing("metrics.jsonl", self.path):
        os.makedirs(run_dir, exist_ok=True)
        dropped = truncate_jsonl(self.path, resume_step if resume_step > 0 else -1)
        if dropped:
          print(f"{self.path}: dropped {dropped} row(s) logged after step {resume_step}, the step this run "
                f"resumes from", file=stream, flush=True)
        self._jsonl = open(self.path, "a", encoding="utf-8")
      if tensorboard:
        with writing("tensorboard events", self._events_dir):
          self._writer = EventFile(self._events_dir, purge_step=resume_step + 1 if resume_step > 0 else 0)

  def log_text(self, tag: str, text: str, step: int = 0) -> None:
    """A text record in TensorBoard (the run's config, as flax's examples log their hyperparameters)."""
    if self._writer is not None:
      with writing(f"tensorboard text {tag!r}", self._events_dir):
        self._writer.text(tag, text, step)

  def log(self, step: int, metrics: Mapping[str, float]) -> dict[str, float]:
    values = {k: _scalar(v) for k, v in metrics.items()}
    if not self.enabled:
      return values
    with writing(f"the metrics row of step {step}", self.path):
      self._jsonl.write(json.dumps({"step": step, **{k: (v if math.isfinite(v) else None)
                                                     for k, v in sorted(values.items())}}) + "\n")
      self._jsonl.flush()
    if self._writer is not None:
      with writing(f"the tensorboard events of step {step}", self._events_dir):
        self._writer.scalars(step, {key: value for key, value in values.items() if math.isfinite(value)})
    self._progress(step, values)
    return values

  def _progress(self, step: int, values: Mapping[str, float]) -> None:
    if self._start_step is None:
      self._start_step, self._start = step - 1, time.monotonic()
    done = step - self._start_step
    elapsed = time.monotonic() - self._start
    eta = elapsed / max(done, 1) * (self.total_steps - step)
    width = 20
    filled = int(width * step / max(self.total_steps, 1))
    figures = "  ".join(f"{short} {values[key]:.3f}" for short, key in KEY_FIGURES
                        if key in values and math.isfinite(values[key]))
    print(f"[{'#' * filled}{'.' * (width - filled)}] step {step}/{self.total_steps}  "
          f"{elapsed:5.0f}s eta {eta:4.0f}s  {figures}", file=self.stream, flush=True)

  def close(self) -> None:
    """Closes both files, even when the first close fails (a full disk: the buffered tail cannot be
    written); the first error is raised after both are closed."""
    jsonl, writer, self._jsonl, self._writer = self._jsonl, self._writer, None, None
    try:
      if jsonl is not None:
        with writing("metrics.jsonl", self.path):
          jsonl.close()
    finally:
      if writer is not None:
        with writing("tensorboard events", self._events_dir):
          writer.close()
