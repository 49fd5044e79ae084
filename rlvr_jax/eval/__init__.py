"""Benchmark evaluation: local benchmark files, n samples per problem with the in-graph sampler, and
avg@k / unbiased pass@k / maj@k with bootstrap intervals, as scalars and a JSON report.

Public API:
  BENCHMARKS, BenchmarkFormat, Benchmark, BenchmarkSpec     benchmark registry and loaded rows
  parse_benchmark_specs, load_benchmark(s), write_rows        'name=path,...' -> normalized rows
  EvalSampling, EvalPrompting, PromptSet, prepare_prompt_set  settings, tokenized fixed-size batches
  BenchmarkEvaluator, EvalReport, evaluate_hf_dir             sampling + scoring -> metrics and report
  benchmark_key                                               the fixed sampling key of a benchmark
  BenchmarkResult, SummaryConfig, summarize                   scored samples -> metrics and record
  MathVerifyEquivalence, exact_equivalence                    answer equivalence for maj@k
  metrics                                                     the pure metric functions
"""

from rlvr_jax.eval import _metrics as metrics
from rlvr_jax.eval._benchmarks import (BENCHMARKS, Benchmark, BenchmarkFormat, BenchmarkSpec, load_benchmark,
                                      load_benchmarks, parse_benchmark_specs, read_records, write_rows)
from rlvr_jax.eval._checkpoint_dirs import checkpoint_dtype, resolve_checkpoint
from rlvr_jax.eval._equivalence import MathVerifyEquivalence, exact_equivalence
from rlvr_jax.eval._runner import (BenchmarkEvaluator, EvalPrompting, EvalReport, EvalSampling, PromptSet,
                                  benchmark_key, evaluate_hf_dir, prepare_prompt_set, prompt_set_from_batch,
                                  sample_prompt_set)
from rlvr_jax.eval._summary import BenchmarkResult, SummaryConfig, summarize

__all__ = [
    "BENCHMARKS", "Benchmark", "BenchmarkEvaluator", "BenchmarkFormat", "BenchmarkResult", "BenchmarkSpec",
    "EvalPrompting", "EvalReport", "EvalSampling", "MathVerifyEquivalence", "PromptSet", "SummaryConfig",
    "benchmark_key", "checkpoint_dtype", "resolve_checkpoint", "evaluate_hf_dir", "exact_equivalence", "load_benchmark", "load_benchmarks", "metrics",
    "parse_benchmark_specs", "prepare_prompt_set", "prompt_set_from_batch", "read_records", "sample_prompt_set",
    "summarize", "write_rows",
]
