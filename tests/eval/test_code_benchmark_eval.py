"""Code benchmarks in the evaluation path: the registry loads HumanEval / MBPP / LiveCodeBench files (in
each source's own shape), the code reward grades what a policy writes for them, and the report's pass@k
and avg@k follow from those verdicts; launch/evaluate.py runs them with `--reward code_exec`."""

import dataclasses
import importlib.util
import json
import os
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax import models
from rlvr_jax.embedded import builtin_tokenizer
from rlvr_jax.data._templates import CODE_INSTRUCTION
from rlvr_jax.embedded._tokenizer import IM_END
from rlvr_jax.eval import (BENCHMARKS, BenchmarkSpec, EvalPrompting, exact_equivalence, load_benchmark,
                           load_benchmarks, prepare_prompt_set, sample_prompt_set, summarize, write_rows)
from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards.code import CodeExecReward, parse_spec
from rlvr_jax.embedded import _tasks as embedded
from rlvr_jax.data._text_codec import TextCodec, save_tokenizer
from tests.data.test_code_benchmarks import (HUMANEVAL, LCB_FUNCTIONAL, LCB_STDIN, MBPP, MBPP_PLUS, SOLUTIONS,
                                             write_jsonl)

IDS = ["HumanEval/0", "2", "Mbpp/4", "abc000_a", "1"]  # file order: humaneval, mbpp, livecodebench


@pytest.fixture(scope="module")
def files(tmp_path_factory):
  root = tmp_path_factory.mktemp("code_benchmarks")
  return {"humaneval": write_jsonl(root / "humaneval.jsonl", [HUMANEVAL]),
          "mbpp": write_jsonl(root / "mbpp.jsonl", [MBPP, MBPP_PLUS]),
          "livecodebench": write_jsonl(root / "lcb.jsonl", [LCB_STDIN, LCB_FUNCTIONAL])}


def _flag(files) -> str:
  return ",".join(f"{name}={path}" for name, path in files.items())


def test_registry_loads_code_benchmarks(files, tmp_path):
  """Rows in file order with the source's ids, prompts asking for a python block, graded answers; their
  answers are programs, so maj@k is marked undefined for them (and stays defined for math)."""
  benchmarks = load_benchmarks(_flag(files), field="--benchmarks")
  assert [b.name for b in benchmarks] == ["humaneval", "mbpp", "livecodebench"]
  assert [i for b in benchmarks for i in b.ids] == IDS
  for benchmark in benchmarks:
    assert not benchmark.majority_vote
    assert [row.row_id for row in benchmark.rows] == list(range(len(benchmark.rows)))
    assert [row.where for row in benchmark.rows] == [f"{benchmark.path}:{i + 1}" for i in range(len(benchmark.rows))]
    for row in benchmark.rows:
      assert row.question.endswith(CODE_INSTRUCTION)
      parse_spec(row.answer)
  assert BENCHMARKS.get("math500").majority_vote and BENCHMARKS.get("aime24").convert is None
  # Normalized rows written out load back unchanged as `builtin_code` (any {question, answer, id} file).
  write_rows(benchmarks[2], str(tmp_path / "lcb_rows.jsonl"))
  again = load_benchmark(BenchmarkSpec("builtin_code", str(tmp_path / "lcb_rows.jsonl")))
  assert again.rows == tuple(dataclasses.replace(r, where=f"{again.path}:{r.row_id + 1}") for r in benchmarks[2].rows)
  assert again.ids == benchmarks[2].ids and not again.majority_vote


def test_builtin_code_defaults_to_the_code_heldout_split(tmp_path, monkeypatch):
  monkeypatch.setenv("RLVR_JAX_CACHE", str(tmp_path))
  (benchmark,) = load_benchmarks("builtin_code", field="eval.benchmarks")
  assert benchmark.path == embedded.data_files("code")[1]
  assert len(benchmark) == embedded.CODE_HELDOUT_PROMPTS and not benchmark.majority_vote
  heldout_ids = set(benchmark.ids)
  with open(embedded.data_files("code")[0]) as f:
    assert heldout_ids.isdisjoint(json.loads(line)["id"] for line in f)


@pytest.mark.parametrize("name, record, message", [
    ("humaneval", {k: v for k, v in HUMANEVAL.items() if k != "entry_point"},
     r"humaneval\.jsonl: benchmark record 'HumanEval/0' has no field 'entry_point'"),
    ("livecodebench", {**LCB_FUNCTIONAL, "metadata": "{}"}, r"lcb\.jsonl: .*'1': functional tests"),
    ("builtin_code", {"id": "q7", "question": "Write f.", "answer": "7"},
     r"code\.jsonl: code row 'q7': code test spec: answer must be a JSON object, got int"),
    ("builtin_code", {"id": "q8", "question": "Write f.", "answer": 7},
     r"code row 'q8': field 'answer' holds 7; expected a test spec"),
])
def test_bad_records_name_the_flag_file_and_record(tmp_path, name, record, message):
  path = write_jsonl(tmp_path / {"humaneval": "humaneval.jsonl", "livecodebench": "lcb.jsonl"}.get(name, "code.jsonl"),
                     [record])
  with pytest.raises(ValueError, match=rf"--benchmarks='{name}=.*': .*{message}"):
    load_benchmarks(f"{name}={path}", field="--benchmarks")


