"""The benchmark runner and the in-training evaluator on a tiny random policy with the built-in tokenizer.

The policy is untrained, so correctness comes from a stand-in reward with a verdict that varies from
sample to sample (the parity of the first character), which makes pass@k, maj@k and avg@k differ.
"""

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlvr_jax import models
from rlvr_jax.config import method_config, validate
from rlvr_jax.embedded import builtin_tokenizer
from rlvr_jax.embedded._tokenizer import IM_END
from rlvr_jax.eval import (BenchmarkEvaluator, BenchmarkSpec, EvalPrompting, EvalSampling, benchmark_key,
                           exact_equivalence, load_benchmark, prepare_prompt_set)
from rlvr_jax.rewards import RewardResult
from rlvr_jax.sampling import generate
from rlvr_jax.train._evaluation import Evaluator, build_evaluator
from rlvr_jax.data._text_codec import TextCodec
from tests.compile_events import program_counter

CONFIG = dataclasses.replace(models.preset("tiny"), vocab_size=256, hidden_size=64, intermediate_size=128,
                             num_layers=1, num_heads=2, num_kv_heads=1, head_dim=32)
SAMPLING = EvalSampling(num_samples=3, temperature=1.0, top_p=1.0, max_new_tokens=6, seed=0)
PROMPTING = EvalPrompting(template="raw", max_prompt_length=32, prompts_per_batch=2)

_compiles = program_counter()


class FirstCharacterReward:
  """extracted = the completion's first character (None when empty); correct iff its code is even."""

  def __call__(self, completions, answers):
    assert len(completions) == len(answers)
    extracted = tuple(c[0] if c else None for c in completions)
    correct = np.asarray([e is not None and ord(e) % 2 == 0 for e in extracted], bool)
    return RewardResult(scores=correct.astype(np.float32), correct=correct, extracted=extracted, metrics={})

  def close(self):
    pass


@pytest.fixture(scope="module")
def policy():
  model = models.init(CONFIG, key=jax.random.key(0), dtype=jnp.float32)
  tokenizer = builtin_tokenizer()
  assert len(tokenizer) <= CONFIG.vocab_size
  graphdef, params = nnx.split(model)
  codec = TextCodec(tokenizer=tokenizer, stop_token_ids=(tokenizer.convert_tokens_to_ids(IM_END),))
  return model, graphdef, params, codec


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
  path = tmp_path_factory.mktemp("bench") / "aime.jsonl"
  path.write_text("".join(json.dumps({"id": f"p{i}", "problem": f"Compute {i}+{i + 1}.", "answer": 2 * i + 1}) + "\n"
                          for i in range(5)))  # equal lengths: one prompt bucket whatever the batching
  return load_benchmark(BenchmarkSpec("aime24", str(path)))


def _evaluator(policy, benchmark, prompts_per_batch, equivalent=exact_equivalence):
  _, graphdef, _, codec = policy
  prompt_set = prepare_prompt_set(benchmark, codec.tokenizer,
                                  dataclasses.replace(PROMPTING, prompts_per_batch=prompts_per_batch))
  return BenchmarkEvaluator(graphdef, [prompt_set], codec, FirstCharacterReward(), None, SAMPLING,
                            equivalent=equivalent), prompt_set


def test_padding_and_batching_do_not_change_the_samples(policy, benchmark):
  """5 problems in batches of 2 (last one padded) or one padded batch of 8: the same samples, in order."""
  small, small_set = _evaluator(policy, benchmark, 2)
  large, large_set = _evaluator(policy, benchmark, 8)
  assert [len(b) for b in small_set.batches] == [2, 2, 2] and [len(b) for b in large_set.batches] == [8]
  a = small.evaluate(policy[2]).benchmarks["aime24"]
  b = large.evaluate(policy[2]).benchmarks["aime24"]
  assert [p["id"] for p in a["problems"]] == ["p0", "p1", "p2", "p3", "p4"]
  assert a["problems"] == b["problems"] and a["metrics"] == b["metrics"]


def test_report_agrees_with_its_samples_and_a_direct_sampler_call(policy, benchmark):
  model, _, params, codec = policy
  evaluator, prompt_set = _evaluator(policy, benchmark, 2)
  record = evaluator.evaluate(params).benchmarks["aime24"]
  problems, n = record["problems"], 3
  correct = np.asarray([p["correct"] for p in problems])
  assert correct.shape == (5, n) and 0 < correct.mean() < 1  # the stand-in reward varies
  m = record["metrics"]
  assert m["avg@3"] == pytest.approx(correct.mean())
  assert m["pass@3"] == pytest.approx(correct.any(1).mean())
  assert m["pass@1"] == pytest.approx(correct.mean())  # unbiased pass@1 is the accuracy
  assert record["curves"]["pass@k"][1] == pytest.approx(m["pass@2"])
  assert m["maj@1"] == pytest.approx(correct[:, 0].mean())
  assert m["avg@3_ci_low"] <= m["avg@3"] <= m["avg@3_ci_high"]
  for p in problems:
    answered = [a for a in p["extracted"] if a is not None]
    if answered:  # the most frequent answer, first occurrence on ties
      counts = {a: answered.count(a) for a in answered}
      assert p["majority_answer"] == max(answered, key=lambda a: (counts[a], -answered.index(a)))
  lengths = np.asarray([p["lengths"] for p in problems])
  assert m["length_mean"] == pytest.approx(lengths.mean()) and lengths.max() <= 6
  # The first batch sampled directly with the benchmark's key gives the report's answers.
  batch = prompt_set.batches[0]
  out = generate(model, batch.ids, batch.mask, key=benchmark_key(0, "aime24"), prompt_ids_for_rng=batch.row_ids,
                 max_new_tokens=6, temperature=1.0, num_samples=n, stop_token_ids=codec.stop_token_ids)
  texts = codec.decode(np.asarray(out.tokens), np.asarray(out.response_mask))
  assert [t[0] if t else None for t in texts] == problems[0]["extracted"] + problems[1]["extracted"]


