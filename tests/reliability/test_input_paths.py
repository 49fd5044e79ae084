"""What the config points at is checked by `validate`, in seconds: the HF directory (config.json and
safetensors headers), the tokenizer (loadable, has the stop tokens, fits the model's vocabulary), and the
data and benchmark files (exist, readable format). tests/models/test_model_errors.py covers the same
directories at load time (missing / unexpected / mis-shaped tensors)."""

import importlib.util
import json
import os
import sys

import numpy as np
import pytest

from rlvr_jax.config import ConfigError, validate
from tests.reliability.conftest import config_with, write_hf_directory


def _validate(**fields):
  return validate(config_with(**fields), num_devices=1)


def test_a_complete_directory_passes(hf_dir, data_file):
  spec = _validate(**{"model.path": hf_dir, "data.train_files": data_file, "data.eval_files": data_file})
  assert not spec.embedded_default


@pytest.mark.parametrize("damage, message", [
    (lambda d: os.remove(os.path.join(d, "config.json")), r"model\.path='.*' has no config\.json; it must be an HF"),
    (lambda d: open(os.path.join(d, "config.json"), "w").write('{"model_type": "qwen2",'),
     r"model\.path='.*': config\.json: JSONDecodeError"),
    (lambda d: _edit_config(d, model_type="llama"), r"config\.json: UnsupportedConfigError: .*model_type='llama'"),
    (lambda d: os.remove(os.path.join(d, "model.safetensors")),
     r"model\.path='.*': model path .* has neither model\.safetensors nor model\.safetensors\.index\.json"),
    (lambda d: _truncate(os.path.join(d, "model.safetensors")),
     r"model\.path='.*': cannot read the weight files \(SafetensorError: .*\); model\.safetensors or a shard "
     r"is damaged or truncated"),
])
def test_damaged_hf_directory(hf_dir, damage, message):
  damage(hf_dir)
  with pytest.raises(ConfigError, match=message):
    _validate(**{"model.path": hf_dir})


def test_sharded_checkpoint_with_a_missing_or_truncated_shard(hf_dir):
  from safetensors import safe_open
  from safetensors.numpy import save_file

  with safe_open(os.path.join(hf_dir, "model.safetensors"), framework="np") as f:
    names = list(f.keys())
  os.rename(os.path.join(hf_dir, "model.safetensors"), os.path.join(hf_dir, "model-00001-of-00002.safetensors"))
  index = {"weight_map": {**{name: "model-00001-of-00002.safetensors" for name in names},
                          "lm_head.weight": "model-00002-of-00002.safetensors"}}  # a tied model may store it
  with open(os.path.join(hf_dir, "model.safetensors.index.json"), "w") as f:
    json.dump(index, f)
  with pytest.raises(ConfigError, match=r"index\.json lists 'model-00002-of-00002\.safetensors', which is missing"):
    _validate(**{"model.path": hf_dir})
  second = os.path.join(hf_dir, "model-00002-of-00002.safetensors")
  save_file({"lm_head.weight": np.zeros((512, 128), np.float32)}, second)
  _validate(**{"model.path": hf_dir})
  _truncate(second)
  with pytest.raises(ConfigError, match=r"weight file 'model-00002-of-00002\.safetensors' is damaged or truncated"):
    _validate(**{"model.path": hf_dir})


def test_model_directory_without_a_tokenizer(tmp_path):
  path = write_hf_directory(tmp_path / "weights_only", tokenizer=False)
  with pytest.raises(ConfigError, match=r"model\.path: '.*weights_only' has no tokenizer files \(tokenizer\.json, "
                                        r".*\); set model\.tokenizer to a directory that has them"):
    _validate(**{"model.path": path})
  with pytest.raises(ConfigError, match=r"model\.tokenizer='/no/tokenizer' does not exist"):
    _validate(**{"model.path": path, "model.tokenizer": "/no/tokenizer"})
  _validate(**{"model.path": path, "model.tokenizer": write_hf_directory(tmp_path / "other")})


def test_damaged_tokenizer_file(hf_dir):
  with open(os.path.join(hf_dir, "tokenizer", "tokenizer.json"), "w") as f:
    f.write("{")
  with pytest.raises(ConfigError, match=r"model\.path: cannot load a tokenizer from '.*tokenizer' \(.*\); its "
                                        r"tokenizer files are damaged or incomplete"):
    _validate(**{"model.path": hf_dir})


@pytest.mark.parametrize("model_path", [True, False], ids=["model.path", "embedded"])
def test_tokenizer_without_the_stop_tokens(hf_dir, model_path):
  fields = {"rollout.stop_tokens": "<|im_end|>,</s>", **({"model.path": hf_dir} if model_path else {})}
  where = r"in '.*' \(model\.path\)" if model_path else "built in for the embedded default"
  with pytest.raises(ConfigError, match=rf"rollout\.stop_tokens: the tokenizer {where} has no token '</s>' "
                                        rf"\(rollout\.stop_tokens='<\|im_end\|>,</s>'\)"):
    _validate(**fields)


