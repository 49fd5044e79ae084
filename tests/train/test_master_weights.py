"""float32 master weights under bfloat16 compute: an lr 1e-6 AdamW step moves every weight.

Why the tolerance below: after one AdamW step from zero moments, each weight moves by
lr * m_hat / (sqrt(v_hat) + eps) = lr * g / (|g| + eps) ~ lr * sign(g) (plus the same weight decay in
both runs). A bfloat16 forward/backward changes the gradient only by bfloat16 rounding, so both runs
move each weight by the same ~lr except where that rounding flips the sign of a near-zero gradient
(|g| comparable to its rounding error or to eps). The two float32 results therefore differ by at most
2 * lr per weight -- the effect of a bfloat16-rounded *gradient* -- and never by a bfloat16 rounding of the
*weight* (half an ulp at |w| = 0.02 is 6e-5 = 60 * lr), which is what storing bfloat16 weights costs.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlvr_jax import models
from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._presets import method_preset
from rlvr_jax.train._optimizer import OptimConfig, make_optimizer
from rlvr_jax.objectives._rollout_batch import RolloutBatch
from rlvr_jax.train._state import create_train_state
from rlvr_jax.train._update import UpdateConfig, make_update_step

LR = 1e-6
ROWS, PROMPT, RESPONSE = 8, 6, 5
CONFIG = models.preset("tiny", num_layers=2, vocab_size=64, hidden_size=32, intermediate_size=64, num_heads=4,
                       num_kv_heads=2, head_dim=8)


def _batch(seed: int = 0) -> RolloutBatch:
  rng = np.random.default_rng(seed)
  response_mask = np.ones((ROWS, RESPONSE), np.float32)
  response_mask[1::2, 3:] = 0
  advantages = np.repeat(rng.normal(size=(ROWS, 1)), RESPONSE, axis=1).astype(np.float32) * response_mask
  return RolloutBatch(
      prompt_ids=jnp.asarray(rng.integers(0, 64, (ROWS, PROMPT)), jnp.int32),
      prompt_mask=jnp.ones((ROWS, PROMPT), jnp.int32),
      completion_ids=jnp.asarray(rng.integers(0, 64, (ROWS, RESPONSE)), jnp.int32),
      response_mask=jnp.asarray(response_mask), advantages=jnp.asarray(advantages),
      old_logp=jnp.full((ROWS, RESPONSE), -4.0, jnp.float32))


def _one_update(*, dtype, param_dtype) -> tuple[dict, dict]:
  """Parameters before and after one lr 1e-6 AdamW (weight decay 0.01) step, as float64 numpy."""
  model = models.init(CONFIG, key=jax.random.key(0), dtype=dtype, param_dtype=param_dtype)
  start = {name: np.asarray(value, np.float64) for name, value in models.flat_params(model)}
  objective = build_objective(method_preset("grpo"))
  tx = make_optimizer(OptimConfig(lr=LR, weight_decay=0.01))
  graphdef, state = create_train_state(model, tx, objective.init_state(), seed=0)
  step = jax.jit(make_update_step(graphdef, objective, tx, UpdateConfig(chunk_size=16)))
  state, metrics = step(state, _batch(), jax.random.key(1))
  assert float(metrics["actor/update_skipped"]) == 0.0
  leaves = jax.tree.leaves(state.params)
  assert all(leaf.dtype == jnp.dtype(param_dtype) for leaf in leaves)
  return start, {".".join(map(str, path)): np.asarray(v[...], np.float64)
                 for path, v in nnx.to_flat_state(state.params)}


@pytest.fixture(scope="module")
def float32_run():
  return _one_update(dtype=jnp.float32, param_dtype=jnp.float32)


def _changed(before: dict, after: dict) -> dict:
  return {name: after[name] != before[name] for name in before}


def test_bfloat16_compute_with_float32_masters_moves_every_weight(float32_run):
  start32, end32 = float32_run
  start16, end16 = _one_update(dtype=jnp.bfloat16, param_dtype=jnp.float32)
  for name in start32:  # same float32 starting point
    np.testing.assert_array_equal(start16[name], start32[name])
  changed32, changed16 = _changed(start32, end32), _changed(start16, end16)
  moved32 = sum(int(c.sum()) for c in changed32.values())
  moved_both = sum(int((changed32[n] & changed16[n]).sum()) for n in changed32)
  total = sum(c.size for c in changed32.values())
  assert moved32 > 0.95 * total  # every weight with a gradient moves in float32
  assert moved_both >= 0.99 * moved32, f"only {moved_both / moved32:.2%} of the float32 run's moved weights moved"
  worst = max(float(np.max(np.abs(end16[n] - end32[n]))) for n in end32)
  assert worst <= 2 * LR * 1.01, f"masters differ by {worst:.3g} > 2 lr: more than a bfloat16 gradient explains"


def test_bfloat16_stored_weights_lose_the_update(float32_run):
  """The failure the master weights prevent: stored in bfloat16, almost every lr 1e-6 step rounds away."""
  start32, end32 = float32_run
  start16, end16 = _one_update(dtype=jnp.bfloat16, param_dtype=jnp.bfloat16)
  changed32, changed16 = _changed(start32, end32), _changed(start16, end16)
  moved32 = sum(int(c.sum()) for c in changed32.values())
  moved16 = sum(int(c.sum()) for c in changed16.values())
  assert moved16 < 0.2 * moved32, f"{moved16} of {moved32} bfloat16-stored weights moved"
