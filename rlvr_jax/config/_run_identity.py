"""A run directory belongs to one run: the resolved config is saved in it when the run starts, and a
resume with a config that differs in anything but the fields that may change between segments stops
before anything compiles (exit code 2 from the launcher), showing the differing fields.

The saved `RUN_DIR/config.json` is the whole config as plain JSON; `launch/tpu_pod.py --config
RUN_DIR/config.json` runs it again (`rlvr_jax.config._saved_config`). An explicit override
(`--resume_with_changes` / `train(..., allow_config_change=True)`) resumes anyway and appends the change
to `RUN_DIR/config_changes.jsonl`.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any, Mapping

from rlvr_jax.errors import ConfigError

CONFIG_FILE = "config.json"
CHANGES_FILE = "config_changes.jsonl"

# Fields a run may change between segments: how long it runs, how often it evaluates, logs and
# checkpoints, where it writes, and how it is laid out on devices (orbax restores into any mesh).
RESUMABLE_FIELDS = frozenset({
    "train.steps", "train.run_dir", "eval.every", "checkpoint.every", "checkpoint.keep",
    "checkpoint.export_hf_every", "log.tensorboard", "diagnostics.every", "mesh.data", "mesh.fsdp", "mesh.tensor",
    "reward.workers",
})


class ConfigMismatchError(ConfigError):
  """A resume whose config differs from the one the run directory was started with."""


def plain(config: Mapping[str, Any]) -> dict:
  """The config as JSON data (tuples become lists), so a saved and a fresh config compare equal."""
  return json.loads(json.dumps(config, sort_keys=True))


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
  out = {}
  for key, value in tree.items():
    if isinstance(value, Mapping):
      out.update(flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def config_diff(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
  """(field, saved value, current value) for every field that differs and may not change on resume."""
  missing = object()
  old, new = flatten(plain(saved)), flatten(plain(current))
  return [(field, old.get(field, missing), new.get(field, missing)) for field in sorted(set(old) | set(new))
          if field not in RESUMABLE_FIELDS and old.get(field, missing) != new.get(field, missing)]


def _describe(diff: list[tuple[str, Any, Any]]) -> str:
  show = lambda v: "(absent)" if not isinstance(v, (str, int, float, bool, list, type(None))) else repr(v)  # noqa: E731
  return "\n".join(f"  {field}: saved {show(old)} -> now {show(new)}" for field, old, new in diff)


def read_saved_config(run_dir: str) -> dict | None:
  path = os.path.join(run_dir, CONFIG_FILE)
  if not os.path.isfile(path):
    return None
  try:
    with open(path, encoding="utf-8") as f:
      return json.load(f)
  except (OSError, ValueError) as e:
    raise ConfigError(f"{path} cannot be read ({type(e).__name__}: {e}); it records the config this run "
                      f"directory was started with") from None


def write_saved_config(run_dir: str, config: Mapping[str, Any]) -> None:
  """Writes RUN_DIR/config.json atomically (a crash never leaves half a file; a failed write, e.g. on a
  full disk, removes its staging file and raises an OSError naming config.json)."""
  os.makedirs(run_dir, exist_ok=True)
  target = os.path.join(run_dir, CONFIG_FILE)
  fd, staging = tempfile.mkstemp(dir=run_dir, prefix=".config.", suffix=".json")
  try:
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      json.dump(plain(config), f, indent=2, sort_keys=True)
      f.write("\n")
    os.replace(staging, target)
  except OSError as e:
    if os.path.exists(staging):
      os.remove(staging)
    raise OSError(e.errno, e.strerror, target) from e


def check_resume(run_dir: str, config: Mapping[str, Any], *, has_checkpoint: bool, allow_changes: bool,
                 write: bool) -> list[tuple[str, Any, Any]]:
  """Checks `config` against the run directory's saved config and (re)writes it; returns the accepted diff.

  Args:
    run_dir: the run directory.
    config: the resolved config of this launch (plain data).
    has_checkpoint: the run directory holds a checkpoint this launch would resume.
    allow_changes: resume even if the configs differ, recording the change.
    write: this process writes the files (process 0 of a multi-process run).

  Raises:
    ConfigMismatchError: a checkpoint exists and the configs differ (or no config was saved with it).
  """
  saved = read_saved_config(run_dir)
  diff: list[tuple[str, Any, Any]] = []
  if has_checkpoint:
    if saved is None:
      diff = [("config.json", "(missing)", "(this launch)")]
      reason = (f"{run_dir} holds checkpoints but no {CONFIG_FILE}, so nothing shows they belong to this config "
                f"(a run directory of an older rlvr_jax, or a copied checkpoint)")
    else:
      diff = config_diff(saved, config)
      reason = f"{run_dir} was started with another config; differing fields:\n{_describe(diff)}"
    if diff and not allow_changes:
      raise ConfigMismatchError(
          f"{reason}\nA resume must use the config the run started with: launch it with --config "
          f"{os.path.join(run_dir, CONFIG_FILE)}, or pick a new train.run_dir; --resume_with_changes resumes "
          f"anyway and records the change in {os.path.join(run_dir, CHANGES_FILE)}")
  if write:
    if diff:
      os.makedirs(run_dir, exist_ok=True)
      with open(os.path.join(run_dir, CHANGES_FILE), "a", encoding="utf-8") as f:
        f.write(json.dumps({"time": time.time(), "changes": [
            {"field": field, "saved": old if isinstance(old, (str, int, float, bool, list, type(None))) else None,
             "now": new if isinstance(new, (str, int, float, bool, list, type(None))) else None}
            for field, old, new in diff]}) + "\n")
    write_saved_config(run_dir, config)
  return diff


def config_text(config: Mapping[str, Any]) -> str:
  """The config as indented JSON in a Markdown code block (TensorBoard's text plugin renders Markdown)."""
  return "```json\n" + json.dumps(plain(config), indent=2, sort_keys=True) + "\n```"