def test_tokenizer_larger_than_the_model_vocabulary(tmp_path):
  path = write_hf_directory(tmp_path / "small_vocab", vocab_size=100)
  with pytest.raises(ConfigError, match=r"the tokenizer in .* has 144 tokens but the model's vocab_size is 100"):
    _validate(**{"model.path": path})


def test_chat_template_needs_a_tokenizer_with_one(hf_dir):
  os.remove(os.path.join(hf_dir, "tokenizer", "chat_template.jinja"))
  with pytest.raises(ConfigError, match=r"data\.template='chat_template' but the tokenizer in .* has no chat "
                                        r"template"):
    _validate(**{"model.path": hf_dir, "data.template": "chat_template"})


@pytest.mark.parametrize("field", ["data.train_files", "data.eval_files"])
def test_data_files_that_do_not_exist(data_file, field):
  with pytest.raises(ConfigError, match=rf"{field}='/data/missing\.jsonl': '/data/missing\.jsonl' does not exist"):
    _validate(**{field: "/data/missing.jsonl"})
  with pytest.raises(ConfigError, match=r"' b\.jsonl' does not exist"):  # the loop does not strip spaces
    _validate(**{field: f"{data_file}, b.jsonl"})


def test_data_file_with_an_unsupported_format(tmp_path):
  csv = tmp_path / "train.csv"
  csv.write_text("question,answer\n")
  with pytest.raises(ConfigError, match=r"data\.train_files=.*train\.csv' has an unsupported extension; use "
                                        r"\.jsonl, \.json, \.parquet"):
    _validate(**{"data.train_files": str(csv)})


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
  path = tmp_path / "train.parquet"
  path.write_bytes(b"PAR1")
  find_spec = importlib.util.find_spec
  monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else find_spec(name, *a))
  with pytest.raises(ConfigError, match=r"reading '.*train\.parquet' needs pyarrow, which is not installed"):
    _validate(**{"data.train_files": str(path)})


def test_benchmark_file_that_does_not_exist():
  with pytest.raises(ConfigError, match=r"eval\.benchmarks='math500=/data/math500\.jsonl': "
                                        r"'/data/math500\.jsonl' does not exist"):
    _validate(**{"eval.benchmarks": "math500=/data/math500.jsonl"})


def _edit_config(directory: str, **changes) -> None:
  path = os.path.join(directory, "config.json")
  with open(path) as f:
    config = json.load(f)
  with open(path, "w") as f:
    json.dump({**config, **changes}, f)


def _truncate(path: str) -> None:
  os.truncate(path, os.path.getsize(path) // 2)


def test_builtin_codec_matches_the_tokenizer_saved_with_the_embedded_policy(tmp_path):
  """The loop can load the codec (and tokenize the data) before the embedded policy is built: the
  built-in codec encodes, decodes and stops exactly like the tokenizer saved beside that policy."""
  from rlvr_jax.data import render_prompt
  from rlvr_jax.data._text_codec import TextCodec, save_tokenizer
  from rlvr_jax.embedded import builtin_tokenizer

  stop_tokens = ("<|im_end|>", "<|endoftext|>")
  builtin = validate(config_with(), num_devices=1).codec
  save_tokenizer(builtin_tokenizer(), str(tmp_path))
  saved = TextCodec.load(str(tmp_path), stop_tokens)
  assert builtin.stop_token_ids == saved.stop_token_ids
  text = render_prompt("qwen_math", "Compute 7-3.", builtin.tokenizer) + "The answer is \\boxed{4}.<|im_end|>"
  ids = builtin.tokenizer(text, add_special_tokens=False)["input_ids"]
  assert ids == saved.tokenizer(text, add_special_tokens=False)["input_ids"]
  mask = np.ones((1, len(ids)), np.int32)
  assert builtin.decode(np.asarray([ids]), mask) == saved.decode(np.asarray([ids]), mask)


def _program(path, mode: int, content: str = "not a program\n") -> str:
  path.write_text(content)
  path.chmod(mode)
  return str(path)


@pytest.mark.parametrize("make, message", [
    (lambda d: "/nonexistent/python3", r"='/nonexistent/python3' does not exist or is not a file"),
    (lambda d: _program(d / "python3", 0o644), r"='.*python3' is not executable"),
    (lambda d: _program(d / "python3", 0o755, "\x7fELF garbage"), r"='.*python3' does not run \(OSError: .*Exec format "
                                                                  r"error"),
    (lambda d: _program(d / "python3", 0o755, "#!/bin/sh\necho Python 2.7\n"),
     r"='.*python3' is not a Python >= 3\.9 interpreter \(exit code 0: Python 2\.7\)"),
])
def test_sandbox_interpreter_of_a_code_reward_is_run_in_validate(tmp_path, make, message):
  """A code reward's interpreter is checked (exists, executable, runs as Python >= 3.9) in validate, not
  after the warm start, the compile and the first rollout; rewards that run no code do not need one."""
  python = make(tmp_path)
  with pytest.raises(ConfigError, match=rf"reward\.sandbox\.python{message}"):
    _validate(**{"reward.name": "code_exec", "reward.sandbox.python": python})
  _validate(**{"reward.name": "format", "reward.sandbox.python": python})
  _validate(**{"reward.name": "code_exec", "reward.sandbox.python": sys.executable})
