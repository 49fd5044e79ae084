"""Rows are checked when the pipeline the loop builds from the config reads them: a row without the
configured answer field stops the run naming file, line and field; prompts over data.max_prompt_length
are dropped and counted. These go through `DataSpec.prompts` of the validated config, i.e. the config fields
the user sets, where tests/data/ calls the pipeline directly."""

import json

import pytest

from rlvr_jax.data import prompt_pipeline

from rlvr_jax.config import validate
from rlvr_jax.embedded import builtin_tokenizer
from tests.reliability.conftest import config_with


def _write(path, rows) -> str:
  path.write_text("".join(json.dumps(row) + "\n" for row in rows))
  return str(path)


def _pipeline(config, path):
  data = validate(config, num_devices=1).data
  return prompt_pipeline(data.prompts((path,), prompts_per_batch=4, training=True), builtin_tokenizer())


def test_row_without_the_configured_answer_field(tmp_path):
  rows = [{"problem": "Compute 1+1.", "solution": "2"}, {"problem": "Compute 2+2.", "answer": "4"}]
  path = _write(tmp_path / "train.jsonl", rows)
  config = config_with(**{"data.question_field": "problem", "data.answer_field": "solution"})
  with pytest.raises(ValueError, match=r"train\.jsonl:2: row has no field 'solution'"):
    _pipeline(config, path)


def test_skip_malformed_counts_instead(tmp_path):
  rows = [{"question": f"Compute {i}+1.", "answer": str(i + 1)} for i in range(4)] + [{"question": "no answer"}]
  path = _write(tmp_path / "train.jsonl", rows)
  pipeline = _pipeline(config_with(**{"data.skip_malformed": True}), path)
  assert (pipeline.counts.records, pipeline.counts.malformed, pipeline.counts.kept) == (5, 1, 4)


def test_over_long_prompts_are_counted(tmp_path):
  """The qwen_math template makes every prompt ~50 built-in tokens; the long question adds 200 more."""
  rows = [{"question": f"Compute {i}+1.", "answer": str(i + 1)} for i in range(4)]
  rows.append({"question": "Compute " + "1+" * 100 + "1.", "answer": "101"})
  path = _write(tmp_path / "train.jsonl", rows)
  pipeline = _pipeline(config_with(**{"data.max_prompt_length": 128, "data.template": "qwen_math"}), path)
  assert (pipeline.counts.too_long, pipeline.counts.kept) == (1, 4)
  assert next(pipeline).ids.shape[1] <= 128
  with pytest.raises(ValueError, match=r"no prompts left in .*train\.jsonl .*'too_long': 5.*max_prompt_length"):
    _pipeline(config_with(**{"data.max_prompt_length": 8, "data.template": "qwen_math"}), path)
