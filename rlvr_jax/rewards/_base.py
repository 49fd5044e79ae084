"""The reward interface shared by every entry of `REWARDS`.

A reward is built once from a `RewardConfig` (it may own resources: the math verifier owns a process
pool), called once per rollout batch on host strings, and closed at the end of the run.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Protocol, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class RewardConfig:
  """Reward values and verifier resources, shared by every reward so the config names one set of fields.

  Attributes:
    correct: score of a verified answer (1.0; STEER's math_dapo convention is +1).
    incorrect: score of everything else: wrong, missing, timed-out or crashed (0.0; STEER uses -1).
    format_weight: bonus added when the completion holds a non-empty `\\boxed{}` answer (0 = off).
    timeout_s: wall-clock limit per verified sample (math_verify).
    workers: verifier processes (math_verify).
    fallbacks: also accept plain-text answers ('The answer is 5') when there is no box.
  """

  correct: float = 1.0
  incorrect: float = 0.0
  format_weight: float = 0.0
  timeout_s: float = 10.0
  workers: int = 2
  fallbacks: bool = True

  def __post_init__(self):
    for name in ("correct", "incorrect", "format_weight", "timeout_s"):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"reward.{name}={value!r} must be a finite number")
    if self.timeout_s <= 0:
      raise ValueError(f"reward.timeout_s={self.timeout_s!r} must be > 0")
    if not isinstance(self.workers, int) or isinstance(self.workers, bool) or self.workers < 1:
      raise ValueError(f"reward.workers={self.workers!r} must be an int >= 1")


@dataclasses.dataclass(frozen=True)
class RewardResult:
  """Scores of one batch.

  Attributes:
    scores: [B] float32 reward per completion.
    correct: [B] bool, the verifier's verdict (independent of the reward values; for accuracy metrics).
    extracted: B extracted answers (None where there was none), e.g. for majority voting.
    metrics: counts over the batch: correct, no_answer, timeouts, crashes, errors.
  """

  scores: np.ndarray
  correct: np.ndarray
  extracted: tuple[str | None, ...]
  metrics: dict[str, int]


class RewardFn(Protocol):

  def __call__(self, completions: Sequence[str], answers: Sequence[str]) -> RewardResult:
    ...

  def close(self) -> None:
    ...


def check_batch(completions: Sequence[str], answers: Sequence[str]) -> None:
  if len(completions) != len(answers):
    raise ValueError(f"reward: {len(completions)} completions but {len(answers)} answers")


def score(correct: np.ndarray, boxed: np.ndarray, config: RewardConfig) -> np.ndarray:
  """[B] float32: correct/incorrect value plus the format bonus where the answer is boxed.

  The bonus follows the box, not the extraction: a plain-text fallback answer may still be verified as
  correct, but it does not follow the requested format, so it earns no format bonus.
  """
  base = np.where(correct, np.float32(config.correct), np.float32(config.incorrect))
  return (base + np.float32(config.format_weight) * boxed).astype(np.float32)


class StatelessReward:
  """Base for rewards that own no resources: `close()` is a no-op, context manager for symmetry."""

  def __init__(self, config: RewardConfig | None = None):
    self.config = config if config is not None else RewardConfig()

  def close(self) -> None:
    pass

  def __enter__(self):
    return self

  def __exit__(self, *exc) -> None:
    self.close()
