"""Benchmark metrics as pure functions of per-sample arrays: avg@k, unbiased pass@k, maj@k, bootstrap
confidence intervals, response length and the no-answer fraction.

Shapes: G problems (the groups of the objectives' group statistics), n samples per problem (n >= 1),
C answer classes, M metrics. `correct` is [G, n] bool in sample order; the order matters for avg@k and
maj@k ("the first k samples"), never for pass@k, which is an unbiased estimate over all k-subsets of
the n samples.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

Equivalent = Callable[[str, str], bool]


def _check_correct(correct: np.ndarray) -> np.ndarray:
  correct = np.asarray(correct)
  if correct.ndim != 2 or correct.shape[0] < 1 or correct.shape[1] < 1:
    raise ValueError(f"correct has shape {correct.shape}; expected [G, n] with G, n >= 1")
  return correct.astype(bool)


def _check_k(k: int, n: int) -> None:
  if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
    raise ValueError(f"k={k!r} must be an int in [1, n={n}]")


def pass_at_k_per_problem(num_correct: np.ndarray, n: int, k: int) -> np.ndarray:
  """[G] float64: 1 - C(n - c, k) / C(n, k), the chance that k of the n samples (drawn without
  replacement) contain a correct one (Chen et al. 2021).

  Computed as 1 - prod_{i = n-c+1}^{n} (1 - k / i): binomials of n = 1024 overflow float64, the product
  never leaves [0, 1].
  """
  _check_k(k, n)
  c = np.asarray(num_correct, np.int64)
  if c.ndim != 1 or (c < 0).any() or (c > n).any():
    raise ValueError(f"num_correct={c.tolist()} must be a 1-D array of counts in [0, n={n}]")
  i = np.arange(1, n + 1, dtype=np.float64)  # [n]
  certain = n - c < k  # every k-subset holds a correct sample (and some factors below would be < 0)
  in_product = (i[None, :] > (n - c)[:, None]) & ~certain[:, None]  # [G, n]
  factors = np.where(in_product, 1.0 - k / i[None, :], 1.0)  # each in [0, 1)
  return np.where(certain, 1.0, 1.0 - np.prod(factors, axis=1))


def pass_at_k_matrix(correct: np.ndarray) -> np.ndarray:
  """[G, n] float64: column k - 1 holds each problem's pass@k, for every k in 1..n.

  The same estimator for all k at once: C(n - c, k) / C(n, k) = prod_{j < k} (n - c - j) / (n - j), a
  cumulative product of factors in [0, 1] (a factor hits 0 once k exceeds n - c).
  """
  correct = _check_correct(correct)
  n = correct.shape[1]
  counts = correct.sum(axis=1)  # [G]
  j = np.arange(n, dtype=np.float64)  # [n]
  factors = np.clip(n - counts[:, None] - j[None, :], 0.0, None) / (n - j[None, :])  # [G, n]
  return 1.0 - np.cumprod(factors, axis=1)


def pass_at_k_curve(correct: np.ndarray) -> np.ndarray:
  """[n] float64: pass@k averaged over problems, k = 1..n (pass@1 equals the mean accuracy)."""
  return pass_at_k_matrix(correct).mean(axis=0)


def avg_at_k(correct: np.ndarray, k: int | None = None) -> float:
  """Mean accuracy over the first k samples of every problem (k = n by default)."""
  correct = _check_correct(correct)
  k = correct.shape[1] if k is None else k
  _check_k(k, correct.shape[1])
  return float(correct[:, :k].mean())


def answer_classes(answers: Sequence[str | None], equivalent: Equivalent) -> np.ndarray:
  """[n] int: an equivalence-class label per answer, -1 for no answer.

  Each answer joins the first earlier class whose representative (first member) it is equivalent to,
  else opens a new class, so labels are numbered by first occurrence and the labels of the first k
  answers do not depend on the answers after them: one pass serves maj@k for every k.
  """
  representatives: list[str] = []
  labels = np.full(len(answers), -1, np.int64)
  for i, answer in enumerate(answers):
    if answer is None:
      continue
    for label, representative in enumerate(representatives):
      if representative == answer or equivalent(representative, answer):
        labels[i] = label
        break
    else:
      labels[i] = len(representatives)
      representatives.append(answer)
  return labels


def majority_winner(labels: np.ndarray, k: int) -> int:
  """Index (into the samples) of the winning class's first member among the first k, or -1 when none
  of them has an answer. Ties between classes go to the class that appeared first: deterministic, and
  independent of how the classes happen to be numbered.
  """
  labels = np.asarray(labels)[:k]
  answered = labels[labels >= 0]
  if answered.size == 0:
    return -1
  counts = np.bincount(answered)  # class labels are first-occurrence order, so argmax takes the earliest
  winner = int(np.argmax(counts))
  return int(np.flatnonzero(labels == winner)[0])


def majority_correct(labels: np.ndarray, correct: np.ndarray, k: int) -> bool:
  """The vote over the first k samples is correct iff the winning class is correct, judged by the
  verdict on its first member (the representative every other member was matched against)."""
  winner = majority_winner(labels, k)
  return winner >= 0 and bool(np.asarray(correct)[winner])


def maj_at_k_matrix(labels: np.ndarray, correct: np.ndarray) -> np.ndarray:
  """[G, n] float64: column k - 1 is 1 where the vote over a problem's first k samples is correct.

  Vectorized `majority_correct` for every k: running vote counts per class, argmax (first occurrence
  on ties, as class labels are numbered by first occurrence), each class judged by its first member.
  """
  correct = _check_correct(correct)
  labels = np.asarray(labels)
  if labels.shape != correct.shape:
    raise ValueError(f"labels shape {labels.shape} != correct shape {correct.shape}")
  out = np.zeros(correct.shape, np.float64)
  for p, (row, row_correct) in enumerate(zip(labels, correct)):
    num_classes = int(row.max()) + 1
    if num_classes == 0:
      continue  # no sample of this problem has an answer: every vote is wrong
    counts = np.cumsum(row[:, None] == np.arange(num_classes)[None, :], axis=0)  # [n, C]
    first_member = np.argmax(row[:, None] == np.arange(num_classes)[None, :], axis=0)  # [C]
    winners = np.argmax(counts, axis=1)  # [n]
    out[p] = (counts.max(axis=1) > 0) & row_correct[first_member][winners]
  return out


def maj_at_k_curve(labels: np.ndarray, correct: np.ndarray) -> np.ndarray:
  """[n] float64: maj@k averaged over problems, k = 1..n, from [G, n] class labels and correctness."""
  return maj_at_k_matrix(labels, correct).mean(axis=0)


def bootstrap_ci(per_problem: np.ndarray, *, resamples: int = 1000, confidence: float = 0.95,
                 seed: int = 0) -> np.ndarray:
  """[2] or [2, M]: percentile bootstrap interval of the mean over problems (resampled with replacement).

  Problems, not samples, are the unit: samples of one problem are correlated, and the question a CI
  answers is how the score would move on another draw of problems. `per_problem` is [G] or [G, M]
  (M metrics sharing the same resampled problem sets).
  """
  values = np.asarray(per_problem, np.float64)
  if values.ndim not in (1, 2) or values.shape[0] < 1:
    raise ValueError(f"per_problem has shape {values.shape}; expected [G] or [G, M] with G >= 1")
  if not isinstance(resamples, int) or resamples < 1:
    raise ValueError(f"resamples={resamples!r} must be an int >= 1")
  if not 0.0 < confidence < 1.0:
    raise ValueError(f"confidence={confidence!r} must be in (0, 1)")
  rng = np.random.default_rng(seed)
  index = rng.integers(0, values.shape[0], (resamples, values.shape[0]))  # [resamples, G]
  means = values[index].mean(axis=1)  # [resamples] or [resamples, M]
  tail = (1.0 - confidence) / 2.0
  return np.quantile(means, [tail, 1.0 - tail], axis=0)


def no_answer_fraction(extracted: Sequence[Sequence[str | None]]) -> float:
  """Share of samples with no extractable answer (G x n nested answers, None = none)."""
  flat = [a for row in extracted for a in row]
  if not flat:
    raise ValueError("extracted is empty; expected G x n answers")
  return float(np.mean([a is None for a in flat]))


def length_stats(lengths: np.ndarray, truncated: np.ndarray) -> dict[str, float]:
  """Response length (tokens) and the share of responses cut at the token budget."""
  lengths = np.asarray(lengths, np.float64)
  return {"length_mean": float(lengths.mean()), "length_max": float(lengths.max()),
          "truncated_fraction": float(np.asarray(truncated, bool).mean())}


def report_ks(n: int) -> tuple[int, ...]:
  """The k of the scalar pass@k / maj@k metrics: powers of two below n, and n (full curves go to JSON)."""
  ks = [1 << i for i in range(max(n - 1, 0).bit_length()) if 1 << i < n]
  return tuple(ks + [n])
