"""The optax optimizer of the policy: AdamW, warmup + constant/cosine schedule, global-norm clipping,
and a non-finite guard.

Schedule units (`optim.schedule_unit`): verl steps its learning-rate scheduler once per rollout step,
after all of the step's mini-batch updates, so its warm-up and cosine lengths count rollout steps and the
lr is constant within a rollout step ("rollout", the default: a recipe's `lr_warmup_steps` means the same
here as there; with warm-up, the first rollout step trains at lr 0, as verl's LambdaLR does). With
"optimizer" the schedule advances every update. The rollout step reaches the optimizer as an optax extra
argument (`tx.update(..., rollout_step=...)`), so the schedule is exact even across skipped updates.

`optax.apply_if_finite` skips an update whose gradients contain NaN/Inf (parameters and optimizer
state unchanged; the update step also poisons the gradient of a non-finite loss so it is skipped too) and
counts consecutive and total skips; the loop keeps the transform states of a skipped update, logs the
skip, and stops the run with a checkpoint after `max_consecutive_skips` consecutive ones
(tests/reliability/test_nonfinite_updates.py).
"""

from __future__ import annotations

import jax
import optax

from rlvr_jax.config._sections import OptimConfig


def learning_rate_schedule(config: OptimConfig) -> optax.Schedule:
  """lr as a function of the schedule step (a rollout step or an optimizer step, per `schedule_unit`)."""
  if config.schedule == "cosine":
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=config.lr, warmup_steps=config.warmup_steps,
        decay_steps=max(config.total_steps, config.warmup_steps + 1), end_value=config.lr * config.min_lr_ratio)
  if config.warmup_steps == 0:
    return optax.constant_schedule(config.lr)
  return optax.join_schedules(
      [optax.linear_schedule(0.0, config.lr, config.warmup_steps), optax.constant_schedule(config.lr)],
      [config.warmup_steps])


def learning_rate(config: OptimConfig, *, optimizer_step: int, rollout_step: int) -> float:
  """The lr of the update after `optimizer_step` updates, in rollout step `rollout_step` (for logs)."""
  step = rollout_step if config.schedule_unit == "rollout" else optimizer_step
  return float(learning_rate_schedule(config)(step))


def scale_by_rollout_schedule(schedule: optax.Schedule) -> optax.GradientTransformationExtraArgs:
  """Scales updates by -schedule(rollout_step), the rollout step passed as an extra argument."""

  def init(params):
    del params
    return optax.EmptyState()

  def update(updates, state, params=None, *, rollout_step=None, **extra_args):
    del params, extra_args
    if rollout_step is None:
      raise ValueError("an optimizer with optim.schedule_unit='rollout' needs tx.update(..., rollout_step=...)")
    lr = schedule(rollout_step)
    return jax.tree.map(lambda u: -lr * u, updates), state

  return optax.GradientTransformationExtraArgs(init, update)


def make_optimizer(config: OptimConfig) -> optax.GradientTransformation:
  """AdamW (decoupled weight decay scaled by the lr, as torch and optax.adamw) after global-norm clipping,
  inside a non-finite guard. Call `update` with `rollout_step=` (ignored for optimizer-step schedules)."""
  chain = []
  if config.grad_clip > 0:
    chain.append(optax.clip_by_global_norm(config.grad_clip))
  if config.schedule_unit == "rollout":
    chain += [optax.scale_by_adam(b1=config.b1, b2=config.b2, eps=config.eps),
              optax.add_decayed_weights(config.weight_decay),
              scale_by_rollout_schedule(learning_rate_schedule(config))]
  else:
    chain.append(optax.adamw(learning_rate_schedule(config), b1=config.b1, b2=config.b2, eps=config.eps,
                             weight_decay=config.weight_decay))
  # The loop stops the run long before this bound; it only keeps optax from ever applying a NaN step.
  return optax.apply_if_finite(optax.chain(*chain), max_consecutive_errors=2**30)
