"""When two extracted answers count as the same vote for maj@k: math-verify's symbolic equivalence.

Majority voting compares every answer with every earlier class representative, so on a benchmark the
same strings are compared many times; each distinct string is parsed once and kept, and identical
strings (after whitespace removal) never reach the parser. The comparison runs in the calling process
with math-verify's own signal-based timeouts, which need the main thread; a timed-out or unparsable
comparison counts as "not equivalent", as math-verify reports it.
"""

from __future__ import annotations

import logging
from typing import Any


def _compact(answer: str) -> str:
  return "".join(answer.split())


def _as_latex(answer: str) -> str:
  """A bare answer inside \\boxed{} so math-verify's LaTeX extraction reads all of it."""
  answer = answer.strip()
  return answer if ("\\boxed" in answer or answer.startswith("$")) else f"\\boxed{{{answer}}}"


class MathVerifyEquivalence:
  """`equivalent(a, b)`: identical after removing whitespace, or equal under math-verify.

  Args:
    timeout_s: math-verify's per-parse and per-comparison limit (whole seconds; signal based).
  """

  def __init__(self, timeout_s: int = 5):
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int) or timeout_s < 1:
      raise ValueError(f"timeout_s={timeout_s!r} must be an int >= 1 (math-verify takes whole seconds)")
    self.timeout_s = timeout_s
    self._parsed: dict[str, Any] = {}
    logging.getLogger("math_verify").setLevel(logging.ERROR)

  def _parse(self, answer: str) -> Any:
    if answer not in self._parsed:
      from math_verify import parse

      self._parsed[answer] = parse(_as_latex(answer), parsing_timeout=self.timeout_s)
    return self._parsed[answer]

  def __call__(self, a: str, b: str) -> bool:
    if _compact(a) == _compact(b):
      return True
    from math_verify import verify

    left, right = self._parse(a), self._parse(b)
    if not left or not right:
      return False
    return bool(verify(left, right, timeout_seconds=self.timeout_s))


def exact_equivalence(a: str, b: str) -> bool:
  """Identical after removing whitespace: for answers that are plain tokens (integers, choices)."""
  return _compact(a) == _compact(b)
