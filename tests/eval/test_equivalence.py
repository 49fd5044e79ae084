"""maj@k answer equivalence: math-verify's symbolic equality, with a parse cache and a string fast path."""

import numpy as np
import pytest

from rlvr_jax.eval import _metrics as m
from rlvr_jax.eval._equivalence import MathVerifyEquivalence, exact_equivalence


@pytest.fixture(scope="module")
def equivalent():
  return MathVerifyEquivalence()


@pytest.mark.parametrize("a, b, same", [
    ("\\frac{1}{2}", "0.5", True),
    ("1/2", "\\frac12", True),
    ("x + 1", "1 + x", True),
    ("3", "4", False),
    ("\\sqrt{2}", "2", False),
    (" 12 ", "12", True),
])
def test_math_verify_equivalence(equivalent, a, b, same):
  assert equivalent(a, b) is same


def test_equivalence_parses_each_string_once(monkeypatch):
  import math_verify

  calls = []
  real_parse = math_verify.parse
  monkeypatch.setattr(math_verify, "parse", lambda text, **kw: calls.append(text) or real_parse(text, **kw))
  equivalent = MathVerifyEquivalence()
  for _ in range(3):
    assert equivalent("\\frac{3}{4}", "0.75")
  assert equivalent("7", " 7")  # identical up to spaces: never parsed
  assert sorted(calls) == ["\\boxed{0.75}", "\\boxed{\\frac{3}{4}}"]


def test_majority_vote_merges_equivalent_forms(equivalent):
  """Three spellings of 1/2 outvote two identical '2's, which exact matching would have let win."""
  answers = ["2", "\\frac{1}{2}", "2", "0.5", "1/2"]
  correct = np.asarray([0, 1, 0, 1, 1], bool)
  assert m.majority_correct(m.answer_classes(answers, equivalent), correct, 5)
  assert not m.majority_correct(m.answer_classes(answers, exact_equivalence), correct, 5)


def test_timeout_must_be_whole_seconds():
  with pytest.raises(ValueError, match=r"timeout_s=0.5"):
    MathVerifyEquivalence(timeout_s=0.5)
