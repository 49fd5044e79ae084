"""The run's closing line: held-out accuracy at the first and the last evaluation of metrics.jsonl."""

import json

from rlvr_jax.train._loop import _heldout_change


def test_first_and_last_evaluation_hand_computed(tmp_path):
  rows = [{"step": 0, "eval/accuracy": 0.2}, {"step": 1, "reward/mean": 0.5}, {"step": 10, "eval/accuracy": None},
          {"step": 20, "eval/accuracy": 0.55}, {"step": 40, "eval/accuracy": 0.4625, "reward/mean": 1.0}]
  (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
  assert _heldout_change(str(tmp_path)) == "held-out accuracy 0.200 (step 0) -> 0.463 (step 40): +0.263"


def test_no_evaluation_no_line(tmp_path):
  assert _heldout_change(str(tmp_path)) is None
  (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 1, "reward/mean": 0.5}) + "\n")
  assert _heldout_change(str(tmp_path)) is None
