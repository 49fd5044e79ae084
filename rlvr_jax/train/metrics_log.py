"""Where metrics go: tensorboardX scalars, a JSONL file (one object per step) and a console progress
line with ETA and the key figures. Only process 0 writes."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Mapping

import jax
import numpy as np

KEY_FIGURES = (("reward", "reward/mean"), ("acc", "reward/accuracy"), ("H", "actor/entropy"),
               ("len", "response/length_mean"), ("eval", "eval/accuracy"))


def _scalar(value) -> float:
  return float(np.asarray(value))


class MetricsLogger:
  def __init__(self, run_dir: str, total_steps: int, *, tensorboard: bool = True, stream=sys.stdout):
    self.enabled = jax.process_index() == 0
    self.total_steps = total_steps
    self.stream = stream
    self._start = time.monotonic()
    self._start_step: int | None = None
    self._writer = None
    self._jsonl = None
    if self.enabled:
      os.makedirs(run_dir, exist_ok=True)
      self._jsonl = open(os.path.join(run_dir, "metrics.jsonl"), "a")
      if tensorboard:
        from tensorboardX import SummaryWriter

        self._writer = SummaryWriter(os.path.join(run_dir, "tensorboard"))

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
