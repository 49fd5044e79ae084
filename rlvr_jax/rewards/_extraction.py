"""Finding the final answer in a completion: the last `\\boxed{...}` (brace-matched, so nested LaTeX such
as `\\boxed{\\frac{1}{2}}` survives), else the common plain-text conventions.

This runs in the trainer process and is cheap string scanning; only the symbolic comparison of what
it finds goes to the verifier workers. A completion with nothing extractable is "no answer" and never
reaches a worker.
"""

from __future__ import annotations

import re

_BOX_COMMANDS = ("\\boxed", "\\fbox")
# Plain-text fallbacks, tried in order; the last match in the completion wins.
_FALLBACKS = (
    # "... the answer is 12. Then ..." stops at the sentence end; a decimal point ("3.5") is no end.
    re.compile(r"answer is[:\s]*\$?([^\n$]+?)\$?\s*(?:\.(?=\s)|\.?$)", re.IGNORECASE | re.MULTILINE),
    re.compile(r"^\s*\**answer\**\s*:\s*\$?([^\n$]+?)\$?\s*(?:\.\s*)?$", re.IGNORECASE | re.MULTILINE),
    re.compile(r"^\s*####\s*([^\n]+?)\s*$", re.MULTILINE),
)


def brace_end(text: str, start: int) -> int | None:
  """Index of the '}' that closes the first '{' at or after `start`, or None if it never closes (also the
  ported graders' scan, rewards/_reference_extraction.py)."""
  depth = 0
  for i in range(start, len(text)):
    if text[i] == "{":
      depth += 1
    elif text[i] == "}":
      depth -= 1
      if depth == 0:
        return i
  return None


def last_boxed(text: str) -> str | None:
  """Content of the last `\\boxed{...}` / `\\fbox{...}` (or `\\boxed 5`); None if absent, empty, unclosed."""
  start = max(text.rfind(command) for command in _BOX_COMMANDS)
  if start < 0:
    return None
  command = next(c for c in _BOX_COMMANDS if text.startswith(c, start))
  rest = start + len(command)
  while rest < len(text) and text[rest] == " ":
    rest += 1
  if rest < len(text) and text[rest] == "{":
    end = brace_end(text, rest)
    content = None if end is None else text[rest + 1:end]
  elif rest > start + len(command):  # "\boxed 5": up to the next whitespace or '$'
    content = re.match(r"[^\s$]*", text[rest:]).group(0)
  else:
    content = None
  if content is None or not content.strip():
    return None
  return content.strip()


def fallback_answer(text: str) -> str | None:
  """'The answer is 5.', 'Answer: 5', '#### 5' (last occurrence of the first convention that matches)."""
  for pattern in _FALLBACKS:
    matches = pattern.findall(text)
    if matches and matches[-1].strip():
      return matches[-1].strip()
  return None


def extract_answer(text: str, *, fallbacks: bool = True) -> str | None:
  """The final answer of a completion: last boxed content, else (if `fallbacks`) a plain-text form."""
  boxed = last_boxed(text)
  if boxed is not None or not fallbacks:
    return boxed
  return fallback_answer(text)
