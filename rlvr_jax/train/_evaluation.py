"""Evaluation inside training: the held-out prompts plus any configured benchmarks, every eval.every steps.

The held-out split (data.eval_files, or the built-in task's) keeps the `eval/accuracy`, `eval/pass@{n}`,
`eval/length_mean` and `eval/no_answer_fraction` keys the progress line and earlier runs use; every set,
the held-out one included (as `heldout`), also reports `eval/<name>/avg@n`, `pass@k`, `maj@k` (k = 1, 2,
4, ..., n), bootstrap bounds, length and no-answer share. Prompts are tokenized and padded once, so
every evaluation runs the same compiled samplers; with a report directory each evaluation also writes
its full JSON report (curves for every k, per-problem counts) to `<dir>/step_<N>.json`.
"""

from __future__ import annotations

import os
from typing import Sequence

import jax

from rlvr_jax.config._sections import DataSpec, EvalSpec
from rlvr_jax.data import PromptBatch, prompt_pipeline
from rlvr_jax.eval._benchmarks import load_benchmarks
from rlvr_jax.eval._metrics import Equivalent
from rlvr_jax.eval._runner import (BenchmarkEvaluator, EvalPrompting, EvalSampling, PromptSet, prepare_prompt_set,
                                  prompt_set_from_batch)
from rlvr_jax.rewards.code import CodeExecReward
from rlvr_jax.data._text_codec import TextCodec

HELDOUT = "heldout"


class Evaluator:
  """Held-out (and benchmark) evaluation of live parameters.

  Args:
    graphdef: the policy's static structure.
    prompts: the held-out prompts, already collated into one batch.
    codec, reward, mesh: as in the training loop.
    num_samples, temperature, top_p, max_new_tokens, seed: sampling (temperature 0 = greedy).
    benchmarks: further prompt sets (`rlvr_jax.eval.prepare_prompt_set`), reported under their names.
    report_dir: where each evaluation's JSON report goes (None = no files).
    heldout_path: the held-out files, recorded in the report.
    equivalent: answer equivalence for maj@k (default math-verify).
  """

  def __init__(self, graphdef, prompts: PromptBatch, codec: TextCodec, reward, mesh, *, num_samples: int,
               temperature: float, top_p: float, max_new_tokens: int, seed: int,
               benchmarks: Sequence[PromptSet] = (), report_dir: str | None = None, heldout_path: str = "",
               equivalent: Equivalent | None = None):
    self.num_samples = num_samples
    self.report_dir = report_dir
    sampling = EvalSampling(num_samples=num_samples, temperature=temperature, top_p=top_p,
                            max_new_tokens=max_new_tokens, seed=seed)
    # A code reward's extracted answers are programs, which maj@k cannot vote on.
    heldout = prompt_set_from_batch(HELDOUT, heldout_path, prompts,
                                    majority_vote=not isinstance(reward, CodeExecReward))
    self._evaluator = BenchmarkEvaluator(graphdef, (heldout, *benchmarks), codec, reward, mesh, sampling,
                                         equivalent=equivalent)

  def run(self, params, *, step: int | None = None) -> dict[str, float]:
    """`eval/*` scalars; writes `<report_dir>/step_<step>.json` when a report directory was given."""
    if self.report_dir is not None and step is None:
      raise ValueError(f"Evaluator.run: report_dir={self.report_dir!r} is set, so step must be given "
                       "(it names the report file)")
    report = self._evaluator.evaluate(params)
    if self.report_dir is not None and jax.process_index() == 0:
      report.write(os.path.join(self.report_dir, f"step_{step}.json"), step=step)
    n = self.num_samples
    heldout = report.benchmarks[HELDOUT]["metrics"]
    metrics = {
        "eval/accuracy": heldout[f"avg@{n}"],
        f"eval/pass@{n}": heldout[f"pass@{n}"],
        "eval/length_mean": heldout["length_mean"],
        "eval/no_answer_fraction": heldout["no_answer_fraction"],
    }
    metrics.update({f"eval/{key}": value for key, value in report.metrics.items()})
    return metrics


def build_evaluator(spec: EvalSpec, data: DataSpec, *, seed: int, graphdef, codec: TextCodec, reward, mesh,
                    heldout_files: Sequence[str], report_dir: str | None = None) -> Evaluator | None:
  """The loop's evaluator, or None when `spec.every` is 0.

  The held-out split (`heldout_files`) is cut to eval.num_prompts prompts and read with the data
  section's fields, template and prompt limit; benchmarks are sampled eval.num_prompts prompts per call.
  """
  if not spec.every:
    return None
  benchmarks = load_benchmarks(spec.benchmarks, field="eval.benchmarks")
  heldout = prompt_pipeline(data.prompts(tuple(heldout_files), prompts_per_batch=spec.num_prompts, training=False),
                            codec.tokenizer)
  prompting = EvalPrompting(template=data.template, max_prompt_length=data.max_prompt_length,
                            prompts_per_batch=spec.num_prompts)
  prompt_sets = [prepare_prompt_set(b, codec.tokenizer, prompting) for b in benchmarks]
  return Evaluator(graphdef, next(heldout), codec, reward, mesh, num_samples=spec.num_samples,
                   temperature=spec.temperature, top_p=spec.top_p, max_new_tokens=spec.max_new_tokens,
                   seed=seed, benchmarks=prompt_sets, report_dir=report_dir, heldout_path=",".join(heldout_files))
