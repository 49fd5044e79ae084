"""The validated run a compile check builds its programs from, for a config whose weights are not here.

A compile check needs the architecture, never the weights: `configs/steer.py:model=qwen2.5-math-7b`
names its architecture (`model.preset`, set by the `model=` variant), and `model.path` is normally given
only on the machine that trains. `rlvr_jax.config.validate` reads the architecture from `model.path`
(and requires one for every preset but the embedded default), so without a path the config is validated
against a stand-in HF directory in a temporary directory: the preset's config.json and the built-in tokenizer,
validated with `weights=False` (no weight file is read). Every other check runs as for a launch (batch splits over the slice's
devices and hosts, the context length, the attention kernel for the target platform, objective,
optimizer); the stand-in only changes the stop-token ids (the built-in tokenizer's, the same number of
them), which no program's shape or memory depends on. With `model.path` set, the config is validated as is.
"""

from __future__ import annotations

import json
import os
import tempfile

import ml_collections

from rlvr_jax.config import validate
from rlvr_jax.config._spec import RunSpec
from rlvr_jax.data._text_codec import save_tokenizer
from rlvr_jax.embedded import builtin_tokenizer
from rlvr_jax.errors import ConfigError
from rlvr_jax.models._config import PRESETS, QwenConfig


def abstract_run_spec(config: ml_collections.ConfigDict, *, num_devices: int, num_processes: int,
                      platform: str) -> RunSpec:
  """`validate(config, num_devices, num_processes=, platform=)`, with a stand-in model directory when
  model.path is empty and model.preset names a published architecture (see the module docstring)."""
  preset = config.model.preset
  if config.model.path or preset == "tiny":
    return validate(config, num_devices, num_processes=num_processes, platform=platform)
  if preset not in PRESETS:
    raise ConfigError(f"model.preset={preset!r} is not a known preset; known: {', '.join(sorted(PRESETS))}")
  with tempfile.TemporaryDirectory(prefix=f"rlvr-compile-check-{preset}-") as directory:
    write_stand_in(PRESETS[preset], directory)
    stand_in = ml_collections.ConfigDict(config.to_dict())
    stand_in.model.path = directory
    spec = validate(stand_in, num_devices, num_processes=num_processes, platform=platform, weights=False)
  if spec.model.architecture != PRESETS[preset]:
    raise ConfigError(f"model.preset={preset!r}: its config.json does not read back as the preset "
                      f"({spec.model.architecture} != {PRESETS[preset]})")
  return spec


def write_stand_in(architecture: QwenConfig, directory: str) -> None:
  """An HF directory with `architecture`'s config.json and the built-in tokenizer (no weights)."""
  with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
    json.dump(architecture.to_hf_dict(), f)
  save_tokenizer(builtin_tokenizer(), directory)