def _scripted_generate(prompt_set, tokenizer, completions):
  """A stand-in sampler: for the prompt of row r it 'samples' completions[id of r], so the verdicts (and
  thus pass@k) are known; the rest of the path (prompt sets, decoding, the sandbox, the summary) is real."""
  row_to_id = dict(enumerate(prompt_set.ids))
  encoded = {i: [tokenizer(text + IM_END, add_special_tokens=False)["input_ids"] for text in texts]
             for i, texts in completions.items()}
  width = max(len(ids) for rows in encoded.values() for ids in rows)

  def generate(params, ids, mask, row_ids, key):
    del params, mask, key
    rows = [encoded[row_to_id[int(r)]][s] for r in row_ids for s in range(len(completions[IDS[0]]))]
    tokens = np.zeros((len(rows), width), np.int32)
    response_mask = np.zeros((len(rows), width), bool)
    for k, row in enumerate(rows):
      tokens[k, :len(row)], response_mask[k, :len(row)] = row, True
    assert ids.shape[0] * len(completions[IDS[0]]) == len(rows)
    return types.SimpleNamespace(tokens=tokens, response_mask=response_mask,
                                 lengths=response_mask.sum(1), truncated=np.zeros(len(rows), bool))

  return generate


def test_pass_at_k_of_graded_programs(files):
  """Per problem: right / wrong / right but unfenced / right samples, except one problem answered wrong
  four times: avg@4 = 0.5 * 4/5, pass@1 = avg@4, pass@4 = 4/5, and the unfenced ones count as no answer."""
  tokenizer = builtin_tokenizer()
  codec = TextCodec(tokenizer=tokenizer, stop_token_ids=(tokenizer.convert_tokens_to_ids(IM_END),))
  fenced = lambda program: f"```python\n{program}\n```"  # noqa: E731
  completions = {i: [fenced(SOLUTIONS[i][0]), fenced(SOLUTIONS[i][1]), SOLUTIONS[i][0], fenced(SOLUTIONS[i][0])]
                 for i in IDS}
  completions["abc000_a"] = [fenced(SOLUTIONS["abc000_a"][1])] * 4  # passes the public test, fails a private one
  prompting = EvalPrompting(template="qwen_code", max_prompt_length=1024, prompts_per_batch=2)
  correct = []
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=2)) as reward:
    for benchmark in load_benchmarks(_flag(files), field="--benchmarks"):
      prompt_set = prepare_prompt_set(benchmark, tokenizer, prompting)
      result = sample_prompt_set(_scripted_generate(prompt_set, tokenizer, completions), None, prompt_set,
                                 jax.random.key(0), codec, reward, 4)
      scalars, record = summarize(result, exact_equivalence)
      name = benchmark.name
      assert [p["id"] for p in record["problems"]] == list(benchmark.ids)
      c = np.asarray(result.correct)
      assert scalars[f"{name}/pass@1"] == pytest.approx(c.mean()) == pytest.approx(scalars[f"{name}/avg@4"])
      assert scalars[f"{name}/pass@4"] == pytest.approx(c.any(axis=1).mean())
      assert scalars[f"{name}/no_answer_fraction"] == pytest.approx(0.25 if name != "livecodebench" else 0.125)
      correct.append(c)
  correct = np.concatenate(correct)  # [5 problems, 4 samples] in IDS order
  expected = np.asarray([[True, False, False, True]] * 5)
  expected[IDS.index("abc000_a")] = False
  np.testing.assert_array_equal(correct, expected)


def test_evaluate_cli_with_the_code_reward(files, tmp_path, capsys):
  """launch/evaluate.py on a tiny HF directory: every code benchmark reported with pass@k and avg@k, and
  without maj@k."""
  config = dataclasses.replace(models.preset("tiny"), vocab_size=256, hidden_size=64, intermediate_size=128,
                               num_layers=1, num_heads=2, num_kv_heads=1, head_dim=32)
  model_dir = tmp_path / "hf"
  models.save_pretrained(models.init(config, key=jax.random.key(1), dtype=jnp.float32), model_dir)
  save_tokenizer(builtin_tokenizer(), str(model_dir))
  script = os.path.join(os.path.dirname(__file__), "..", "..", "launch", "evaluate.py")
  spec = importlib.util.spec_from_file_location("evaluate_cli", script)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  out = tmp_path / "report.json"
  assert module.main(["--checkpoint", str(model_dir), "--out", str(out), "--benchmarks", _flag(files),
                      "--reward", "code_exec", "--equivalence", "exact", "--template", "qwen_code",
                      "--num_samples", "2", "--temperature", "1.0", "--max_new_tokens", "4",
                      "--max_prompt_length", "512", "--prompts_per_batch", "2", "--mesh", "1,1,1",
                      "--num_devices", "1", "--tensorboard_dir", "none"]) == 0
  report = json.loads(out.read_text())
  assert set(report["benchmarks"]) == {"humaneval", "mbpp", "livecodebench"}
  for name, count in (("humaneval", 1), ("mbpp", 2), ("livecodebench", 2)):
    record = report["benchmarks"][name]
    assert record["num_problems"] == count and record["num_samples"] == 2
    for key in ("avg@2", "pass@1", "pass@2", "no_answer_fraction"):
      assert 0.0 <= report["metrics"][f"{name}/{key}"] <= 1.0, (name, key)
    # Programs are not votes: no maj@k at all, rather than math-verify comparing program texts.
    assert not [key for key in report["metrics"] if key.startswith(f"{name}/maj@")]
    assert "maj@k" not in record["curves"] and "majority_answer" not in record["problems"][0]
  out = capsys.readouterr().out
  assert "humaneval: 1 problems x 2 samples" in out and "maj@" not in out
