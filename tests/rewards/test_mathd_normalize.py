"""Hendrycks / PRM800K answer normalisation ("mathd"), in naive_dapo's copy and entropy_math's copy
with units: hand-worked cases and parity with literal transcriptions of both references."""

from __future__ import annotations

import re

import pytest

from rlvr_jax.rewards._mathd_normalize import normalize_answer, normalize_answer_with_units

# --- literal transcription: verl/utils/reward_score/prime_math/math_normalize.py (volcengine/verl @35101b5),
# with entropy_math's additions (recipe/entropy/reward_score/entropy_math/__init__.py @b95e257b) behind
# `units` at the places they appear there. -------------------------------------------------------------

_REF_UNIT_TEXTS = [
    "east", "degree", "mph", "kmph", "ft", "m square", " m east", "sq m", "deg", "mile", "q .", "monkey",
    "prime", "ratio", "profit of rs", "rd", "o", "gm", "p . m", "lb", "tile", "per", "dm", "lt", "gain",
    "ab", "way", "west", "a .", "b .", "c .", "d .", "e .", "f .", "g .", "h .", "t", "a", "h", "no change",
    "men", "soldier", "pie", "bc", "excess", "st", "inches", "noon", "percent", "by", "gal", "kmh", "c",
    "acre", "rise", "a . m", "th", "π r 2", "sq", "mark", "l", "toy", "coin", "sq . m", "gallon", "° f",
    "profit", "minw", "yr", "women", "feet", "am", "pm", "hr", "cu cm", "square", "v â € ™", "are",
    "rupee", "rounds", "cubic", "cc", "mtr", "s", "ohm", "number", "kmph", "day", "hour", "minute", "min",
    "second", "man", "woman", "sec", "cube", "mt", "sq inch", "mp", "∏ cm ³", "hectare", "more", "sec",
    "unit", "cu . m", "cm 2", "rs .", "rs", "kg", "g", "month", "km", "m", "cm", "mm", "apple", "liter",
    "loss", "yard", "pure", "year", "increase", "decrease", "d", "less", "Surface", "litre", "pi sq m",
    "s .", "metre", "meter", "inch",
]
_REF_UNIT_TEXTS.extend([t + "s" for t in _REF_UNIT_TEXTS])


def _ref_normalize_answer(answer, units):
  if answer is None:
    return None
  answer = answer.strip()
  try:
    m = re.search("^\\\\text\\{(?P<text>.+?)\\}$", answer)
    if m is not None:
      answer = m.group("text").strip()
    return _ref_strip_string(answer, units)
  except:  # noqa: E722
    return answer


def _ref_fix_fracs(string):
  substrs = string.split("\\frac")
  new_str = substrs[0]
  if len(substrs) > 1:
    substrs = substrs[1:]
    for substr in substrs:
      new_str += "\\frac"
      if substr[0] == "{":
        new_str += substr
      else:
        try:
          assert len(substr) >= 2
        except:  # noqa: E722
          return string
        a = substr[0]
        b = substr[1]
        if b != "{":
          if len(substr) > 2:
            post_substr = substr[2:]
            new_str += "{" + a + "}{" + b + "}" + post_substr
          else:
            new_str += "{" + a + "}{" + b + "}"
        else:
          if len(substr) > 2:
            post_substr = substr[2:]
            new_str += "{" + a + "}" + b + post_substr
          else:
            new_str += "{" + a + "}" + b
  string = new_str
  return string


def _ref_fix_a_slash_b(string):
  if len(string.split("/")) != 2:
    return string
  a = string.split("/")[0]
  b = string.split("/")[1]
  try:
    a = int(a)
    b = int(b)
    assert string == "{}/{}".format(a, b)
    new_string = "\\frac{" + str(a) + "}{" + str(b) + "}"
    return new_string
  except:  # noqa: E722
    return string


def _ref_remove_right_units(string):
  if "\\text{ " in string:
    splits = string.split("\\text{ ")
    assert len(splits) == 2
    return splits[0]
  else:
    return string


def _ref_fix_sqrt(string):
  if "\\sqrt" not in string:
    return string
  splits = string.split("\\sqrt")
  new_string = splits[0]
  for split in splits[1:]:
    if split[0] != "{":
      a = split[0]
      new_substr = "\\sqrt{" + a + "}" + split[1:]
    else:
      new_substr = "\\sqrt" + split
    new_string += new_substr
  return new_string


def _ref_strip_string(string, units):
  string = string.replace("\n", "")
  string = string.replace("\\!", "")
  string = string.replace("\\\\", "\\")
  if units:
    string = re.sub(r"\\begin\{array\}\{.*?\}", r"\\begin{pmatrix}", string)
    string = re.sub(r"\\end\{array\}", r"\\end{pmatrix}", string)
    string = string.replace("bmatrix", "pmatrix")
  string = string.replace("tfrac", "frac")
  string = string.replace("dfrac", "frac")
  if units:
    string = string.replace("\\neq", "\\ne").replace("\\leq", "\\le").replace("\\geq", "\\ge")
  string = string.replace("\\left", "")
  string = string.replace("\\right", "")
  if units:
    _string = re.sub(r"\\text{.*?}$", "", string).strip()
    if _string != "" and _string != string:
      string = _string
    for _ in range(2):
      for unit_text in _REF_UNIT_TEXTS:
        _string = re.sub(r"(^|\W)" + unit_text + r"($|\W)", r"\1\2", string)
        if _string != "":
          string = _string
  string = string.replace("^{\\circ}", "")
  string = string.replace("^\\circ", "")
  string = string.replace("\\$", "")
  string = _ref_remove_right_units(string)
  string = string.replace("\\%", "")
  string = string.replace("\\%", "")
  string = string.replace(" .", " 0.")
  string = string.replace("{.", "{0.")
  if len(string) == 0:
    return string
  if string[0] == ".":
    string = "0" + string
  if len(string.split("=")) == 2:
    if len(string.split("=")[0]) <= 2:
      string = string.split("=")[1]
  string = _ref_fix_sqrt(string)
  string = string.replace(" ", "")
  string = _ref_fix_fracs(string)
  if string == "0.5":
    string = "\\frac{1}{2}"
  string = _ref_fix_a_slash_b(string)
  return string


