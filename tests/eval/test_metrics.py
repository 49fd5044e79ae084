"""avg@k, unbiased pass@k, maj@k and bootstrap intervals against brute-force definitions."""

import itertools

import numpy as np
import pytest

from rlvr_jax.eval import _metrics as m
from rlvr_jax.eval._equivalence import exact_equivalence


def _brute_pass_at_k(row: np.ndarray, k: int) -> float:
  """Share of all k-subsets of the samples that contain a correct one."""
  subsets = list(itertools.combinations(range(len(row)), k))
  return float(np.mean([row[list(s)].any() for s in subsets]))


@pytest.mark.parametrize("n", [1, 2, 5, 7])
def test_pass_at_k_equals_enumeration_of_all_k_subsets(n):
  rng = np.random.default_rng(n)
  correct = rng.random((6, n)) < rng.random((6, 1))  # problems of varied difficulty
  correct[0], correct[-1] = False, True  # the all-wrong and all-right edges
  matrix = m.pass_at_k_matrix(correct)
  for k in range(1, n + 1):
    brute = np.asarray([_brute_pass_at_k(row, k) for row in correct])
    np.testing.assert_allclose(matrix[:, k - 1], brute, atol=1e-12)
    np.testing.assert_allclose(m.pass_at_k_per_problem(correct.sum(1), n, k), brute, atol=1e-12)
  np.testing.assert_allclose(m.pass_at_k_curve(correct)[0], correct.mean(), atol=1e-12)  # pass@1 = accuracy


def test_pass_at_k_is_stable_where_binomials_overflow():
  """n = 2048: C(n, k) overflows float64, the product forms stay in [0, 1] and agree."""
  n, c = 2048, np.asarray([0, 1, 3, 2000, 2048])
  correct = np.arange(n)[None, :] < c[:, None]
  curve = m.pass_at_k_matrix(correct)
  assert np.isfinite(curve).all() and (curve >= 0).all() and (curve <= 1 + 1e-12).all()
  for k in (1, 10, 700, 2048):
    np.testing.assert_allclose(curve[:, k - 1], m.pass_at_k_per_problem(c, n, k), atol=1e-9)
  # One correct sample of n: pass@k = k / n exactly.
  np.testing.assert_allclose(curve[1], np.arange(1, n + 1) / n, atol=1e-9)
  assert (np.diff(curve, axis=1) >= -1e-12).all()  # non-decreasing in k


def test_pass_at_k_rejects_bad_inputs():
  with pytest.raises(ValueError, match=r"k=0"):
    m.pass_at_k_per_problem(np.asarray([1]), 4, 0)
  with pytest.raises(ValueError, match=r"num_correct=\[5\]"):
    m.pass_at_k_per_problem(np.asarray([5]), 4, 1)
  with pytest.raises(ValueError, match=r"shape \(4,\)"):
    m.pass_at_k_matrix(np.ones(4, bool))


def test_avg_at_k_uses_the_first_k_samples():
  correct = np.asarray([[1, 0, 0, 1], [1, 1, 0, 0]], bool)
  assert m.avg_at_k(correct) == 0.5
  assert m.avg_at_k(correct, 1) == 1.0
  assert m.avg_at_k(correct, 3) == pytest.approx(3 / 6)
  with pytest.raises(ValueError, match=r"k=5"):
    m.avg_at_k(correct, 5)


def test_answer_classes_follow_first_occurrence_and_skip_missing_answers():
  labels = m.answer_classes(["4", None, " 4", "5", "4", "6", "5"], exact_equivalence)
  assert labels.tolist() == [0, -1, 0, 1, 0, 2, 1]


def test_answer_classes_use_the_injected_equivalence():
  same_parity = lambda a, b: int(a) % 2 == int(b) % 2  # noqa: E731
  assert m.answer_classes(["1", "3", "2", "5", "4"], same_parity).tolist() == [0, 0, 1, 0, 1]


def test_majority_ties_go_to_the_class_seen_first():
  # "7" and "9" both have two votes; "7" appeared first, so it wins whatever the order after.
  labels = m.answer_classes(["7", "9", "9", "7"], exact_equivalence)
  assert m.majority_winner(labels, 4) == 0
  labels = m.answer_classes(["9", "7", "7", "9"], exact_equivalence)
  assert m.majority_winner(labels, 4) == 0
  # The vote is as correct as the winning class: the tie goes to a wrong "9" here.
  assert m.majority_correct(labels, np.asarray([0, 1, 1, 0], bool), 4) is False
  assert m.majority_correct(labels, np.asarray([0, 1, 1, 0], bool), 3) is True  # 7 leads 2:1 in the first 3


def test_majority_without_answers_is_wrong():
  labels = m.answer_classes([None, None, "3"], exact_equivalence)
  assert m.majority_winner(labels, 2) == -1
  assert not m.majority_correct(labels, np.asarray([0, 0, 1], bool), 2)
  assert m.majority_correct(labels, np.asarray([0, 0, 1], bool), 3)


def test_maj_at_k_matrix_matches_the_scalar_vote_for_every_k():
  rng = np.random.default_rng(0)
  answers = rng.choice(["1", "2", "3", None], size=(20, 7), p=[0.4, 0.3, 0.2, 0.1])
  labels = np.stack([m.answer_classes(list(row), exact_equivalence) for row in answers])
  correct = (answers == "1")
  matrix = m.maj_at_k_matrix(labels, correct)
  for p in range(20):
    for k in range(1, 8):
      assert matrix[p, k - 1] == m.majority_correct(labels[p], correct[p], k), (p, k)
  np.testing.assert_allclose(m.maj_at_k_curve(labels, correct), matrix.mean(0))
  assert matrix[:, 0].tolist() == correct[:, 0].tolist()  # maj@1 is the first sample's verdict


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
  rng = np.random.default_rng(1)
  per_problem = rng.random(200)
  low, high = m.bootstrap_ci(per_problem, resamples=500, seed=3)
  assert low < per_problem.mean() < high
  np.testing.assert_array_equal(m.bootstrap_ci(per_problem, resamples=500, seed=3), [low, high])
  assert not np.array_equal(m.bootstrap_ci(per_problem, resamples=500, seed=4), [low, high])
  wide_low, wide_high = m.bootstrap_ci(per_problem[:20], resamples=500, seed=3)
  assert wide_high - wide_low > high - low  # fewer problems, wider interval
  np.testing.assert_array_equal(m.bootstrap_ci(np.full(10, 0.25)), [0.25, 0.25])
  matrix = m.bootstrap_ci(np.stack([per_problem, per_problem * 0], 1), resamples=500, seed=3)
  assert matrix.shape == (2, 2) and np.allclose(matrix[:, 0], [low, high]) and not matrix[:, 1].any()


def test_bootstrap_ci_rejects_bad_settings():
  with pytest.raises(ValueError, match=r"confidence=1.5"):
    m.bootstrap_ci(np.ones(3), confidence=1.5)
  with pytest.raises(ValueError, match=r"resamples=0"):
    m.bootstrap_ci(np.ones(3), resamples=0)


def test_no_answer_fraction_length_stats_and_report_ks():
  assert m.no_answer_fraction([["1", None], [None, None]]) == 0.75
  stats = m.length_stats(np.asarray([[2, 4], [6, 8]]), np.asarray([[0, 1], [0, 0]], bool))
  assert stats == {"length_mean": 5.0, "length_max": 8.0, "truncated_fraction": 0.25}
  assert m.report_ks(1) == (1,)
  assert m.report_ks(8) == (1, 2, 4, 8)
  assert m.report_ks(12) == (1, 2, 4, 8, 12)
