"""Answer extraction: the last brace-matched \\boxed{}, and the plain-text fallbacks."""

from __future__ import annotations

import pytest

from rlvr_jax.rewards._extraction import extract_answer, fallback_answer, last_boxed


@pytest.mark.parametrize("text, expected", [
    ("so \\boxed{42}.", "42"),
    ("\\boxed{1} then \\boxed{2}", "2"),                      # last box wins
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),                # nested braces kept whole
    ("$\\boxed{ x^{2} }$", "x^{2}"),                           # stripped
    ("\\fbox{7}", "7"),
    ("\\boxed 5 is it", "5"),                                  # brace-less form
    ("\\boxed {3}", "3"),
    ("\\boxed{\\text{(B)}} and \\fbox{9}", "9"),               # last of either command
])
def test_last_boxed(text, expected):
  """The content of the last box is returned exactly, nested braces included."""
  assert last_boxed(text) == expected


@pytest.mark.parametrize("text", ["no box", "\\boxed{}", "\\boxed{  }", "\\boxed{\\frac{1}{2}", "\\boxed"])
def test_last_boxed_missing(text):
  """Absent, empty, unclosed or bare boxes count as no answer."""
  assert last_boxed(text) is None


@pytest.mark.parametrize("text, expected", [
    ("Adding them, the answer is 12.", "12"),
    ("The final answer is $\\frac{3}{4}$.", "\\frac{3}{4}"),
    ("work\nAnswer: 17\n", "17"),
    ("steps\n#### 1,024", "1,024"),
    ("I think the answer is 3.\nWait, the answer is 5.", "5"),  # last occurrence
    ("So the answer is 12. Let me double-check: 5+7=12.", "12"),  # stops at the sentence end
    ("the answer is 3.5.", "3.5"),                                # a decimal point is not an end
])
def test_fallbacks(text, expected):
  """Plain-text answer conventions are recognised when there is no box."""
  assert fallback_answer(text) == expected
  assert extract_answer(text) == expected
  assert extract_answer(text, fallbacks=False) is None


def test_box_takes_precedence_over_fallback():
  """A boxed answer wins over a plain-text one elsewhere in the completion."""
  assert extract_answer("The answer is 3.\nActually \\boxed{4}") == "4"
