"""Evaluating a policy on benchmarks: n samples per problem with the in-graph sampler, scored by a reward.

Prompts are tokenized and batched once, when the evaluator is built: every batch holds exactly
`prompts_per_batch` prompts (the last one padded with copies of its first prompt, whose samples are
dropped), so the sampler compiles once per prompt-length bucket and repeated evaluations during
training reuse those programs. The sampling key is fixed per benchmark, and each prompt's samples draw
from its row in the file, so two evaluations of the same parameters give the same samples. Every process
of a multi-process run evaluates the same prompts and reads the whole sampler output (`to_host`), so
every process computes the same report.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zlib
from typing import Any, Sequence

import jax
import numpy as np

from rlvr_jax.data._pipeline import PromptBatch, collate_prompts, tokenize_prompts
from rlvr_jax.data._sources import LoadCounts
from rlvr_jax.diagnostics._host_arrays import to_host
from rlvr_jax.eval._benchmarks import Benchmark
from rlvr_jax.eval._equivalence import MathVerifyEquivalence
from rlvr_jax.eval._metrics import Equivalent
from rlvr_jax.eval._summary import BenchmarkResult, SummaryConfig, summarize
from rlvr_jax.sampling._settings import SamplingSettings, make_generate_fn
from rlvr_jax.data._text_codec import TextCodec


@dataclasses.dataclass(frozen=True)
class EvalSampling:
  """How every problem is sampled (static: each distinct value compiles its own sampler).

  Attributes:
    num_samples: n, samples per problem (pass@k and maj@k are reported for every k <= n).
    temperature: 0 = greedy (top_p is then ignored).
    top_p: nucleus truncation (1.0 = off).
    max_new_tokens: response budget.
    seed: the fixed sampling key (so evaluations of one policy are reproducible).
  """

  num_samples: int = 1
  temperature: float = 0.0
  top_p: float = 1.0
  max_new_tokens: int = 1024
  seed: int = 0

  def __post_init__(self):
    for name in ("num_samples", "max_new_tokens"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be an int >= 1")
    if not self.temperature >= 0:
      raise ValueError(f"temperature={self.temperature!r} must be >= 0")
    if not 0 < self.top_p <= 1:
      raise ValueError(f"top_p={self.top_p!r} must be in (0, 1]")


@dataclasses.dataclass(frozen=True)
class EvalPrompting:
  """How benchmark rows become prompt batches.

  Attributes:
    template: a prompt template name (`rlvr_jax.data._templates.TEMPLATES`).
    max_prompt_length: longer prompts are not sampled; their count is reported per benchmark.
    prompts_per_batch: prompts per sampler call (fixed, so batch shapes never change).
    min_bucket: smallest padded prompt length (lengths are powers of two from here).
  """

  template: str = "qwen_math"
  max_prompt_length: int = 1024
  prompts_per_batch: int = 64
  min_bucket: int = 16

  def __post_init__(self):
    for name in ("max_prompt_length", "prompts_per_batch", "min_bucket"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}={value!r} must be an int >= 1")


@dataclasses.dataclass(frozen=True)
class PromptSet:
  """One benchmark, tokenized and batched.

  Attributes:
    ids, answers: G problem ids and reference answers (problems whose prompt fit).
    batches: ceil(G / P) batches of exactly P prompts each (P = prompts_per_batch; padded at the end).
    dropped_too_long: problems left out because their prompt exceeded max_prompt_length.
    majority_vote: False where answers are programs: maj@k is not reported (`Benchmark.majority_vote`).
  """

  name: str
  path: str
  ids: tuple[str, ...]
  answers: tuple[str, ...]
  batches: tuple[PromptBatch, ...]
  dropped_too_long: int = 0
  majority_vote: bool = True

  def __len__(self) -> int:
    return len(self.ids)


def _pad_id(tokenizer: Any) -> int:
  pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
  if pad is None:
    raise ValueError("the tokenizer has neither a pad nor an eos token to left-pad prompts with")
  return int(pad)


def prepare_prompt_set(benchmark: Benchmark, tokenizer: Any, prompting: EvalPrompting,
                       limit: int | None = None) -> PromptSet:
  """Templates, tokenizes and batches a benchmark's rows (the first `limit` that fit, if given)."""
  counts = LoadCounts(records=len(benchmark.rows))
  prompts = tokenize_prompts(benchmark.rows, tokenizer, template=prompting.template,
                             max_prompt_length=prompting.max_prompt_length, counts=counts)
  prompts = prompts if limit is None else prompts[:limit]
  if not prompts:
    raise ValueError(f"benchmark {benchmark.name!r} ({benchmark.path}): all {len(benchmark.rows)} prompts are "
                     f"longer than max_prompt_length={prompting.max_prompt_length} tokens")
  size, pad_id = prompting.prompts_per_batch, _pad_id(tokenizer)
  batches = []
  for start in range(0, len(prompts), size):
    chunk = list(prompts[start:start + size])
    chunk += [chunk[0]] * (size - len(chunk))
    batches.append(collate_prompts(chunk, pad_id=pad_id, max_prompt_length=prompting.max_prompt_length,
                                   min_bucket=prompting.min_bucket))
  return PromptSet(name=benchmark.name, path=benchmark.path,
                   ids=tuple(benchmark.ids[p.row_id] for p in prompts), answers=tuple(p.answer for p in prompts),
                   batches=tuple(batches), dropped_too_long=counts.too_long,
                   majority_vote=benchmark.majority_vote)


