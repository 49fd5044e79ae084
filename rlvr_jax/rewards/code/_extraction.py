"""Finding the program in a completion: a fenced Markdown code block.

Models asked for "a ```python code block" often write several (a sketch, then the fix, or a usage
example after the solution), so which block counts is a setting; the default is the last one, the
model's final word. Only closed blocks count: an unclosed fence is a completion cut off by the length
limit, and running half a program would only turn a truncation into a misleading runtime error.
"""

from __future__ import annotations

import dataclasses
import re

# An opening fence: 3+ backticks, then an optional info string whose first word is the language.
_OPEN = re.compile(r"^[ \t]*(`{3,})[ \t]*([^\s`]*)[^`\n]*$")
_CLOSE = re.compile(r"^[ \t]*(`{3,})[ \t]*$")


@dataclasses.dataclass(frozen=True)
class CodeExtraction:
  """Which fenced blocks count as the program.

  Attributes:
    languages: accepted info-string languages, lower case; "" accepts untagged fences (```).
    block: "last" or "first" of the accepted, non-empty blocks.
  """

  languages: tuple[str, ...] = ("python", "py", "python3", "")
  block: str = "last"

  def __post_init__(self):
    if isinstance(self.languages, str):
      object.__setattr__(self, "languages", tuple(self.languages.split(",")))
    if not self.languages:
      raise ValueError("CodeExtraction.languages=() accepts no block; name at least one language")
    object.__setattr__(self, "languages", tuple(lang.strip().lower() for lang in self.languages))
    if self.block not in ("last", "first"):
      raise ValueError(f"CodeExtraction.block={self.block!r}; use 'last' or 'first'")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
  """(language, body) of every closed fenced block, in order; the language is lower case, "" if none.

  A closing fence needs at least as many backticks as its opening one, so a block may itself contain
  a shorter fence (a docstring showing Markdown).
  """
  blocks: list[tuple[str, str]] = []
  fence, language, body = "", "", []
  for line in text.split("\n"):
    if not fence:
      match = _OPEN.match(line)
      if match:
        fence, language, body = match.group(1), match.group(2).lower(), []
      continue
    match = _CLOSE.match(line)
    if match and len(match.group(1)) >= len(fence):
      blocks.append((language, "\n".join(body)))
      fence = ""
    else:
      body.append(line)
  return blocks


def extract_code(text: str, extraction: CodeExtraction = CodeExtraction()) -> str | None:
  """The program of a completion, or None when no accepted, closed, non-empty block exists."""
  bodies = [body for language, body in fenced_blocks(text)
            if language in extraction.languages and body.strip()]
  if not bodies:
    return None
  return bodies[-1] if extraction.block == "last" else bodies[0]
