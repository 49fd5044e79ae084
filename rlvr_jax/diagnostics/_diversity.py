"""Response diversity within each prompt's group of samples: distinct-n on token ids, unique answers.

Entropy collapse shows up at the response level as groups whose samples repeat each other; these are
the per-group measures the entropy papers track next to token entropy (and pass@k depends on them).

distinct-n of a group = (unique n-grams) / (all n-grams), pooled over the group's responses; n-grams never
cross a response boundary, and a response contributes only its valid tokens (mask > 0, in order). The
batch value is the mean over groups that have at least one n-gram (a group whose responses are all
shorter than n has no ratio); NaN if no group has one.

Unique answers: the number of distinct extracted final answers per group, compared as stripped strings.
A response without an extractable answer (None) is not an answer, so it does not count as a class of its
own; how often that happens is reported separately as the no-answer fraction.

Host-side numpy, once per rollout: the work is per response, not per token.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from rlvr_jax.objectives._validation import check_int


def _check_groups(rows: int, group_size: int, what: str) -> int:
  check_int("diagnostics", "group_size", group_size, low=1)
  if rows % group_size:
    raise ValueError(f"{what}: {rows} rows do not split into groups of group_size={group_size}")
  return rows // group_size


def _ngrams(tokens: np.ndarray, n: int) -> np.ndarray:
  """[L - n + 1, n] n-grams of a 1-D sequence ([0, n] when it is shorter than n)."""
  if tokens.size < n:
    return np.zeros((0, n), tokens.dtype)
  return np.lib.stride_tricks.sliding_window_view(tokens, n)


def distinct_n(token_ids: np.ndarray, mask: np.ndarray, group_size: int, n: int) -> float:
  """Mean over groups of unique / total n-grams (see the module docstring).

  Args:
    token_ids: [R, N] completion tokens, rows prompt-major (a group's samples adjacent).
    mask: [R, N] valid tokens.
    group_size: samples per prompt.
    n: n-gram order >= 1.
  """
  check_int("diagnostics", "distinct_n", n, low=1)
  token_ids = np.asarray(token_ids)
  mask = np.asarray(mask) > 0
  if token_ids.ndim != 2 or token_ids.shape != mask.shape:
    raise ValueError(f"distinct_n: token_ids {token_ids.shape} and mask {mask.shape} must be the same [R, N]")
  groups = _check_groups(token_ids.shape[0], group_size, "distinct_n")
  ratios = []
  for g in range(groups):
    rows = range(g * group_size, (g + 1) * group_size)
    grams = np.concatenate([_ngrams(token_ids[r][mask[r]], n) for r in rows])  # [M, n]
    if grams.shape[0]:
      ratios.append(np.unique(grams, axis=0).shape[0] / grams.shape[0])
  return float(np.mean(ratios)) if ratios else float("nan")


def distinct_n_metrics(token_ids: np.ndarray, mask: np.ndarray, group_size: int,
                       orders: Sequence[int] = (1, 2, 3, 4)) -> dict[str, float]:
  """`diag/diversity/distinct_{n}` for each n in orders."""
  return {f"diag/diversity/distinct_{n}": distinct_n(token_ids, mask, group_size, n) for n in orders}


def unique_answer_metrics(answers: Sequence[str | None], group_size: int) -> dict[str, float]:
  """Distinct extracted answers per group (None excluded) and the fraction of responses without one.

  Returns:
    diag/diversity/unique_answers: mean count of distinct answers per group.
    diag/diversity/unique_answer_fraction: the same divided by group_size (1 = every sample differs).
    diag/diversity/no_answer_fraction: responses with no extractable answer / all responses.
  """
  answers = list(answers)
  groups = _check_groups(len(answers), group_size, "unique_answer_metrics")
  if not groups:
    raise ValueError("unique_answer_metrics: no answers")
  for i, answer in enumerate(answers):
    if answer is not None and not isinstance(answer, str):
      raise ValueError(f"unique_answer_metrics: answers[{i}] must be a str or None, got {answer!r}")
  counts = np.array([len({a.strip() for a in answers[g * group_size:(g + 1) * group_size] if a is not None})
                     for g in range(groups)], np.float64)
  return {
      "diag/diversity/unique_answers": float(counts.mean()),
      "diag/diversity/unique_answer_fraction": float(counts.mean() / group_size),
      "diag/diversity/no_answer_fraction": float(np.mean([a is None for a in answers])),
  }
