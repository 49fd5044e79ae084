"""Hendrycks' MATH answer normalisation ("mathd"), as two graders the recipes use ship it.

* `normalize_answer`: the PRM800K copy, `verl/utils/reward_score/prime_math/math_normalize.py`
  (volcengine/verl @35101b5, `normalize_answer` / `_strip_string`); naive_dapo's first check.
* `normalize_answer_with_units`: entropy_math's copy, `recipe/entropy/reward_score/entropy_math/__init__.py`
  (volcengine/verl @b95e257b, `mathd_normalize_answer` / `_strip_string`), which adds matrix and
  inequality spellings, removal of a trailing `\\text{...}` unit and of MathQA unit words.

Both are transcribed step for step, including their failure mode: a step that raises (an unbalanced
`\\frac` at the end, two `\\text{ ` units) makes the whole normalisation return the stripped input, as
the reference's blanket `except` does. Pure string work; no timeouts needed.
"""

from __future__ import annotations

import re

# MathQA unit words that entropy_math removes when they stand alone (each also with a plural "s").
# Order matters (applied in sequence, twice); the strings are regex patterns, unescaped, as in the
# reference (so "q ." matches "q" + any character).
_UNIT_TEXTS = (
    "east", "degree", "mph", "kmph", "ft", "m square", " m east", "sq m", "deg", "mile", "q .", "monkey",
    "prime", "ratio", "profit of rs", "rd", "o", "gm", "p . m", "lb", "tile", "per", "dm", "lt", "gain",
    "ab", "way", "west", "a .", "b .", "c .", "d .", "e .", "f .", "g .", "h .", "t", "a", "h",
    "no change", "men", "soldier", "pie", "bc", "excess", "st", "inches", "noon", "percent", "by", "gal",
    "kmh", "c", "acre", "rise", "a . m", "th", "π r 2", "sq", "mark", "l", "toy", "coin", "sq . m",
    "gallon", "° f", "profit", "minw", "yr", "women", "feet", "am", "pm", "hr", "cu cm", "square",
    "v â € ™", "are", "rupee", "rounds", "cubic", "cc", "mtr", "s", "ohm", "number", "kmph", "day", "hour",
    "minute", "min", "second", "man", "woman", "sec", "cube", "mt", "sq inch", "mp", "∏ cm ³", "hectare",
    "more", "sec", "unit", "cu . m", "cm 2", "rs .", "rs", "kg", "g", "month", "km", "m", "cm", "mm",
    "apple", "liter", "loss", "yard", "pure", "year", "increase", "decrease", "d", "less", "Surface",
    "litre", "pi sq m", "s .", "metre", "meter", "inch",
)
_UNIT_PATTERNS = tuple(re.compile(r"(^|\W)" + unit + r"($|\W)")
                       for unit in _UNIT_TEXTS + tuple(unit + "s" for unit in _UNIT_TEXTS))
_ENCLOSING_TEXT = re.compile(r"^\\text\{(?P<text>.+?)\}$")
_TRAILING_TEXT = re.compile(r"\\text{.*?}$")
_ARRAY_BEGIN = re.compile(r"\\begin\{array\}\{.*?\}")
_ARRAY_END = re.compile(r"\\end\{array\}")


def _fix_fracs(string: str) -> str:
  """`\\frac12` -> `\\frac{1}{2}`, `\\frac1{72}` -> `\\frac{1}{72}`; a `\\frac` with one character after it
  leaves the string as it was; one with nothing after it raises (IndexError, as in the reference)."""
  pieces = string.split("\\frac")
  fixed = pieces[0]
  for piece in pieces[1:]:
    fixed += "\\frac"
    if piece[0] == "{":
      fixed += piece
      continue
    if len(piece) < 2:
      return string
    numerator, second, rest = piece[0], piece[1], piece[2:]
    if second != "{":
      fixed += "{" + numerator + "}{" + second + "}" + rest
    else:
      fixed += "{" + numerator + "}" + second + rest
  return fixed


