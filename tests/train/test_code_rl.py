"""configs/steer_code.py end to end on the embedded default: the tiny policy warm-started on the built-in
code task, then RL steps whose rewards come from running its programs in the sandbox (code_exec)."""

import glob
import importlib.util
import json
import os

import jax
import numpy as np
import pytest

from rlvr_jax import models
from rlvr_jax.config import validate
from rlvr_jax.embedded._code_task import generate_code_task
from rlvr_jax.embedded._tokenizer import IM_END
from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards.code import CodeExecReward, parse_spec
from rlvr_jax.embedded import ensure_policy
from rlvr_jax.embedded import _tasks as embedded
from rlvr_jax.train._loop import train

_CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "steer_code.py")


def _code_config(run_dir):
  """steer_code's embedded default shrunk like conftest.small_config: 4 prompts x 4 samples, 2 steps, a
  short warm start (long enough that some groups mix passing and failing programs)."""
  spec = importlib.util.spec_from_file_location("steer_code", _CONFIG)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  c = module.get_config()
  c.unlock()
  c.rollout.prompts_per_step, c.rollout.num_samples = 4, 4
  c.train.steps, c.train.mini_batches, c.train.run_dir = 2, 1, str(run_dir)
  c.eval.every, c.diagnostics.every, c.log.tensorboard = 0, 0, False
  c.warm_start.steps, c.warm_start.batch_size = 150, 32
  c.lock()
  return c


def test_code_demonstrations_leave_a_gap_for_rl():
  """The warm start's demonstrator fences about half its programs and slips on about a quarter: graded by
  the code reward, the bare ones have no answer, the slips fail, and only the rest pass."""
  rows = generate_code_task(embedded.CODE_TASK, "train", 30, seed=1)
  questions, completions = embedded.code_demonstrations(rows, seed=0)
  per_problem = embedded.CODE_DEMONSTRATIONS_PER_PROBLEM
  assert questions == [row["question"] for row in rows for _ in range(per_problem)]
  answers = [row["answer"] for row in rows for _ in range(per_problem)]
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=2)) as reward:
    result = reward([c.removesuffix(IM_END) for c in completions], answers)
  fenced = np.asarray([c.startswith("```python") for c in completions])
  assert result.metrics["no_answer"] == (~fenced).sum()
  assert result.metrics["correct"] + result.metrics["failed"] == fenced.sum()
  total = len(completions)
  assert abs(fenced.mean() - embedded.FENCED_FRACTION) < 0.1
  slips = result.metrics["failed"] / fenced.sum()
  assert abs(slips - embedded.SLIP_FRACTION) < 0.1 and result.metrics["correct"] < 0.5 * total


def test_code_config_sets_the_task_reward_and_budget():
  """The embedded form trains on the code task with code_exec and room for a fenced program; the paper form
  keeps the code reward and uses the code chat template, not qwen_math's \\boxed{} system prompt."""
  spec = importlib.util.spec_from_file_location("steer_code", _CONFIG)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  model = next(iter(module.RECIPES))
  tiny, paper = module.get_config(), module.get_config(f"model={model}")
  assert (tiny.data.builtin_task, tiny.reward.name, tiny.data.template) == ("code", "code_exec", "raw")
  assert tiny.rollout.max_new_tokens >= 20 and tiny.eval.max_new_tokens >= 20
  assert (paper.data.builtin_task, paper.reward.name, paper.data.template) == ("code", "code_exec", "qwen_code")
  assert paper.rollout.max_new_tokens == module.RECIPES[model].values["rollout"]["max_new_tokens"]


@pytest.mark.slow
def test_steer_code_trains_end_to_end(tmp_path, embedded_cache):
  """Two rollout steps: finite loss, parameters move, code_exec's outcome counts logged, and the code task's
  data files and warm-started policy generated in the cache."""
  config = _code_config(tmp_path / "run")
  result = train(validate(config, num_devices=1), devices=jax.devices()[:1])
  assert result.steps_done == 2
  with open(tmp_path / "run" / "metrics.jsonl") as f:
    logged = [json.loads(line) for line in f]
  assert len(logged) == 2
  samples = 4 * 4
  for m in logged:
    assert np.isfinite(m["actor/loss"]) and np.isfinite(m["reward/mean"])
    outcomes = sum(m[f"reward/{k}"] for k in ("correct", "no_answer", "timeouts", "crashes", "errors",
                                               "failed", "syntax_errors", "protocol_errors"))
    assert outcomes == samples  # every sample graded by the sandbox, in exactly one outcome
    assert m["reward/accuracy"] == m["reward/correct"] / samples
    # Every sample of the built-in task carries 5 assert tests: the rows trained on are code rows.
    assert m["reward/tests_total"] == samples * embedded.CODE_TASK.num_tests
  assert sum(m["reward/correct"] for m in logged) > 0  # the warm-started policy writes passing programs
  assert max(m["actor/grad_norm"] for m in logged) > 0

  train_file, heldout_file = embedded.data_files("code")
  assert train_file.startswith(str(embedded_cache / "code_data"))
  for path, count in ((train_file, embedded.CODE_TRAIN_PROMPTS), (heldout_file, embedded.CODE_HELDOUT_PROMPTS)):
    with open(path) as f:
      rows = [json.loads(line) for line in f]
    assert len(rows) == count and all(parse_spec(r["answer"]) for r in rows)

  policies = glob.glob(str(embedded_cache / "embedded_policy" / "*"))
  initial_dir = ensure_policy(validate(config, num_devices=1).warm_start)
  assert initial_dir in policies
  initial = models.load_pretrained(initial_dir, dtype=np.float32)
  final = models.load_pretrained(str(tmp_path / "run" / "hf" / "final"), dtype=np.float32)
  before, after = np.asarray(initial.layers[0].mlp.up_proj[...]), np.asarray(final.layers[0].mlp.up_proj[...])
  assert before.shape == after.shape and not np.allclose(before, after)


def test_unknown_builtin_task_names_the_field(tmp_path):
  config = _code_config(tmp_path / "run")
  config.data.builtin_task = "poetry"
  with pytest.raises(ValueError, match="data.builtin_task='poetry'"):
    validate(config, num_devices=1)
  with pytest.raises(ValueError, match="data.builtin_task='poetry'"):
    embedded.data_files("poetry", str(tmp_path))