def prompt_set_from_batch(name: str, path: str, batch: PromptBatch, *, majority_vote: bool = True) -> PromptSet:
  """An already collated batch (the training loop's held-out prompts) as a one-batch prompt set."""
  return PromptSet(name=name, path=path, ids=tuple(str(int(r)) for r in batch.row_ids),
                   answers=tuple(batch.answers), batches=(batch,), majority_vote=majority_vote)


@dataclasses.dataclass(frozen=True)
class EvalReport:
  """Attributes:
    metrics: scalars keyed `<benchmark>/<metric>` (avg@n, pass@k, maj@k, CIs, length, no-answer share).
    benchmarks: benchmark name -> JSON-able record (curves for every k <= n, per-problem counts).
    sampling: the settings the samples were drawn with.
  """

  metrics: dict[str, float]
  benchmarks: dict[str, dict]
  sampling: EvalSampling

  def to_json(self, **context: Any) -> dict:
    """The report as one JSON object; `context` (step, checkpoint, ...) is stored alongside."""
    return {**context, "sampling": dataclasses.asdict(self.sampling), "metrics": self.metrics,
            "benchmarks": self.benchmarks}

  def write(self, path: str, **context: Any) -> None:
    """Writes atomically (a reader of a report directory never sees a half-written file)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    staging = f"{path}.tmp"
    with open(staging, "w", encoding="utf-8") as f:
      json.dump(self.to_json(**context), f, indent=1)
    os.replace(staging, path)


def sample_prompt_set(generate_fn, params, prompt_set: PromptSet, key: jax.Array, codec: TextCodec, reward,
                      num_samples: int) -> BenchmarkResult:
  """Samples every batch of `prompt_set`, drops the padding prompts' rows, scores the rest at once."""
  tokens, masks, lengths, truncated = [], [], [], []
  remaining = len(prompt_set)
  for batch in prompt_set.batches:
    out = generate_fn(params, batch.ids, batch.mask, batch.row_ids, key)
    keep = min(remaining, len(batch)) * num_samples  # rows are prompt-major: padding prompts come last
    remaining -= min(remaining, len(batch))
    tokens.append(to_host(out.tokens)[:keep])
    masks.append(to_host(out.response_mask)[:keep])
    lengths.append(to_host(out.lengths)[:keep])
    truncated.append(to_host(out.truncated)[:keep])
  texts = codec.decode(np.concatenate(tokens), np.concatenate(masks))
  answers = [a for a in prompt_set.answers for _ in range(num_samples)]
  scored = reward(texts, answers)
  g, n = len(prompt_set), num_samples
  extracted = tuple(tuple(scored.extracted[p * n:(p + 1) * n]) for p in range(g))
  return BenchmarkResult(
      name=prompt_set.name, path=prompt_set.path, ids=prompt_set.ids, answers=prompt_set.answers,
      correct=np.asarray(scored.correct, bool).reshape(g, n), extracted=extracted,
      lengths=np.concatenate(lengths).reshape(g, n), truncated=np.concatenate(truncated).reshape(g, n),
      dropped_too_long=prompt_set.dropped_too_long)