def _fix_a_slash_b(string: str) -> str:
  """`3/4` -> `\\frac{3}{4}` when both sides are integers written canonically."""
  parts = string.split("/")
  if len(parts) != 2:
    return string
  try:
    numerator, denominator = int(parts[0]), int(parts[1])
  except ValueError:
    return string
  if string != f"{numerator}/{denominator}":
    return string
  return "\\frac{" + str(numerator) + "}{" + str(denominator) + "}"


def _remove_right_units(string: str) -> str:
  """Drops `\\text{ unit}` on the right; two such groups raise (reference: an assert)."""
  if "\\text{ " not in string:
    return string
  parts = string.split("\\text{ ")
  if len(parts) != 2:
    raise ValueError(f"more than one '\\text{{ ' unit in {string!r}")
  return parts[0]


def _fix_sqrt(string: str) -> str:
  """`\\sqrt3` -> `\\sqrt{3}`; a `\\sqrt` with nothing after it raises (IndexError, as in the reference)."""
  if "\\sqrt" not in string:
    return string
  pieces = string.split("\\sqrt")
  fixed = pieces[0]
  for piece in pieces[1:]:
    fixed += ("\\sqrt{" + piece[0] + "}" + piece[1:]) if piece[0] != "{" else ("\\sqrt" + piece)
  return fixed


def _remove_unit_words(string: str) -> str:
  """entropy_math: a trailing `\\text{...}` (unless it is everything), then MathQA unit words (twice)."""
  without_text = _TRAILING_TEXT.sub("", string).strip()
  if without_text != "" and without_text != string:
    string = without_text
  for _ in range(2):
    for pattern in _UNIT_PATTERNS:
      without_unit = pattern.sub(r"\1\2", string)
      if without_unit != "":
        string = without_unit
  return string


def _strip_string(string: str, *, with_units: bool) -> str:
  """Hendrycks' `_strip_string`; `with_units` adds entropy_math's extra steps at their positions."""
  string = string.replace("\n", "").replace("\\!", "").replace("\\\\", "\\")
  if with_units:
    string = _ARRAY_BEGIN.sub(r"\\begin{pmatrix}", string)
    string = _ARRAY_END.sub(r"\\end{pmatrix}", string)
    string = string.replace("bmatrix", "pmatrix")
  string = string.replace("tfrac", "frac").replace("dfrac", "frac")
  if with_units:
    string = string.replace("\\neq", "\\ne").replace("\\leq", "\\le").replace("\\geq", "\\ge")
  string = string.replace("\\left", "").replace("\\right", "")
  if with_units:
    string = _remove_unit_words(string)
  string = string.replace("^{\\circ}", "").replace("^\\circ", "")
  string = string.replace("\\$", "")
  string = _remove_right_units(string)
  string = string.replace("\\%", "")
  string = string.replace(" .", " 0.").replace("{.", "{0.")
  if not string:
    return string
  if string[0] == ".":
    string = "0" + string
  sides = string.split("=")
  if len(sides) == 2 and len(sides[0]) <= 2:  # "k = 5" -> "5"
    string = sides[1]
  string = _fix_sqrt(string)
  string = string.replace(" ", "")
  string = _fix_fracs(string)
  if string == "0.5":
    string = "\\frac{1}{2}"
  return _fix_a_slash_b(string)


def _normalize(answer: str | None, *, with_units: bool) -> str | None:
  if answer is None:
    return None
  answer = answer.strip()
  try:
    enclosed = _ENCLOSING_TEXT.search(answer)
    if enclosed is not None:
      answer = enclosed.group("text").strip()
    return _strip_string(answer, with_units=with_units)
  except Exception:  # noqa: BLE001 -- the reference returns the input on any failure; so do we
    return answer


def normalize_answer(answer: str | None) -> str | None:
  """PRM800K / prime_math `normalize_answer` (naive_dapo's mathd check)."""
  return _normalize(answer, with_units=False)


def normalize_answer_with_units(answer: str | None) -> str | None:
  """entropy_math `mathd_normalize_answer` (adds matrices, inequalities, unit words)."""
  return _normalize(answer, with_units=True)
