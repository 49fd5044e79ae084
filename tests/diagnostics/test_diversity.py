"""distinct-n and unique answers on hand-made groups."""

import math

import numpy as np
import pytest

from rlvr_jax.diagnostics import distinct_n, distinct_n_metrics, unique_answer_metrics

PAD = 7  # a token value that would add new n-grams if padding leaked in
TOKENS = np.array([[1, 2, 1, 2, PAD],
                   [1, 2, 3, PAD, PAD],
                   [5, 5, 5, 5, 5],
                   [5, PAD, PAD, PAD, PAD]])
MASK = np.array([[1, 1, 1, 1, 0],
                 [1, 1, 1, 0, 0],
                 [1, 1, 1, 1, 1],
                 [1, 0, 0, 0, 0]])


def test_distinct_n_by_hand():
  """Group 0: unigrams 1,2,1,2 | 1,2,3 -> 3/7; bigrams 12,21,12 | 12,23 -> 3/5; trigrams 3/3; 4-grams 1/1.
  Group 1: unigrams 5x5 | 5 -> 1/6; bigrams 1/4; trigrams 1/3; 4-grams 1/2; 5-grams 1/1 (row 3 has none).
  n-grams never join two responses (joining rows 0 and 1 would add the bigram (2, 1) once more)."""
  assert distinct_n(TOKENS, MASK, 2, 1) == pytest.approx((3 / 7 + 1 / 6) / 2)
  assert distinct_n(TOKENS, MASK, 2, 2) == pytest.approx((3 / 5 + 1 / 4) / 2)
  assert distinct_n(TOKENS, MASK, 2, 3) == pytest.approx((1 + 1 / 3) / 2)
  assert distinct_n(TOKENS, MASK, 2, 4) == pytest.approx((1 + 1 / 2) / 2)
  assert distinct_n(TOKENS, MASK, 2, 5) == pytest.approx(1.0)  # only group 1 has a 5-gram
  assert math.isnan(distinct_n(TOKENS, MASK, 2, 6))  # no group has one
  # One group of all four responses: unigrams {1, 2, 3, 5} over 13 tokens.
  assert distinct_n(TOKENS, MASK, 4, 1) == pytest.approx(4 / 13)


def test_distinct_n_metrics_names_and_validation():
  out = distinct_n_metrics(TOKENS, MASK, 2, (1, 3))
  assert set(out) == {"diag/diversity/distinct_1", "diag/diversity/distinct_3"}
  with pytest.raises(ValueError, match="group_size=3"):
    distinct_n(TOKENS, MASK, 3, 1)
  with pytest.raises(ValueError, match="distinct_n"):
    distinct_n(TOKENS, MASK, 2, 0)


def test_unique_answers_exclude_missing_answers():
  answers = ["4", " 4", None,  # one distinct answer (whitespace stripped), one missing
             "1", "2", "3",  # three
             None, None, None]  # none: missing answers are not a class of their own
  out = unique_answer_metrics(answers, 3)
  assert out["diag/diversity/unique_answers"] == pytest.approx(4 / 3)
  assert out["diag/diversity/unique_answer_fraction"] == pytest.approx(4 / 9)
  assert out["diag/diversity/no_answer_fraction"] == pytest.approx(4 / 9)
  with pytest.raises(ValueError, match=r"answers\[1\]"):
    unique_answer_metrics(["1", 2], 2)
