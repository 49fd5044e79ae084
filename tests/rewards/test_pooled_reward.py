"""PooledReward, the base of the recipe rewards that grade in verifier workers: order, values, counts,
and a grader that hangs, crashes or raises costs one sample, never the batch.

The injected graders live at module level so the forkserver workers can import them by name.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from rlvr_jax.rewards import PooledReward, Prepared, RewardConfig


def behave(task):
  """(kind, value) -> a verdict: echo, sleep (hang), exit (crash), raise, or a (verdict, found) pair."""
  kind, value = task
  if kind == "sleep":
    time.sleep(60)
  elif kind == "exit":
    os._exit(3)
  elif kind == "raise":
    raise ValueError("grader bug")
  elif kind == "found":
    return True, value
  return value == "right"


class Toy(PooledReward):
  """Completions "kind:value"; "none" has nothing to grade; "worker" lets the worker report the answer."""

  grade_fn = behave

  def prepare(self, completion: str, answer: str) -> Prepared:
    kind, _, value = completion.partition(":")
    if kind == "none":
      return Prepared(task=None, extracted=None, formatted=False)
    if kind == "found":
      return Prepared(task=(kind, value), extracted=None, formatted=None)
    return Prepared(task=(kind, value), extracted=value, formatted=True)


@pytest.fixture(scope="module")
def toy():
  with Toy(RewardConfig(correct=1.0, incorrect=-1.0, format_weight=0.25, workers=2, timeout_s=2.0)) as r:
    yield r


def test_order_values_and_counts(toy):
  """Verdicts land in order; values and the format bonus come from the config."""
  result = toy(["echo:right", "none:", "echo:wrong", "found:42", "echo:right"], ["a"] * 5)
  np.testing.assert_array_equal(result.correct, [True, False, False, True, True])
  np.testing.assert_allclose(result.scores, [1.25, -1.0, -0.75, 1.25, 1.25])
  assert result.extracted == ("right", None, "wrong", "42", "right")
  assert result.metrics == {"correct": 3, "no_answer": 1, "timeouts": 0, "crashes": 0, "errors": 0}


def test_hang_crash_and_error_cost_one_sample_each(toy):
  """A hung, a crashing and a raising grade score `incorrect` and are counted; neighbours are scored."""
  start = time.monotonic()
  result = toy(["echo:right", "sleep:", "sleep:", "exit:", "raise:", "echo:right"], ["a"] * 6)
  assert time.monotonic() - start < 30
  np.testing.assert_array_equal(result.correct, [True, False, False, False, False, True])
  assert (result.metrics["timeouts"], result.metrics["crashes"], result.metrics["errors"]) == (2, 1, 1)
  assert toy(["echo:right"], ["a"]).correct.tolist() == [True]  # the pool recovered


def test_nothing_to_grade_starts_no_pool():
  """A batch without answers is scored without starting workers."""
  reward = Toy(RewardConfig())
  assert reward(["none:", "none:"], ["1", "2"]).scores.tolist() == [0.0, 0.0]
  assert reward._pool is None
  reward.close()
  reward.close()


def test_mismatched_lengths_raise():
  """Unequal numbers of completions and answers are a caller bug."""
  with pytest.raises(ValueError, match="2 completions but 1 answers"):
    Toy()(["a", "b"], ["1"])
