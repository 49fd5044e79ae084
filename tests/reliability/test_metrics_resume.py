"""metrics.jsonl after a kill: a resumed run drops the rows logged after its checkpoint, so each step is
in the file once, with the values of the run the checkpoints continue."""

import io
import json

import pytest

from rlvr_jax.train._metrics_log import MetricsLogger, truncate_jsonl


def _write_rows(path, steps, tail=""):
  path.write_text("".join(json.dumps({"step": s, "reward/mean": s / 10}) + "\n" for s in steps) + tail)


def _steps(path):
  return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def test_resume_drops_rows_after_the_checkpoint_and_a_torn_last_line(tmp_path):
  """A run killed while writing step 6's row resumes from checkpoint 4: rows 5 and the torn 6 go, the
  next row is appended on a line of its own."""
  path = tmp_path / "metrics.jsonl"
  _write_rows(path, range(0, 6), tail='{"step": 6, "rew')
  console = io.StringIO()
  logger = MetricsLogger(str(tmp_path), 10, tensorboard=False, resume_step=4, stream=console)
  logger.log(5, {"reward/mean": 0.25})
  logger.close()
  assert _steps(path) == [0, 1, 2, 3, 4, 5]
  assert json.loads(path.read_text().splitlines()[-1])["reward/mean"] == 0.25
  assert "dropped 2 row(s) logged after step 4" in console.getvalue()


def test_run_from_scratch_keeps_no_rows(tmp_path):
  """No checkpoint (killed before the first): the rerun logs from step 0 again, so nothing is kept."""
  path = tmp_path / "metrics.jsonl"
  _write_rows(path, range(0, 3))
  assert truncate_jsonl(str(path), -1) == 3
  assert path.read_text() == ""


def test_a_row_without_its_newline_is_kept_and_completed(tmp_path):
  """A complete last row whose newline was not written is kept; the file ends with a newline again."""
  path = tmp_path / "metrics.jsonl"
  path.write_text(json.dumps({"step": 1}) + "\n" + json.dumps({"step": 2}))
  assert truncate_jsonl(str(path), 2) == 0
  assert path.read_text().endswith("\n") and _steps(path) == [1, 2]


def test_damaged_row_before_the_end_names_file_and_line(tmp_path):
  """Only the last line can be torn by a kill; a damaged earlier line is reported, not dropped."""
  path = tmp_path / "metrics.jsonl"
  path.write_text('{"step": 1}\n{"step": 2\n{"step": 3}\n')
  with pytest.raises(ValueError, match=r"metrics\.jsonl:2: not a JSON metrics row"):
    truncate_jsonl(str(path), 3)
