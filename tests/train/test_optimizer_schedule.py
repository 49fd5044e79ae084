"""Learning-rate schedules in verl's units: stepped once per rollout step (warm-up and cosine lengths in
rollout steps, lr constant within a step, lr 0 on the first warm-up step), exact across skipped updates."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from rlvr_jax.train._optimizer import OptimConfig, learning_rate, make_optimizer

LR = 1e-3


def _steps(config: OptimConfig, grads: list[dict], rollout_steps: list[int], params=None) -> list[np.ndarray]:
  """Parameter values after each update of `grads`, the update i in rollout step rollout_steps[i]."""
  tx = make_optimizer(config)
  params = params if params is not None else {"w": jnp.ones((3,))}
  state = tx.init(params)
  out = []
  for grad, rollout_step in zip(grads, rollout_steps):
    updates, state = tx.update(grad, state, params, rollout_step=jnp.asarray(rollout_step))
    params = optax.apply_updates(params, updates)
    out.append(np.asarray(params["w"]))
  return out


def test_warmup_counts_rollout_steps_and_starts_at_zero():
  """W = 2 rollout steps, 2 updates per step: steps 0 (lr 0, both updates), 1 (lr/2), 2 (lr)."""
  config = OptimConfig(lr=LR, warmup_steps=2, schedule_unit="rollout", weight_decay=0.0, grad_clip=0.0,
                       updates_per_rollout=2)
  assert [learning_rate(config, optimizer_step=u, rollout_step=r) for u, r in ((0, 0), (1, 0), (2, 1), (4, 2))] == [
      0.0, 0.0, pytest.approx(LR / 2), pytest.approx(LR)]
  grads = [{"w": jnp.full((3,), 0.5)}] * 6
  values = _steps(config, grads, [0, 0, 1, 1, 2, 2])
  np.testing.assert_array_equal(values[0], 1.0)  # rollout step 0 trains at lr 0 (Adam moments still move)
  np.testing.assert_array_equal(values[1], 1.0)
  # Adam's first steps move by ~lr * sign(g): lr/2 per update in rollout step 1, lr in step 2.
  np.testing.assert_allclose(1.0 - values[3], LR / 2 * 2, rtol=1e-3)
  np.testing.assert_allclose(values[3] - values[5], LR * 2, rtol=1e-3)


def test_optimizer_units_advance_every_update():
  config = OptimConfig(lr=LR, warmup_steps=4, schedule_unit="optimizer", updates_per_rollout=2)
  assert learning_rate(config, optimizer_step=2, rollout_step=1) == pytest.approx(LR / 2)
  assert learning_rate(config, optimizer_step=4, rollout_step=2) == pytest.approx(LR)


def test_skipped_updates_do_not_shift_a_rollout_schedule():
  """A non-finite gradient is skipped (parameters unchanged); the next rollout step still gets its own lr."""
  config = OptimConfig(lr=LR, warmup_steps=4, schedule_unit="rollout", weight_decay=0.0, grad_clip=0.0)
  good, bad = {"w": jnp.full((3,), 0.5)}, {"w": jnp.full((3,), jnp.nan)}
  clean = _steps(config, [good, good], [1, 2])
  skipped = _steps(config, [bad, good, good], [0, 1, 2])
  np.testing.assert_array_equal(skipped[0], 1.0)
  np.testing.assert_array_equal(skipped[2], clean[1])


def test_a_rollout_schedule_needs_the_rollout_step():
  config = OptimConfig(lr=LR, schedule_unit="rollout")
  tx = make_optimizer(config)
  params = {"w": jnp.ones((3,))}
  with pytest.raises(ValueError, match=r"schedule_unit='rollout' needs tx\.update\(\.\.\., rollout_step=\.\.\.\)"):
    tx.update(params, tx.init(params), params)


def test_rollout_schedule_equals_adamw():
  """The rollout-unit chain is optax.adamw with the lr of the rollout step (decoupled weight decay included)."""
  config = OptimConfig(lr=LR, schedule_unit="rollout", weight_decay=0.1, grad_clip=0.0)
  reference = optax.adamw(LR, weight_decay=0.1)
  params = {"w": jnp.linspace(-1.0, 1.0, 5)}
  grads = [{"w": jnp.sin(jnp.arange(5.0) + i)} for i in range(3)]
  ref_params, ref_state = params, reference.init(params)
  for grad in grads:
    updates, ref_state = reference.update(grad, ref_state, ref_params)
    ref_params = optax.apply_updates(ref_params, updates)
  ours = _steps(config, grads, [0, 1, 2], params)[-1]
  np.testing.assert_allclose(ours, np.asarray(jax.device_get(ref_params["w"])), rtol=1e-6, atol=1e-7)
