"""Cheap checks of what a config points at: an HF model directory (config.json and the safetensors
headers, not the tensors: every tensor's name and shape against what config.json implies), data /
benchmark files (that they exist and have a readable format: their first bytes, a Parquet footer and
schema; not their rows), the run directory's path, and the code sandbox's interpreter. A wrong path or a
truncated download therefore costs seconds, not a warm start or a weight load; rows are checked by the
data pipeline (file:line) before any weight is loaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess

from safetensors import safe_open

from rlvr_jax.data._record_readers import DataFileError, check_data_file
from rlvr_jax.errors import ConfigError
from rlvr_jax.models import _hf_weights as hf_weights
from rlvr_jax.models._config import QwenConfig
from rlvr_jax.models._pretrained import expected_hf_shapes
from rlvr_jax.rewards import REWARDS
from rlvr_jax.rewards.code import CodeExecReward

DATA_EXTENSIONS = (".jsonl", ".json", ".parquet")


def require(condition: bool, message: str) -> None:
  """Raises ConfigError(message) unless `condition`."""
  if not condition:
    raise ConfigError(message)


def check_hf_directory(path: str, field: str = "model.path", *, weights: bool = True) -> QwenConfig:
  """Checks an HF directory without reading tensors: config.json parses into a supported Qwen config,
  and (with `weights`) every safetensors file the directory names exists with an intact header
  (safetensors checks the header against the file size, so a truncated download fails here) and the
  shapes config.json implies."""
  require(os.path.isdir(path), f"{field}={path!r} does not exist or is not a directory")
  config_file = os.path.join(path, "config.json")
  require(os.path.isfile(config_file),
           f"{field}={path!r} has no config.json; it must be an HF model directory (config.json + *.safetensors)")
  try:
    with open(config_file, encoding="utf-8") as f:
      model = QwenConfig.from_hf_dict(json.load(f))
  except (ValueError, TypeError, KeyError) as e:  # JSONDecodeError is a ValueError
    raise ConfigError(f"{field}={path!r}: config.json: {type(e).__name__}: {e}") from None
  if not weights:
    return model
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
  _check_shapes(field, path, model, hf_weights.header_shapes(hf_weights.checkpoint_files(path)))
  return model


def _check_shapes(field: str, path: str, model: QwenConfig, stored: dict[str, tuple[int, ...]]) -> None:
  """Every tensor config.json implies is in the headers with its shape, and no other (a tied checkpoint may
  also store lm_head): a config.json of another size, layer count or vocabulary fails here, before any
  allocation, instead of as a shape error in the load (or an allocation of a 10^9-row embedding)."""
  expected = expected_hf_shapes(model)
  sizes = (f"config.json: hidden_size={model.hidden_size}, num_hidden_layers={model.num_layers}, "
           f"vocab_size={model.vocab_size}, intermediate_size={model.intermediate_size}")
  wrong = [(name, stored[name], shape) for name, shape in expected.items() if name in stored and stored[name] != shape]
  if wrong:
    name, found, shape = wrong[0]
    more = f" (and {len(wrong) - 1} more tensors)" if len(wrong) > 1 else ""
    raise ConfigError(f"{field}={path!r}: the weights do not match config.json: {name!r} is {found} in the "
                      f"safetensors, config.json implies {shape}{more}; {sizes}")
  missing = sorted(set(expected) - set(stored))
  if missing:
    stored_layers = _layers(stored)
    only_layers = all(n.startswith("model.layers.") for n in missing)
    if stored_layers and only_layers and max(stored_layers) < model.num_layers - 1:
      raise ConfigError(f"{field}={path!r}: config.json has num_hidden_layers={model.num_layers} but the weights "
                        f"hold {max(stored_layers) + 1} layers; {sizes}")
    more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
    raise ConfigError(f"{field}={path!r}: the weights lack tensor(s) config.json implies: {missing[:5]}{more}")
  unexpected = sorted(name for name in set(stored) - set(expected)
                      if not any(p.match(name) for p in hf_weights.IGNORED_HF)
                      and not (name == "lm_head.weight" and model.tie_word_embeddings))
  if unexpected:
    layers = _layers(unexpected)
    if layers and min(layers) >= model.num_layers:
      raise ConfigError(f"{field}={path!r}: config.json has num_hidden_layers={model.num_layers} but the weights "
                        f"hold {max(layers) + 1} layers; {sizes}")
    more = f" (and {len(unexpected) - 5} more)" if len(unexpected) > 5 else ""
    raise ConfigError(f"{field}={path!r}: the weights hold tensor(s) config.json does not describe: "
                      f"{unexpected[:5]}{more}")


def _layers(names) -> set[int]:
  """Decoder layer indices among HF tensor names ('model.layers.3.mlp.up_proj.weight' -> 3)."""
  parts = [name.split(".") for name in names]
  return {int(p[2]) for p in parts if len(p) > 2 and p[:2] == ["model", "layers"] and p[2].isdigit()}


def check_data_files(field: str, value: str, paths: list[str] | None = None, *, question_fields=(),
                     answer_field: str | None = None) -> None:
  """Every path is a readable JSONL / Parquet file; `paths` defaults to `value` split at commas exactly as
  the loop splits it (no stripping: 'a.jsonl, b.jsonl' names ' b.jsonl', and the error shows that).

  Beyond existence and extension, the file's first bytes (or Parquet footer) are read: empty, binary,
  compressed, UTF-16 or mis-named files, and Parquet files that are damaged, have no rows, or lack the
  question / answer columns (`question_fields`, `answer_field`; not checked when empty) fail here."""
  for path in paths if paths is not None else [p for p in value.split(",") if p]:
    require(os.path.isfile(path), f"{field}={value!r}: {path!r} does not exist or is not a file")
    require(path.endswith(DATA_EXTENSIONS),
             f"{field}={value!r}: {path!r} has an unsupported extension; use {', '.join(DATA_EXTENSIONS)}")
    require(not path.endswith(".parquet") or importlib.util.find_spec("pyarrow") is not None,
             f"{field}={value!r}: reading {path!r} needs pyarrow, which is not installed")
    try:
      check_data_file(path, question_fields=question_fields, answer_field=answer_field)
    except DataFileError as e:
      raise ConfigError(f"{field}={value!r}: {e}") from None
    except OSError as e:
      raise ConfigError(f"{field}={value!r}: {path!r} cannot be read ({type(e).__name__}: {e.strerror})") from None


def check_run_dir(run_dir: str, field: str = "train.run_dir") -> None:
  """The run directory exists as a directory, or can be made: no component of its path is a file or a
  symbolic link to nothing. Whether it is writable, and what it holds, is checked by the run itself
  (`rlvr_jax.train._run_dir`), which creates it."""
  path = os.path.abspath(run_dir)
  while True:
    if os.path.islink(path) and not os.path.exists(path):
      where = f"{path!r}" if path == os.path.abspath(run_dir) else f"{path!r}, on its path,"
      raise ConfigError(f"{field}={run_dir!r}: {where} is a symbolic link to {os.readlink(path)!r}, which does not "
                        f"exist; create the target or fix the link")
    if os.path.exists(path):
      if not os.path.isdir(path):
        if path == os.path.abspath(run_dir):
          raise ConfigError(f"{field}={run_dir!r} exists and is not a directory")
        raise ConfigError(f"{field}={run_dir!r}: {path!r} is a file, so the run directory cannot be made under it")
      return
    parent = os.path.dirname(path)
    if parent == path:
      return
    path = parent


def check_sandbox_python(reward: str, python: str) -> None:
  """reward.sandbox.python, when set and the reward runs code (`check_interpreter`)."""
  factory = REWARDS.get(reward) if reward in REWARDS else None
  if python and isinstance(factory, type) and issubclass(factory, CodeExecReward):
    check_interpreter("reward.sandbox.python", python)


def check_interpreter(field: str, python: str) -> None:
  """`python` exists, is executable, and runs as a Python >= 3.9 (the code sandbox's interpreter). Run
  once here, so a wrong path fails in a second instead of after the warm start and the first rollout."""
  require(os.path.isfile(python), f"{field}={python!r} does not exist or is not a file")
  require(os.access(python, os.X_OK), f"{field}={python!r} is not executable")
  try:
    result = subprocess.run([python, "-I", "-c", "import sys; print(sys.version_info >= (3, 9))"],
                            capture_output=True, text=True, timeout=30)
  except (OSError, subprocess.TimeoutExpired) as e:
    raise ConfigError(f"{field}={python!r} does not run ({type(e).__name__}: {e})") from None
  output = (result.stdout + result.stderr).strip()
  require(result.returncode == 0 and output == "True",
          f"{field}={python!r} is not a Python >= 3.9 interpreter (exit code {result.returncode}: "
          f"{output.splitlines()[-1][:200] if output else 'no output'})")