def test_repeated_evaluations_reuse_the_compiled_sampler(policy, benchmark):
  evaluator, _ = _evaluator(policy, benchmark, 2)
  perturbed = jax.tree.map(lambda x: x * 1.5, policy[2])
  first = evaluator.evaluate(policy[2])
  before = len(_compiles)
  second = evaluator.evaluate(perturbed)
  again = evaluator.evaluate(policy[2])
  assert len(_compiles) == before  # new weights, same shapes: nothing compiles
  assert again.benchmarks == first.benchmarks  # fixed key: same weights, same samples
  assert second.benchmarks["aime24"]["problems"] != first.benchmarks["aime24"]["problems"]


def test_in_training_evaluator_keys_and_step_reports(policy, benchmark, tmp_path):
  _, graphdef, params, codec = policy
  heldout = prepare_prompt_set(benchmark, codec.tokenizer, PROMPTING)  # its first batch: p0, p1
  extra = prepare_prompt_set(benchmark, codec.tokenizer, PROMPTING)
  evaluator = Evaluator(graphdef, heldout.batches[0], codec, FirstCharacterReward(), None, num_samples=3,
                        temperature=1.0, top_p=1.0, max_new_tokens=6, seed=0, benchmarks=[extra],
                        report_dir=str(tmp_path / "eval"))
  metrics = evaluator.run(params, step=5)
  for key in ("eval/accuracy", "eval/pass@3", "eval/length_mean", "eval/no_answer_fraction", "eval/heldout/avg@3",
              "eval/heldout/maj@3", "eval/aime24/avg@3", "eval/aime24/pass@1", "eval/aime24/pass@2",
              "eval/aime24/pass@3", "eval/aime24/maj@3", "eval/aime24/avg@3_ci_low"):
    assert key in metrics and np.isfinite(metrics[key]), key
  assert metrics["eval/accuracy"] == metrics["eval/heldout/avg@3"]
  assert metrics["eval/pass@3"] == metrics["eval/heldout/pass@3"]
  report = json.loads((tmp_path / "eval" / "step_5.json").read_text())
  assert report["step"] == 5 and set(report["benchmarks"]) == {"heldout", "aime24"}
  assert report["metrics"]["aime24/avg@3"] == metrics["eval/aime24/avg@3"]
  with pytest.raises(ValueError, match=r"report_dir=.* is set, so step must be given"):
    evaluator.run(params)


def _config(**eval_fields):
  c = method_config("grpo")
  c.unlock()
  c.data.max_prompt_length, c.data.template, c.data.question_field = 32, "raw", "problem"
  c.eval.every, c.eval.num_prompts, c.eval.num_samples = 1, 2, 3
  c.eval.temperature, c.eval.max_new_tokens = 1.0, 6
  c.eval.top_p, c.eval.benchmarks = 1.0, ""  # the fields the loop's config adds
  for key, value in eval_fields.items():
    c.eval[key] = value
  return c


def _build(config, graphdef, codec, heldout, **kwargs):
  spec = validate(config, num_devices=1)
  return build_evaluator(spec.eval, spec.data, seed=spec.train.seed, graphdef=graphdef, codec=codec,
                         reward=FirstCharacterReward(), mesh=None, heldout_files=heldout, **kwargs)


def test_build_evaluator_from_config(policy, benchmark, tmp_path):
  _, graphdef, params, codec = policy
  heldout = (benchmark.path,)  # the same file as held-out split, read through data.question_field
  evaluator = _build(_config(benchmarks=f"aime24={benchmark.path}"), graphdef, codec, heldout,
                     report_dir=str(tmp_path))
  metrics = evaluator.run(params, step=1)
  assert "eval/aime24/maj@3" in metrics and "eval/heldout/avg@3" in metrics
  report = json.loads((tmp_path / "step_1.json").read_text())
  assert report["benchmarks"]["heldout"]["num_problems"] == 2  # cut to eval.num_prompts
  assert report["benchmarks"]["aime24"]["num_problems"] == 5  # benchmarks run whole, 2 prompts per call
  assert _build(_config(every=0), graphdef, codec, heldout) is None
  with pytest.raises(ValueError, match=r"unknown benchmark eval.benchmarks='nope'"):
    _build(_config(benchmarks="nope=/x.jsonl"), graphdef, codec, heldout)