# --- hand-worked cases ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("\\frac12", "\\frac{1}{2}"),
    ("\\dfrac{1}{2}", "\\frac{1}{2}"),
    ("\\frac1{72}", "\\frac{1}{72}"),
    ("0.5", "\\frac{1}{2}"),
    (".5", "\\frac{1}{2}"),                 # "." gets a leading 0 first
    ("3/4", "\\frac{3}{4}"),
    ("1,000", "1,000"),                     # commas stay (mathd has no number handling)
    ("x = 5", "5"),                         # short left-hand side dropped
    ("xyz = 5", "xyz=5"),                   # a longer one is kept
    ("5 \\text{ cm}", "5"),                 # right-hand unit after "\text{ "
    ("\\text{Monday}", "Monday"),           # enclosing \text{} removed
    ("50\\%", "50"),
    ("90^\\circ", "90"),
    ("\\left( 1, 2 \\right)", "(1,2)"),
    ("\\sqrt3", "\\sqrt{3}"),
    ("2\\sqrt", "2\\sqrt"),                 # the step raises (nothing after \sqrt): input returned
    ("\\frac", "\\frac"),                   # same for a bare \frac
    ("1\\text{ a}\\text{ b}", "1\\text{ a}\\text{ b}"),  # two units: the step raises, input returned
    ("  7 \n", "7"),
])
def test_normalize_answer(raw, expected):
  """naive_dapo's mathd normalisation (PRM800K)."""
  assert normalize_answer(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("5 cm", "5"),                          # MathQA unit word
    ("12 apples", "12"),
    ("(c)", "()"),                          # single-letter "units" go too (reference quirk)
    ("(C)", "(C)"),                         # case-sensitive
    ("5 \\text{meters}", "5"),              # trailing \text{...} removed
    ("\\text{meters}", "meters"),           # ... unless it is all there is
    ("x \\leq 3", "x\\le3"),
    ("\\begin{bmatrix}1\\end{bmatrix}", "\\begin{pmatrix}1\\end{pmatrix}"),
    ("\\frac12", "\\frac{1}{2}"),
])
def test_normalize_answer_with_units(raw, expected):
  """entropy_math's mathd normalisation adds units, inequalities and matrices."""
  assert normalize_answer_with_units(raw) == expected


def test_none_passes_through():
  """A missing answer stays missing (the references return None)."""
  assert normalize_answer(None) is None and normalize_answer_with_units(None) is None


_PARITY_INPUTS = [
    "\\frac12", "\\frac{1}{2}", "\\frac1{2}", "\\frac{1}2", "\\fracab c", "\\frac", "\\frac1", "1\\frac",
    "\\tfrac{3}{4}", "\\dfrac34", "0.5", ".5", " .5", "{.5}", "3/4", "-3/4", "+3/4", "3/ 4", "1/2/3",
    "x = 5", "k=3", "abc = 3", "a=b=c", "1,000", "\\$1,000", "5\\%", "5\\% ", "30^\\circ", "30^{\\circ}",
    "\\left[1, 2\\right)", "\\sqrt2", "\\sqrt{2}", "2\\sqrt", "\\sqrt2\\sqrt3", "5\\text{ cm}",
    "5\\text{ cm}\\text{ m}", "\\text{ cm}", "\\text{(A)}", "\\text{}", "\\text{Monday}", "5\\!000",
    "1\\\\2", "x\n+1", "", "   ", "\\begin{array}{cc}1&2\\end{array}", "\\begin{bmatrix}1\\end{bmatrix}",
    "x \\neq 2", "x\\geq 1", "12 apples", "12 meters", "12 m", "a . m", "(a)", "(b)", "(A)", "5 km/h",
    "10 sq m", "3 ft", "π r 2 cm", "profit of rs 50", "° f 32", "no change", "5 \\text{ dollars}",
    "\\text{5 dollars}", "7 days", "2 hours 30 minutes", "4 inches", "\\frac{\\sqrt{3}}{2}", "１/２",
    "1_000/2", "∞", "\\infty", "2^{10}", "(1,2)", "[3,4]", "x^2+1", "\\{1,2\\}", "\\pi", "5\\text{m}",
]


@pytest.mark.parametrize("raw", _PARITY_INPUTS)
def test_parity_with_reference_transcriptions(raw):
  """Both variants equal the transcribed references on tricky inputs."""
  assert normalize_answer(raw) == _ref_normalize_answer(raw, units=False)
  assert normalize_answer_with_units(raw) == _ref_normalize_answer(raw, units=True)
