"""Where metrics go: tensorboardX scalars, a JSONL file (one object per step) and a console progress
line with ETA and the key figures. Only process 0 writes.

Resuming: a run killed between two checkpoints has logged steps the resumed run will compute again. The
logger is told the step it resumes from and drops the JSONL rows after it (and a torn last line, the
trace of a kill in mid-write) before appending, so `metrics.jsonl` holds each step once, with the values
of the run that the checkpoints continue; tensorboard hides the later events itself (`purge_step`).
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

KEY_FIGURES = (("reward", "reward/mean"), ("acc", "reward/accuracy"), ("H", "rollout/entropy"),
               ("len", "response/length_mean"), ("eval", "eval/accuracy"))


def _scalar(value) -> float:
  return float(np.asarray(value))


def truncate_jsonl(path: str, last_step: int) -> int:
  """Rewrites `path` without the rows whose step is after `last_step` (atomically: a kill during the rewrite
  leaves the old file); returns the number of rows dropped. Only the final line may be torn; a damaged
  line before it is not the trace of a kill, and raises naming the file and line."""
  if not os.path.exists(path):
    return 0
  with open(path, encoding="utf-8") as f:
    text = f.read()
  lines = text.split("\n")
  if lines[-1] == "":
    lines.pop()
  kept = []
  for number, line in enumerate(lines, 1):
    try:
      row = json.loads(line)
    except json.JSONDecodeError as e:
      if number == len(lines):  # a kill while the row was written
        break
      raise ValueError(f"{path}:{number}: not a JSON metrics row ({e}); the file was edited or damaged") from e
    if row.get("step", 0) <= last_step:
      kept.append(line)
  dropped = len(lines) - len(kept)
  if dropped or (text and not text.endswith("\n")):  # the next row must start on a line of its own
    staging = f"{path}.tmp"
    with open(staging, "w", encoding="utf-8") as f:
      f.write("".join(line + "\n" for line in kept))
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
      os.makedirs(run_dir, exist_ok=True)
      path = os.path.join(run_dir, "metrics.jsonl")
      dropped = truncate_jsonl(path, resume_step if resume_step > 0 else -1)
      if dropped:
        print(f"{path}: dropped {dropped} row(s) logged after step {resume_step}, the step this run resumes "
              f"from", file=stream, flush=True)
      self._jsonl = open(path, "a")
      if tensorboard:
        from tensorboardX import SummaryWriter

        self._writer = SummaryWriter(os.path.join(run_dir, "tensorboard"),
                                     purge_step=resume_step + 1 if resume_step > 0 else 0)

  def log_text(self, tag: str, text: str, step: int = 0) -> None:
    """A text record in TensorBoard (the run's config, as flax's examples log their hyperparameters)."""
    if self._writer is not None:
      self._writer.add_text(tag, text, step)
      self._writer.flush()

  def log(self, step: int, metrics: Mapping[str, float]) -> dict[str, float]:
    values = {k: _scalar(v) for k, v in metrics.items()}
    if not self.enabled:
      return values
    self._jsonl.write(json.dumps({"step": step, **{k: (v if math.isfinite(v) else None)
                                                   for k, v in sorted(values.items())}}) + "\n")
    self._jsonl.flush()
    if self._writer is not None:
      for key, value in values.items():
        if math.isfinite(value):
          self._writer.add_scalar(key, value, step)
      self._writer.flush()
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
    if self._jsonl is not None:
      self._jsonl.close()
    if self._writer is not None:
      self._writer.close()
