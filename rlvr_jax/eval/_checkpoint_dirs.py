"""Which HF directory a `--checkpoint` argument means, and the dtype it was saved in.

A run directory is accepted as well as an HF directory: the trainer exports its final policy to
`<run>/hf/final` (and every `checkpoint.export_hf_every` steps to `<run>/hf/step_<N>`), so "evaluate this
run" resolves to its final export, or its newest periodic one when the run stopped before the end.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re

_STEP_DIR = re.compile(r"^step_(\d+)$")


@dataclasses.dataclass(frozen=True)
class ResolvedCheckpoint:
  """Attributes:
    model_dir: the HF directory to load.
    run_dir: the run directory it belongs to (None for a standalone HF directory).
    step: the training step of a `step_<N>` export, else None (final exports and foreign checkpoints).
  """

  model_dir: str
  run_dir: str | None
  step: int | None


def _is_hf_dir(path: str) -> bool:
  """An HF model directory: its config.json names a model_type (a run directory's config.json is the run's
  config, which has none)."""
  try:
    with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
      return "model_type" in json.load(f)
  except (OSError, ValueError, TypeError):
    return False


def _step_of(path: str) -> int | None:
  match = _STEP_DIR.match(os.path.basename(os.path.normpath(path)))
  return int(match.group(1)) if match else None


def resolve_checkpoint(path: str, *, flag: str = "--checkpoint") -> ResolvedCheckpoint:
  """An HF directory as is; a run directory as its hf/final, else its newest hf/step_<N>."""
  if not os.path.isdir(path):
    raise FileNotFoundError(f"{flag}={path!r} does not exist or is not a directory")
  if _is_hf_dir(path):
    parent = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    in_run = os.path.basename(os.path.dirname(os.path.abspath(path))) == "hf"
    return ResolvedCheckpoint(model_dir=path, run_dir=parent if in_run else None, step=_step_of(path))
  exports = os.path.join(path, "hf")
  if _is_hf_dir(os.path.join(exports, "final")):
    return ResolvedCheckpoint(model_dir=os.path.join(exports, "final"), run_dir=path, step=None)
  steps = sorted((_step_of(name), name) for name in (os.listdir(exports) if os.path.isdir(exports) else [])
                 if _step_of(name) is not None and _is_hf_dir(os.path.join(exports, name)))
  if steps:
    return ResolvedCheckpoint(model_dir=os.path.join(exports, steps[-1][1]), run_dir=path, step=steps[-1][0])
  raise FileNotFoundError(f"{flag}={path!r} is neither an HF directory (no config.json) nor a run directory "
                          f"with an exported policy (no hf/final or hf/step_<N>); orbax checkpoints are "
                          f"not read here, export with --config.checkpoint.export_hf_every")


def checkpoint_dtype(model_dir: str, requested: str, *, flag: str = "--dtype") -> str:
  """`requested`, or for 'auto' the dtype recorded in config.json ('dtype' or 'torch_dtype')."""
  known = ("bfloat16", "float32")
  if requested != "auto":
    if requested not in known:
      raise ValueError(f"{flag}={requested!r}; known: auto, {', '.join(known)}")
    return requested
  with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
    config = json.load(f)
  recorded = config.get("dtype") or config.get("torch_dtype")
  if recorded not in known:
    raise ValueError(f"{flag}=auto: {model_dir}/config.json records dtype {recorded!r}; pass {flag} "
                     f"{' or '.join(known)}")
  return recorded
