"""launch/evaluate.py end to end on an HF directory (random tiny policy + the built-in tokenizer)."""

import dataclasses
import glob
import importlib.util
import json
import os

import jax
import jax.numpy as jnp
import pytest

from rlvr_jax import models
from rlvr_jax.embedded import builtin_tokenizer
from rlvr_jax.eval._checkpoint_dirs import checkpoint_dtype, resolve_checkpoint
from rlvr_jax.data._text_codec import save_tokenizer

CONFIG = dataclasses.replace(models.preset("tiny"), vocab_size=128, hidden_size=64, intermediate_size=128,
                             num_layers=1, num_heads=2, num_kv_heads=1, head_dim=32)
_SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "launch", "evaluate.py")


def _cli():
  spec = importlib.util.spec_from_file_location("evaluate_cli", _SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
  """A run directory whose final export is a random tiny policy, plus a 3-problem benchmark file."""
  root = tmp_path_factory.mktemp("run")
  model_dir = root / "hf" / "final"
  models.save_pretrained(models.init(CONFIG, key=jax.random.key(1), dtype=jnp.float32), model_dir)
  save_tokenizer(builtin_tokenizer(), str(model_dir))
  (root / "amc.jsonl").write_text("".join(
      json.dumps({"id": i, "problem": f"Compute {i}+1.", "answer": float(i + 1)}) + "\n" for i in range(3)))
  return root


COMMON = ["--num_samples", "2", "--temperature", "1.0", "--top_p", "0.9", "--max_new_tokens", "5",
          "--max_prompt_length", "64", "--prompts_per_batch", "2", "--template", "raw", "--reward",
          "builtin_arithmetic", "--equivalence", "exact", "--mesh", "1,1,1", "--num_devices", "1"]


def test_evaluate_run_directory_writes_report_and_tensorboard(run_dir, capsys):
  main = _cli()
  assert main(["--checkpoint", str(run_dir), "--benchmarks", f"amc23={run_dir / 'amc.jsonl'}", *COMMON]) == 0
  out = capsys.readouterr().out
  report_path = run_dir / "eval" / "final.json"
  assert f"report: {report_path}" in out and "amc23: 3 problems x 2 samples" in out
  report = json.loads(report_path.read_text())
  assert report["step"] is None and report["checkpoint"] == os.path.abspath(run_dir / "hf" / "final")
  assert report["sampling"] == {"num_samples": 2, "temperature": 1.0, "top_p": 0.9, "max_new_tokens": 5, "seed": 0}
  record = report["benchmarks"]["amc23"]
  assert record["num_problems"] == 3 and [p["answer"] for p in record["problems"]] == ["1", "2", "3"]
  assert len(record["curves"]["pass@k"]) == 2 and set(report["metrics"]) >= {"amc23/avg@2", "amc23/maj@2"}
  assert all(1 <= length <= 5 for p in record["problems"] for length in p["lengths"])
  events = glob.glob(str(run_dir / "eval" / "tensorboard" / "events.out.tfevents.*"))
  assert events and os.path.getsize(events[0]) > 100


def test_evaluate_hf_directory_needs_out(run_dir, tmp_path, capsys):
  main = _cli()
  hf = str(run_dir / "hf" / "final")
  out = tmp_path / "r" / "report.json"
  args = ["--benchmarks", f"amc23={run_dir / 'amc.jsonl'}", *COMMON, "--tensorboard_dir", "none"]
  assert main(["--checkpoint", hf, "--out", str(out), *args]) == 0
  assert json.loads(out.read_text())["benchmarks"]["amc23"]["num_samples"] == 2
  assert not (tmp_path / "r" / "tensorboard").exists()
  other = tmp_path / "model"
  os.symlink(hf, other)  # an HF directory outside any run
  assert main(["--checkpoint", str(other), *args]) == 2
  assert f"--out is required: --checkpoint='{other}' is not inside a run directory" in capsys.readouterr().err


def test_evaluate_flag_errors_name_flag_and_value(run_dir, capsys):
  main = _cli()
  assert main(["--checkpoint", "/no/such/run", *COMMON]) == 2
  assert "error: --checkpoint='/no/such/run' does not exist" in capsys.readouterr().err
  assert main(["--checkpoint", str(run_dir), "--benchmarks", "amc23=/no/amc.jsonl", *COMMON]) == 2
  assert "--benchmarks='amc23=/no/amc.jsonl': benchmark file '/no/amc.jsonl' does not exist" in capsys.readouterr().err
  assert main(["--checkpoint", str(run_dir), "--benchmarks", "amc23", *COMMON]) == 2
  assert "benchmark 'amc23' has no built-in file" in capsys.readouterr().err
  assert main(["--checkpoint", str(run_dir), *COMMON, "--num_samples", "0"]) == 2
  assert "num_samples=0 must be an int >= 1" in capsys.readouterr().err
  assert main(["--checkpoint", str(run_dir), *COMMON, "--reward", "nope"]) == 2
  assert "unknown reward --reward='nope'" in capsys.readouterr().err


def test_checkpoint_resolution(run_dir, tmp_path):
  resolved = resolve_checkpoint(str(run_dir))
  assert resolved.model_dir == os.path.join(str(run_dir), "hf", "final") and resolved.step is None
  assert resolved.run_dir == str(run_dir)
  assert checkpoint_dtype(resolved.model_dir, "auto") == "float32"
  assert checkpoint_dtype(resolved.model_dir, "bfloat16") == "bfloat16"
  with pytest.raises(ValueError, match=r"--dtype='float16'"):
    checkpoint_dtype(resolved.model_dir, "float16")
  partial = tmp_path / "partial_run"
  for step in (10, 20):  # stopped before the end: the newest periodic export
    os.makedirs(partial / "hf" / f"step_{step}")
    (partial / "hf" / f"step_{step}" / "config.json").write_text('{"model_type": "qwen2"}')
  (partial / "config.json").write_text('{"method": "grpo", "name": "grpo"}')  # the run's own saved config
  resolved = resolve_checkpoint(str(partial))
  assert resolved.step == 20 and resolved.model_dir.endswith("step_20") and resolved.run_dir == str(partial)
  step_dir = resolve_checkpoint(str(partial / "hf" / "step_10"))
  assert step_dir.step == 10 and step_dir.run_dir == str(partial)
  os.makedirs(tmp_path / "empty_run" / "checkpoints")
  with pytest.raises(FileNotFoundError, match=r"neither an HF directory .* nor a run directory"):
    resolve_checkpoint(str(tmp_path / "empty_run"))
