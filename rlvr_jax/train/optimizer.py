"""The optax optimizer of the policy: AdamW, warmup + constant/cosine schedule, global-norm clipping,
and a non-finite guard.

`optax.apply_if_finite` skips an update whose gradients contain NaN/Inf (parameters and optimizer
state unchanged; the update step also poisons the gradient of a non-finite loss so it is skipped too) and
counts consecutive and total skips; the loop keeps the transform states of a skipped update, logs the
skip, and stops the run with a checkpoint after `max_consecutive_skips` consecutive ones
(tests/reliability/test_nonfinite_updates.py).
"""

from __future__ import annotations

import dataclasses

import optax

SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass(frozen=True)
class OptimConfig:
  """Attributes mirror verl's actor optim section (lr 1e-6, wd 0.01, clip 1.0 by default)."""

  lr: float = 1e-6
  warmup_steps: int = 0
  schedule: str = "constant"
  total_steps: int = 1
  min_lr_ratio: float = 0.0
  weight_decay: float = 0.01
  b1: float = 0.9
  b2: float = 0.999
  eps: float = 1e-8
  grad_clip: float = 1.0
  max_consecutive_skips: int = 5

  def __post_init__(self):
    if not self.lr > 0:
      raise ValueError(f"optim.lr must be > 0, got {self.lr!r}")
    if self.schedule not in SCHEDULES:
      raise ValueError(f"optim.schedule={self.schedule!r}; known: {SCHEDULES}")
    if self.warmup_steps < 0 or self.total_steps < 1:
      raise ValueError(f"optim.warmup_steps={self.warmup_steps}, total_steps={self.total_steps}: "
                       "need warmup_steps >= 0 and total_steps >= 1")
    if self.grad_clip < 0 or self.weight_decay < 0:
      raise ValueError(f"optim.grad_clip={self.grad_clip}, weight_decay={self.weight_decay} must be >= 0")
    if self.max_consecutive_skips < 1:
      raise ValueError(f"optim.max_consecutive_skips must be >= 1, got {self.max_consecutive_skips}")


def learning_rate_schedule(config: OptimConfig) -> optax.Schedule:
  if config.schedule == "cosine":
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=config.lr, warmup_steps=config.warmup_steps,
        decay_steps=max(config.total_steps, config.warmup_steps + 1), end_value=config.lr * config.min_lr_ratio)
  if config.warmup_steps == 0:
    return optax.constant_schedule(config.lr)
  return optax.join_schedules(
      [optax.linear_schedule(0.0, config.lr, config.warmup_steps), optax.constant_schedule(config.lr)],
      [config.warmup_steps])


def make_optimizer(config: OptimConfig) -> optax.GradientTransformation:
  chain = []
  if config.grad_clip > 0:
    chain.append(optax.clip_by_global_norm(config.grad_clip))
  chain.append(optax.adamw(learning_rate_schedule(config), b1=config.b1, b2=config.b2, eps=config.eps,
                           weight_decay=config.weight_decay))
  # The loop stops the run long before this bound; it only keeps optax from ever applying a NaN step.
  return optax.apply_if_finite(optax.chain(*chain), max_consecutive_errors=2**30)
