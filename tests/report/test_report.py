"""`python -m rlvr_jax.report`: figures and report.md from run directories, synthetic and real."""

import importlib.util
import json
import os
import subprocess
import sys

import matplotlib.image
import numpy as np
import pytest

from rlvr_jax.report import build_report, load_runs
from rlvr_jax.report.__main__ import main as report_main

ALL_FIGURES = ("entropy.png", "reward.png", "heldout_accuracy.png", "response_length.png", "pass_at_k.png",
               "entropy_change_scatter.png", "quadrants.png")
_ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def _assert_drawn(path):
  """A PNG with content: not tiny, and not a single flat colour."""
  assert os.path.getsize(path) > 5_000, path
  pixels = matplotlib.image.imread(path)
  assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300, path
  assert pixels[..., :3].std() > 0.02, path


def _synthetic_run(root, name, seed, *, diagnostics=True, steps=6):
  """A run directory in the trainer's layout, with every optional part the report reads."""
  rng = np.random.default_rng(seed)
  run = root / name
  os.makedirs(run / "eval")
  with open(run / "metrics.jsonl", "w") as f:
    for step in range(1, steps + 1):
      row = {"step": step, "reward/mean": 0.1 * step + seed, "reward/accuracy": 0.05 * step,
             "actor/entropy": 1.0 / step, "rollout/entropy": 1.1 / step, "response/length_mean": 10.0 + step,
             "actor/loss": None}  # non-finite values are logged as null
      if step % 2 == 0:
        row.update({"eval/accuracy": 0.1 * step, "eval/heldout/avg@4": 0.1 * step, "eval/math500/avg@4": 0.05 * step})
      for q in ("pos_high", "pos_low", "neg_high", "neg_low"):
        row[f"diag/quadrant/{q}/count"] = float(rng.integers(1, 50))
        row[f"diag/quadrant/{q}/entropy_change_mean"] = float(rng.normal())
      f.write(json.dumps(row) + "\n")
  curves = {"k": [1, 2, 4], "pass@k": [0.3, 0.45, 0.6], "pass@k_ci_low": [0.2, 0.35, 0.5],
            "pass@k_ci_high": [0.4, 0.55, 0.7], "maj@k": [0.3, 0.32, 0.4], "maj@k_ci_low": [0.2] * 3,
            "maj@k_ci_high": [0.5] * 3, "avg@k": [0.3] * 3}
  metrics = {"avg@4": 0.3, "avg@4_ci_low": 0.2, "avg@4_ci_high": 0.4, "pass@4": 0.6, "maj@4": 0.4}
  for step in (2, 4):
    record = {"name": "math500", "num_problems": 10, "num_samples": 4, "metrics": metrics,
              "curves": {**curves, "pass@k": [v + step / 100 for v in curves["pass@k"]]}}
    (run / "eval" / f"step_{step}.json").write_text(json.dumps({"step": step, "benchmarks": {"math500": record}}))
  if diagnostics:
    os.makedirs(run / "diagnostics")
    for step in (1, 2, 10):
      actual = rng.normal(size=16)
      np.savez(run / "diagnostics" / f"entropy_change_step_{step}.npz", actual=actual,
               predicted_code=actual + 0.1 * rng.normal(size=16), predicted_theorem=actual * 0.8)
  return run


def test_synthetic_runs_draw_every_figure_and_table(tmp_path):
  a = _synthetic_run(tmp_path / "x", "steer", 0)
  b = _synthetic_run(tmp_path / "y", "steer", 1, diagnostics=False)  # same name: labelled by path
  files = build_report([str(a), str(b)], str(tmp_path / "out"))
  assert files.notes == ()
  assert [os.path.basename(p) for p in files.figures] == list(ALL_FIGURES)
  for path in files.figures:
    _assert_drawn(path)
  markdown = open(files.markdown).read()
  assert "| x/steer | 6 | 0.6000 | 0.3000 | 0.6000 | 0.1667 | 0.1833 | 16.0000 |" in markdown
  assert "| y/steer | 6 | 1.6000 |" in markdown
  assert "| x/steer | math500 | 4 | 10 | 4 | 0.3000 | [0.2000, 0.4000] | 0.6000 | 0.4000 |" in markdown
  for name in ALL_FIGURES:
    assert f"![{name}]({name})" in markdown


