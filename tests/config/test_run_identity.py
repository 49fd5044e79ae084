"""A run directory belongs to one run: default directories are named after the config file and variant,
the resolved config is saved there (and in TensorBoard), and resuming with another config stops before
anything compiles unless the change is asked for explicitly (then it is recorded)."""

import glob
import importlib.util
import json
import os
import struct
import time

import jax
import pytest

from rlvr_jax.config import ConfigMismatchError, validate
from rlvr_jax.config import _run_identity as run_identity
from rlvr_jax.config._saved_config import get_config as saved_config
from rlvr_jax.train._loop import train
from tests.reliability.launcher_runs import LauncherRun, run_env, shared_cache_dir, small_run_args

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "configs")


def _module(name):
  path = os.path.join(CONFIG_DIR, f"{name}.py")
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def _small(name: str, run_dir, **fields):
  """configs/<name>.py at the embedded scale, shrunk to seconds per step."""
  config = _module(name).get_config()
  config.unlock()
  values = {"train.run_dir": str(run_dir), "rollout.prompts_per_step": 4, "rollout.num_samples": 4,
            "rollout.max_new_tokens": 8, "train.steps": 1, "train.mini_batches": 2, "eval.every": 0,
            "warm_start.steps": 40, "checkpoint.every": 1, "log.tensorboard": False, "reward.name": "format",
            "diagnostics.every": 0, "train.overlong_buffer": 2 if config.train.overlong_buffer else 0, **fields}
  for field, value in values.items():
    section, key = field.split(".")
    config[section][key] = value
  config.lock()
  return config


def test_default_run_directories_differ_for_every_config_file_and_variant():
  seen = {}
  for path in sorted(glob.glob(os.path.join(CONFIG_DIR, "*.py"))):
    module = _module(os.path.basename(path)[:-3])
    for variant in [None] + [f"model={m}" for m in module.RECIPES]:
      config = module.get_config(variant)
      run_dir = config.train.run_dir or os.path.join("runs", config.name)
      assert run_dir not in seen, f"{path}:{variant} and {seen[run_dir]} share {run_dir}"
      seen[run_dir] = f"{path}:{variant}"
  assert seen[os.path.join("runs", "dapo")].endswith("dapo.py:None")
  assert seen[os.path.join("runs", "clip_higher")].endswith("clip_higher.py:None")
  assert os.path.join("runs", "base") in seen and os.path.join("runs", "grpo") in seen


def test_resume_check_names_every_differing_field(tmp_path):
  saved = {"name": "dapo", "optim": {"lr": 1e-6}, "train": {"steps": 10}, "objective": {"transforms": ["a"]}}
  run_identity.write_saved_config(str(tmp_path), saved)
  # Fields that may change between segments pass; a fresh run directory (no checkpoint) is rewritten.
  same = {**saved, "train": {"steps": 20}}
  assert run_identity.check_resume(str(tmp_path), same, has_checkpoint=True, allow_changes=False, write=True) == []
  other = {"name": "clip_higher", "optim": {"lr": 2e-6}, "train": {"steps": 20}, "objective": {"transforms": ("a",)}}
  with pytest.raises(ConfigMismatchError) as error:
    run_identity.check_resume(str(tmp_path), other, has_checkpoint=True, allow_changes=False, write=True)
  assert "name: saved 'dapo' -> now 'clip_higher'" in str(error.value)
  assert "optim.lr: saved 1e-06 -> now 2e-06" in str(error.value)
  assert "transforms" not in str(error.value)  # a tuple and its saved JSON list are the same value
  assert "train.steps" not in str(error.value)
  # Accepted explicitly: the change is recorded and the new config saved.
  diff = run_identity.check_resume(str(tmp_path), other, has_checkpoint=True, allow_changes=True, write=True)
  assert [field for field, _, _ in diff] == ["name", "optim.lr"]
  with open(tmp_path / run_identity.CHANGES_FILE) as f:
    record = json.loads(f.readline())
  assert record["changes"][1] == {"field": "optim.lr", "saved": 1e-6, "now": 2e-6}
  assert run_identity.read_saved_config(str(tmp_path))["name"] == "clip_higher"
  # A checkpoint without a saved config is not resumed silently either.
  os.remove(tmp_path / run_identity.CONFIG_FILE)
  with pytest.raises(ConfigMismatchError, match="holds checkpoints but no config.json"):
    run_identity.check_resume(str(tmp_path), other, has_checkpoint=True, allow_changes=False, write=True)