def benchmark_key(seed: int, name: str) -> jax.Array:
  """The sampling key of benchmark `name`: fixed across evaluations (so scores move only with the
  policy), distinct per benchmark (row ids, which pick each prompt's stream, restart at 0 in every file)."""
  return jax.random.fold_in(jax.random.key(seed + 7919), zlib.crc32(name.encode()) & 0x7FFFFFFF)


class BenchmarkEvaluator:
  """Evaluates live parameters on fixed prompt sets; build once, call `evaluate(params)` any number of times.

  Args:
    graphdef: the policy's static structure (parameters are passed to `evaluate`).
    prompt_sets: benchmarks as `prepare_prompt_set` made them (distinct names).
    codec: tokenizer and stop tokens.
    reward: a `RewardFn` whose `correct` verdicts and extracted answers are scored.
    mesh: the mesh the sampler runs on (None = unsharded).
    sampling: n, temperature, top-p, token budget, seed.
    equivalent: answer equivalence for maj@k (default math-verify).
    summary: bootstrap settings.
  """

  def __init__(self, graphdef, prompt_sets: Sequence[PromptSet], codec: TextCodec, reward, mesh,
               sampling: EvalSampling, *, equivalent: Equivalent | None = None,
               summary: SummaryConfig = SummaryConfig()):
    names = [s.name for s in prompt_sets]
    if not names or len(set(names)) != len(names):
      raise ValueError(f"benchmarks {names}: need at least one, each name once")
    self.prompt_sets = tuple(prompt_sets)
    self.codec, self.reward, self.sampling, self.summary = codec, reward, sampling, summary
    self.equivalent = equivalent if equivalent is not None else MathVerifyEquivalence()
    greedy = sampling.temperature == 0
    self._generate = make_generate_fn(graphdef, SamplingSettings(
        num_samples=sampling.num_samples, max_new_tokens=sampling.max_new_tokens,
        temperature=sampling.temperature, top_p=1.0 if greedy else sampling.top_p, top_k=0,
        stop_token_ids=codec.stop_token_ids), mesh)
    self._keys = {s.name: benchmark_key(sampling.seed, s.name) for s in prompt_sets}

  def evaluate(self, params) -> EvalReport:
    metrics, records = {}, {}
    for prompt_set in self.prompt_sets:
      result = sample_prompt_set(self._generate, params, prompt_set, self._keys[prompt_set.name], self.codec,
                                 self.reward, self.sampling.num_samples)
      equivalent = self.equivalent if prompt_set.majority_vote else None
      scalars, records[prompt_set.name] = summarize(result, equivalent, self.summary)
      metrics.update(scalars)
    return EvalReport(metrics=metrics, benchmarks=records, sampling=self.sampling)


def evaluate_hf_dir(model_dir: str, benchmarks: Sequence[Benchmark], *, sampling: EvalSampling,
                    prompting: EvalPrompting, reward, stop_tokens: Sequence[str], dtype, mesh=None,
                    equivalent: Equivalent | None = None, summary: SummaryConfig = SummaryConfig()) -> EvalReport:
  """Loads an HF directory (weights, config and tokenizer) and evaluates it on `benchmarks`."""
  from flax import nnx

  from rlvr_jax.models import load_pretrained

  codec = TextCodec.load(model_dir, tuple(stop_tokens))
  model = load_pretrained(model_dir, dtype=dtype, mesh=mesh)
  graphdef, params = nnx.split(model)
  prompt_sets = [prepare_prompt_set(b, codec.tokenizer, prompting) for b in benchmarks]
  evaluator = BenchmarkEvaluator(graphdef, prompt_sets, codec, reward, mesh, sampling, equivalent=equivalent,
                                 summary=summary)
  return evaluator.evaluate(params)
