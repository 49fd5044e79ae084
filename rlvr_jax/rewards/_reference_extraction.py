"""The box extraction of two ported graders, kept to their exact rules (which differ from
`extraction.last_boxed` and from each other in ways that change rewards). Plain string scanning; runs
in the trainer process, so a completion without an answer never reaches a verifier worker.
"""

from __future__ import annotations

from rlvr_jax.rewards._extraction import brace_end


def entropy_math_answer(passage: str) -> str | None:
  """entropy_math `extract_answer` (volcengine/verl @b95e257b, recipe/entropy/reward_score/entropy_math).

  Content of the last `\\boxed{...}` of the whole passage, verbatim (not stripped, may be empty). None
  when the passage has no `\\boxed`, when the last `\\boxed` is not directly followed by `{` (`\\boxed 5`,
  `\\boxed {5}`), or when its braces never close. `\\fbox` never counts: the reference returns early
  unless "\\boxed" occurs, and then looks only for the last "\\boxed" (its `\\fbox` fallback is
  unreachable), so `\\boxed{3} ... \\fbox{5}` gives "3".
  """
  start = passage.rfind("\\boxed")
  if start < 0:
    return None
  end = brace_end(passage, start)
  if end is None or not passage.startswith("\\boxed{", start):
    return None
  return passage[start + len("\\boxed{"):end]


def naive_dapo_answer(response: str) -> tuple[bool, str]:
  """naive_dapo `match_answer` (Beyond-the-80-20-Rule-RLVR @097092a, verl/utils/reward_score/naive_dapo.py).

  Looks after the last `</think>` only. (True, content) for the last `\\boxed` -- else, only when there is
  no `\\boxed` at all, the last `\\fbox` -- taking the first brace group after it (so `\\boxed {5}` and
  `\\boxed 5 {x}` give "5" and "x"), stripped. When there is no such group or it is empty:
  (False, the whole text after `</think>`), which the reference then grades as if it were the answer.
  """
  response = response.split("</think>")[-1]
  start = response.rfind("\\boxed")
  if start < 0:
    start = response.rfind("\\fbox")
  if start < 0:
    return False, response
  opening = response.find("{", start)
  end = brace_end(response, start)
  if opening < 0 or end is None:
    return False, response
  content = response[opening + 1:end].strip()
  return (True, content) if content else (False, response)