def _events(run_dir) -> list[bytes]:
  """The serialized Event records of the run's TensorBoard files (TFRecord framing)."""
  records = []
  for path in glob.glob(os.path.join(run_dir, "tensorboard", "events.out.tfevents.*")):
    with open(path, "rb") as f:
      data = f.read()
    offset = 0
    while offset < len(data):
      (length,) = struct.unpack("<Q", data[offset:offset + 8])
      records.append(data[offset + 12:offset + 12 + length])
      offset += 12 + length + 4
  return records


def test_a_run_never_resumes_another_configs_checkpoint(tmp_path):
  """clip_higher then dapo in one directory: dapo stops before building anything, naming the fields; the
  explicit flag resumes and records the change; the saved config relaunches the run as it was."""
  run_dir = tmp_path / "run"
  clip = validate(_small("clip_higher", run_dir, **{"log.tensorboard": True}), num_devices=1)
  assert train(clip, devices=jax.devices()[:1]).steps_done == 1
  saved = run_identity.read_saved_config(str(run_dir))
  assert saved == run_identity.plain(clip.resolved)
  assert any(b"config/text_summary" in record and b'"name": "clip_higher"' in record for record in _events(run_dir))

  dapo = validate(_small("dapo", run_dir, **{"train.steps": 2}), num_devices=1)
  started = time.monotonic()
  with pytest.raises(ConfigMismatchError) as error:
    train(dapo, devices=jax.devices()[:1])
  assert time.monotonic() - started < 10  # before the warm start, weight load or any compile
  for line in ("name: saved 'clip_higher' -> now 'dapo'", "train.dynamic_sampling: saved False -> now True"):
    assert line in str(error.value)
  assert sorted(os.listdir(run_dir / "checkpoints")) == ["1"]

  # The saved config rebuilds the same run (same name, same values) and resumes it.
  relaunched = saved_config(str(run_dir / "config.json"))
  assert run_identity.plain(relaunched.to_dict()) == saved
  relaunched.unlock()
  relaunched.train.steps = 2  # a field that may change between segments
  assert train(validate(relaunched, num_devices=1), devices=jax.devices()[:1]).steps_done == 2

  resumed = train(dapo, devices=jax.devices()[:1], allow_config_change=True)
  assert resumed.steps_done == 2  # already at step 2: nothing to do, but the change is accepted and recorded
  with open(run_dir / run_identity.CHANGES_FILE) as f:
    fields = [change["field"] for change in json.loads(f.readline())["changes"]]
  assert "name" in fields and "train.dynamic_sampling" in fields


@pytest.mark.slow
def test_the_launcher_exits_2_with_the_diff_and_relaunches_from_config_json(tmp_path, tmp_path_factory):
  env = run_env(shared_cache_dir(tmp_path_factory), devices=1)
  run_dir = tmp_path / "run"
  first = LauncherRun(small_run_args("clip_higher", run_dir, train__steps=1), env)
  assert first.process.wait(timeout=600) == 0, first.output
  second = LauncherRun(small_run_args("dapo", run_dir, train__steps=1), env)
  assert second.process.wait(timeout=300) == 2, second.output
  assert "config error:" in second.output and "name: saved 'clip_higher' -> now 'dapo'" in second.output
  assert "Traceback" not in second.output
  third = LauncherRun([f"--config={run_dir / 'config.json'}", "--config.train.steps=2"], env)
  assert third.process.wait(timeout=600) == 0, third.output
  assert "resumed from" in third.output and "done: 2 steps" in third.output
  # The launcher's persistent compilation cache (default <RLVR_JAX_CACHE>/xla; nothing else in the test
  # session writes one) holds the programs of these runs.
  assert os.listdir(os.path.join(shared_cache_dir(tmp_path_factory), "xla"))
