"""verl's `math_dapo` scorer: `math_dapo` (the DAPO recipe's "Answer:" match) and `math_dapo_strict`
(STEER's training scorer, the strict last-box check).

Reference: volcengine/verl @012542c4, `verl/utils/reward_score/math_dapo.py`, `compute_score` (strict
default False) / `is_correct_minerva` / `is_correct_strict_box` / `normalize_final_answer`; STEER's copy
zz-haooo/STEER @b31df71 (same file) is identical except `strict_box_verify=True` by default (L239), and
STEER routes `data_source == "math_dapo"` to it without arguments (`reward_score/__init__.py` L62-69).

* `math_dapo`: the last "Answer: ..." line (`(?i)Answer\\s*:\\s*([^\\n]+)`, last match) within the final 300
  characters of the completion is normalised Minerva-style (lm-evaluation-harness `hendrycks_math`
  rules) and compared with the normalised reference. A boxed answer alone does not count, because the
  DAPO prompt asks for an "Answer:" line; use a prompt that does (DAPO-Math-17k's own prompt, via the
  `raw` or `chat_template` template).
* `math_dapo_strict`: the last `\\boxed{...}` (brace-matched) within the final 100 characters (of the 300),
  compared verbatim with the unnormalised reference: no stripping, no normalisation; `\\fbox`,
  `\\boxed 5`, `\\boxed {5}` or a box before the last 100 characters are wrong.

verl scores +1 / -1 (STEER too); set `RewardConfig(correct=1.0, incorrect=-1.0)` for that. No worker
pool: plain string operations on at most 300 characters cannot hang.

Deviation (unreachable in practice): where there is no answer verl compares its placeholder "[INVALID]"
with the reference (normalised in the default mode), so a reference that is (or normalises to) the
literal "[INVALID]" would score correct there; here a missing answer is always wrong. `extracted` is
None where verl's `pred` is "[INVALID]". verl's `pause_tokens_index` option is not ported (no recipe
uses it).
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from rlvr_jax.rewards._base import RewardConfig, RewardResult, StatelessReward, check_batch, score
from rlvr_jax.rewards._registry import REWARDS

_TAIL_CHARS = 300  # verl: "the longest answer in MATH-500 has 159 characters"
_STRICT_TAIL_CHARS = 100
_ANSWER_LINE = re.compile(r"(?i)Answer\s*:\s*([^\n]+)")

# Minerva normalisation tables (applied in this order, as plain substring replacements).
_SUBSTITUTIONS = (
    ("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), ("\\ ", ""), (" ", ""), ("mbox", "text"),
    (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}"),
)
_REMOVED = (
    "square", "ways", "integers", "dollars", "mph", "inches", "hours", "km", "units", "\\ldots", "sue",
    "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters", "meals",
    "edges", "students", "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}",
    "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}", "\\mathrm{th}", "^\\circ", "^{\\circ}", "\\;",
    ",\\!", "{,}", '"', "\\dots",
)
# (pattern, replacement) rewrites after the tables: keep the math inside $...$, unwrap text-like
# commands, expand shorthand \fracab / \sqrta.
_REWRITES = (
    (re.compile(r"(.*?)(\$)(.*?)(\$)(.*)"), "$\\3$"),
    (re.compile(r"(\\text\{)(.*?)(\})"), "\\2"),
    (re.compile(r"(\\textbf\{)(.*?)(\})"), "\\2"),
    (re.compile(r"(\\overline\{)(.*?)(\})"), "\\2"),
    (re.compile(r"(\\boxed\{)(.*)(\})"), "\\2"),
    (re.compile(r"(frac)([^{])(.)"), "frac{\\2}{\\3}"),
    (re.compile(r"(sqrt)([^{])"), "sqrt{\\2}"),
)


def normalize_final_answer(answer: str) -> str:
  """Minerva normalisation: right-hand side of the last '=', units and spacing removed, LaTeX
  shorthand expanded, '$' dropped, thousands separators removed from plain integers."""
  answer = answer.split("=")[-1]
  for before, after in _SUBSTITUTIONS:
    answer = answer.replace(before, after)
  for removed in _REMOVED:
    answer = answer.replace(removed, "")
  for pattern, replacement in _REWRITES:
    answer = pattern.sub(replacement, answer)
  answer = answer.replace("$", "")
  if answer.replace(",", "").isdigit():
    answer = answer.replace(",", "")
  return answer.strip()


def _last_boxed_verbatim(text: str) -> str | None:
  """Content of the last `\\boxed{` group (brace-matched); None if absent or unclosed. Unlike
  `extraction.last_boxed`, nothing is stripped and no other box command counts (verl's strict mode)."""
  start = text.rfind("\\boxed{")
  if start < 0:
    return None
  depth = 0
  for i in range(start + len("\\boxed"), len(text)):
    depth += {"{": 1, "}": -1}.get(text[i], 0)
    if depth == 0:
      return text[start + len("\\boxed{"):i]
  return None


def dapo_prediction(completion: str, *, strict_box: bool = False) -> str | None:
  """The answer math_dapo compares: the normalised last 'Answer:' line of the last 300 characters
  (or, with `strict_box`, the verbatim last box of the last 100); None when there is none."""
  tail = completion[-_TAIL_CHARS:]
  if strict_box:
    return _last_boxed_verbatim(tail[-_STRICT_TAIL_CHARS:])
  matches = _ANSWER_LINE.findall(tail)
  return normalize_final_answer(matches[-1]) if matches else None


@REWARDS.register("math_dapo")
class MathDapoReward(StatelessReward):
  """verl `math_dapo.compute_score` over a batch; `correct` is its `acc`.

  Args:
    config: reward values (verl: correct 1, incorrect -1); `format_weight` is paid for a present
      answer in the scorer's own format (an 'Answer:' line, or a box in strict mode).
    strict_box: verl's `strict_box_verify` (off by default as in upstream verl and the DAPO recipe;
      STEER's default is on: the `math_dapo_strict` entry).
  """

  def __init__(self, config: RewardConfig | None = None, *, strict_box: bool = False):
    super().__init__(config)
    self.strict_box = strict_box

  def __call__(self, completions: Sequence[str], answers: Sequence[str]) -> RewardResult:
    check_batch(completions, answers)
    predictions = tuple(dapo_prediction(c, strict_box=self.strict_box) for c in completions)
    references = [str(a) if self.strict_box else normalize_final_answer(str(a)) for a in answers]
    correct = np.asarray([p is not None and p == r for p, r in zip(predictions, references)], bool)
    has_answer = np.asarray([p is not None for p in predictions], bool)
    metrics = {"correct": int(correct.sum()), "no_answer": int((~has_answer).sum()), "timeouts": 0,
               "crashes": 0, "errors": 0}
    return RewardResult(scores=score(correct, has_answer, self.config), correct=correct,
                        extracted=predictions, metrics=metrics)


@REWARDS.register("math_dapo_strict")
class MathDapoStrictReward(MathDapoReward):
  """STEER's training reward: verl `math_dapo.compute_score` with `strict_box_verify=True` (STEER's
  default, math_dapo.py L239 @b31df71): last `\\boxed{}` in the final 100 characters, verbatim equality
  with the raw reference. STEER's values are +1 / -1: `RewardConfig(correct=1.0, incorrect=-1.0)`."""

  def __init__(self, config: RewardConfig | None = None):
    super().__init__(config, strict_box=True)