def test_run_data_reading(tmp_path):
  run = load_runs([str(_synthetic_run(tmp_path, "r", 0))])[0]
  assert run.name == "r" and run.last_step() == 6
  steps, values = run.series("eval/accuracy")
  assert steps.tolist() == [2, 4, 6] and np.allclose(values, [0.2, 0.4, 0.6])
  from rlvr_jax.report._build import benchmark_keys

  assert benchmark_keys([run]) == ("eval/math500/avg@4",)  # the held-out split is already eval/accuracy
  assert run.final("actor/loss") is None  # logged, but never finite
  assert [r["step"] for r in run.eval_reports] == [2, 4]
  assert run.entropy_change["actual"].shape == (48,)  # three files, concatenated in step order


def test_missing_parts_are_skipped_with_a_note(tmp_path, capsys):
  run = tmp_path / "bare"
  os.makedirs(run)
  (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "reward/mean": 0.5}) + "\n")
  assert report_main([str(run)]) == 0
  out = capsys.readouterr().out
  assert "skipped entropy_change_scatter.png: no run has entropy-change diagnostics" in out
  assert "skipped quadrants.png" in out and "skipped pass_at_k.png" in out and "skipped entropy.png" in out
  assert sorted(os.listdir(run / "report")) == ["report.md", "reward.png"]
  assert "| bare | 1 | 0.5000 | — |" in (run / "report" / "report.md").read_text()


def test_bad_inputs_name_the_run_and_file(tmp_path, capsys):
  assert report_main([str(tmp_path / "nope")]) == 2
  assert f"RUN_DIR='{tmp_path / 'nope'}' has no metrics.jsonl" in capsys.readouterr().err
  assert report_main([str(tmp_path / "a"), str(tmp_path / "b")]) == 2
  assert "--out is required with 2 run directories" in capsys.readouterr().err
  run = _synthetic_run(tmp_path, "r", 0)
  assert report_main([str(run), str(run), "--out", str(tmp_path / "o")]) == 2
  assert "the same run directory is named twice" in capsys.readouterr().err
  np.savez(run / "diagnostics" / "entropy_change_step_3.npz", actual=np.zeros(2))
  with pytest.raises(ValueError, match=r"entropy_change_step_3.npz: missing array\(s\) \['predicted_code'"):
    load_runs([str(run)])


def test_report_renders_from_a_real_training_run(trained_run, tmp_path):
  """The trainer's own run directory -> launch/evaluate.py on it -> `python -m rlvr_jax.report`."""
  run_dir, result = trained_run
  assert result.steps_done == 2 and "eval/accuracy" in result.last_metrics
  spec = importlib.util.spec_from_file_location("evaluate_cli", os.path.join(_ROOT, "launch", "evaluate.py"))
  evaluate = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(evaluate)
  # The rollout's sampling settings and batch shape: the sampler programs compiled by training are reused.
  assert evaluate.main(["--checkpoint", str(run_dir), "--benchmarks", "builtin", "--num_samples", "4",
                        "--temperature", "1.0", "--top_p", "1.0", "--max_new_tokens", "16", "--max_prompt_length",
                        "128", "--prompts_per_batch", "4", "--reward", "builtin_arithmetic", "--mesh", "1,1,1",
                        "--num_devices", "1", "--tensorboard_dir", "none"]) == 0
  assert (run_dir / "eval" / "final.json").is_file()
  out = tmp_path / "report"
  completed = subprocess.run([sys.executable, "-m", "rlvr_jax.report", str(run_dir), "--out", str(out)],
                             capture_output=True, text=True, cwd=_ROOT, timeout=120)
  assert completed.returncode == 0, completed.stderr
  assert "skipped entropy_change_scatter.png" in completed.stdout  # this run wrote no diagnostics
  for name in ("entropy.png", "reward.png", "heldout_accuracy.png", "response_length.png", "pass_at_k.png"):
    _assert_drawn(out / name)
  final_reward = result.history[-1]["reward/mean"]
  final_eval = result.history[-1]["eval/accuracy"]
  markdown = (out / "report.md").read_text()
  row = next(line for line in markdown.splitlines() if line.startswith("| steer_tiny | 2 |"))
  assert row.split(" | ")[2] == f"{final_reward:.4f}" and f"{final_eval:.4f}" in row
  assert "| steer_tiny | builtin | final | 48 | 4 |" in markdown
