"""One benchmark's scored samples -> scalar metrics and a JSON-able record.

The scalars (`<benchmark>/avg@n`, `pass@k`, `maj@k` for k = 1, 2, 4, ..., n, CIs, length, no-answer
share) are what logs and TensorBoard take; the record adds the full pass@k / maj@k / avg@k curves for
every k up to n with bootstrap intervals, and per-problem counts and answers, so a report can be
recomputed or inspected without sampling again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from rlvr_jax.eval import _metrics as m


@dataclasses.dataclass(frozen=True)
class BenchmarkResult:
  """Scored samples of one benchmark (G problems in file order, n samples each).

  Attributes:
    name, path: the benchmark and its file.
    ids, answers: G problem ids and reference answers.
    correct: [G, n] bool verdicts of the reward's verifier.
    extracted: G x n extracted answers (None = nothing extractable).
    lengths: [G, n] response lengths in tokens.
    truncated: [G, n] bool, cut at the token budget (or the context window).
    dropped_too_long: problems whose prompt exceeded max_prompt_length and were not sampled.
  """

  name: str
  path: str
  ids: tuple[str, ...]
  answers: tuple[str, ...]
  correct: np.ndarray
  extracted: tuple[tuple[str | None, ...], ...]
  lengths: np.ndarray
  truncated: np.ndarray
  dropped_too_long: int = 0


@dataclasses.dataclass(frozen=True)
class SummaryConfig:
  """Attributes:
    resamples: bootstrap resamples of the problems.
    confidence: two-sided interval level.
    seed: bootstrap seed (fixed: two reports of the same samples give the same intervals).
  """

  resamples: int = 1000
  confidence: float = 0.95
  seed: int = 0


def _floats(values: np.ndarray) -> list:
  return [round(float(v), 6) for v in np.asarray(values).reshape(-1)]


def summarize(result: BenchmarkResult, equivalent: m.Equivalent | None,
              config: SummaryConfig = SummaryConfig()) -> tuple[dict[str, float], dict[str, Any]]:
  """(scalar metrics keyed `<name>/<metric>`, JSON-able record) of one benchmark.

  `equivalent` None means the extracted answers cannot be voted on (programs: several different ones
  are right, equal ones are rare), so maj@k is left out of the scalars, curves and problems rather
  than reported with a meaning it does not have.
  """
  correct = np.asarray(result.correct, bool)
  g, n = correct.shape
  if len(result.ids) != g or len(result.extracted) != g or any(len(row) != n for row in result.extracted):
    raise ValueError(f"benchmark {result.name!r}: {len(result.ids)} ids and {len(result.extracted)} answer rows "
                     f"for correct of shape {correct.shape}")
  vote = equivalent is not None
  pass_matrix = m.pass_at_k_matrix(correct)  # [G, n]
  if vote:
    labels = np.stack([m.answer_classes(row, equivalent) for row in result.extracted])  # [G, n]
    maj_matrix = m.maj_at_k_matrix(labels, correct)  # [G, n]
  else:
    maj_matrix = np.zeros((g, 0))
  avg_curve = np.cumsum(correct, axis=1).mean(axis=0) / np.arange(1, n + 1)  # [n] mean over the first k
  avg_per_problem = correct.mean(axis=1)  # [G]
  ci = m.bootstrap_ci(np.concatenate([avg_per_problem[:, None], pass_matrix, maj_matrix], axis=1),
                      resamples=config.resamples, confidence=config.confidence, seed=config.seed)  # [2, 1 + 2n]
  avg_ci, pass_ci, maj_ci = ci[:, 0], ci[:, 1:1 + n], ci[:, 1 + n:]
  lengths = m.length_stats(result.lengths, result.truncated)

  scalars = {f"avg@{n}": float(avg_per_problem.mean()), f"avg@{n}_ci_low": float(avg_ci[0]),
             f"avg@{n}_ci_high": float(avg_ci[1])}
  for k in m.report_ks(n):
    scalars[f"pass@{k}"] = float(pass_matrix[:, k - 1].mean())
    if vote:
      scalars[f"maj@{k}"] = float(maj_matrix[:, k - 1].mean())
  scalars.update(length_mean=lengths["length_mean"], truncated_fraction=lengths["truncated_fraction"],
                 no_answer_fraction=m.no_answer_fraction(result.extracted))

  problems = []
  for p in range(g):
    problem = {
        "id": result.ids[p], "answer": result.answers[p], "num_correct": int(correct[p].sum()),
        "num_samples": n, "correct": [bool(c) for c in correct[p]],
        "extracted": list(result.extracted[p]), "lengths": [int(x) for x in result.lengths[p]],
    }
    if vote:
      winner = m.majority_winner(labels[p], n)
      problem.update(majority_answer=None if winner < 0 else result.extracted[p][winner],
                     majority_correct=bool(maj_matrix[p, n - 1]))
    problems.append(problem)
  record = {
      "name": result.name, "path": result.path, "num_problems": g, "num_samples": n,
      "dropped_too_long": result.dropped_too_long,
      "metrics": scalars,
      "curves": {
          "k": list(range(1, n + 1)),
          "pass@k": _floats(pass_matrix.mean(axis=0)), "pass@k_ci_low": _floats(pass_ci[0]),
          "pass@k_ci_high": _floats(pass_ci[1]),
          **({"maj@k": _floats(maj_matrix.mean(axis=0)), "maj@k_ci_low": _floats(maj_ci[0]),
              "maj@k_ci_high": _floats(maj_ci[1])} if vote else {}),
          "avg@k": _floats(avg_curve),
      },
      "bootstrap": dataclasses.asdict(config),
      "problems": problems,
  }
  return {f"{result.name}/{k}": v for k, v in scalars.items()}, record
