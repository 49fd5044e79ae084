"""Cheap checks of what a config points at: an HF model directory (config.json and the safetensors
headers, not the tensors) and data / benchmark files (that they exist and have a readable format, not
their rows). A wrong path or a truncated download therefore costs seconds, not a warm start or a weight
load; rows are checked by the data pipeline (file:line) before any weight is loaded.
"""

from __future__ import annotations

import importlib.util
import json
import os

from safetensors import safe_open

from rlvr_jax.errors import ConfigError
from rlvr_jax.models import hf_weights
from rlvr_jax.models.config import QwenConfig

DATA_EXTENSIONS = (".jsonl", ".json", ".parquet")


def require(condition: bool, message: str) -> None:
  """Raises ConfigError(message) unless `condition`."""
  if not condition:
    raise ConfigError(message)


def check_hf_directory(path: str, field: str = "model.path") -> QwenConfig:
  """Checks an HF directory without reading tensors: config.json parses into a supported Qwen config,
  and every safetensors file the directory names exists with an intact header (safetensors checks the
  header against the file size, so a truncated download fails here)."""
  require(os.path.isdir(path), f"{field}={path!r} does not exist or is not a directory")
  config_file = os.path.join(path, "config.json")
  require(os.path.isfile(config_file),
           f"{field}={path!r} has no config.json; it must be an HF model directory (config.json + *.safetensors)")
  try:
    with open(config_file, encoding="utf-8") as f:
      model = QwenConfig.from_hf_dict(json.load(f))
  except (ValueError, TypeError, KeyError) as e:  # JSONDecodeError is a ValueError
    raise ConfigError(f"{field}={path!r}: config.json: {type(e).__name__}: {e}") from None
  try:
    files = sorted(set(hf_weights.checkpoint_files(path).values()))
  except FileNotFoundError as e:
    raise ConfigError(f"{field}={path!r}: {e}") from None
  except Exception as e:  # noqa: BLE001 - safetensors and json raise their own types for damaged files
    raise ConfigError(f"{field}={path!r}: cannot read the weight files ({type(e).__name__}: {e}); "
                      f"{hf_weights.SINGLE_FILE} or a shard is damaged or truncated") from None
  for file in files:
    try:
      with safe_open(file, framework="np"):
        pass
    except Exception as e:  # noqa: BLE001 - SafetensorError has no stable import path
      raise ConfigError(f"{field}={path!r}: weight file {os.path.basename(file)!r} is damaged or truncated "
                        f"({e})") from None
  return model


def check_data_files(field: str, value: str, paths: list[str] | None = None) -> None:
  """Every path is a readable JSONL / Parquet file; `paths` defaults to `value` split at commas exactly as
  the loop splits it (no stripping: 'a.jsonl, b.jsonl' names ' b.jsonl', and the error shows that)."""
  for path in paths if paths is not None else [p for p in value.split(",") if p]:
    require(os.path.isfile(path), f"{field}={value!r}: {path!r} does not exist or is not a file")
    require(path.endswith(DATA_EXTENSIONS),
             f"{field}={value!r}: {path!r} has an unsupported extension; use {', '.join(DATA_EXTENSIONS)}")
    require(not path.endswith(".parquet") or importlib.util.find_spec("pyarrow") is not None,
             f"{field}={value!r}: reading {path!r} needs pyarrow, which is not installed")
