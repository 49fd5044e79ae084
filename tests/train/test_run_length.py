"""Run length in verl's terms: train.steps = 0 runs data.epochs over the data; a run whose data is used up
ends cleanly (checkpoint, export); dynamic sampling's cap stops the run with TrainingStopped."""

import json
import os

import jax
import pytest

from rlvr_jax.config import validate
from rlvr_jax.train import _loop as loop
from rlvr_jax.train._shaping import GenerationCapReached
from tests.train.conftest import small_config


def _data(tmp_path, count: int) -> str:
  path = tmp_path / "train.jsonl"
  path.write_text("".join(json.dumps({"question": f"Compute {i % 9}+1.", "answer": str(i % 9 + 1)}) + "\n"
                          for i in range(count)))
  return str(path)


def test_epochs_set_the_length_and_used_up_data_ends_the_run(tmp_path):
  data = _data(tmp_path, 8)  # 8 prompts, 4 per step, one epoch: two steps
  by_epochs = loop.train(validate(small_config("grpo", tmp_path / "a", train__steps=0, data__epochs=1,
                                               data__train_files=data), num_devices=1), devices=jax.devices()[:1])
  assert by_epochs.steps_done == 2 and not by_epochs.data_exhausted
  longer = loop.train(validate(small_config("grpo", tmp_path / "b", train__steps=5, data__epochs=1,
                                            data__train_files=data, checkpoint__every=0), num_devices=1),
                      devices=jax.devices()[:1])
  assert longer.steps_done == 2 and longer.data_exhausted
  assert sorted(os.listdir(tmp_path / "b" / "checkpoints")) == ["2"]  # written when the data ran out
  assert os.path.isfile(tmp_path / "b" / "hf" / "final" / "model.safetensors")


def test_dynamic_sampling_cap_stops_the_run(tmp_path, monkeypatch):
  def capped(**kwargs):
    raise GenerationCapReached("dynamic sampling drew train.max_gen_batches=3 generation batches ...")

  monkeypatch.setattr(loop, "collect_rollout", capped)
  spec = validate(small_config("grpo", tmp_path / "run"), num_devices=1)
  with pytest.raises(loop.TrainingStopped, match=r"training stopped at step 1: dynamic sampling drew "
                                                 r"train\.max_gen_batches=3 .*; no checkpoint was written yet"):
    loop.train(spec, devices=jax.devices()[:1])
