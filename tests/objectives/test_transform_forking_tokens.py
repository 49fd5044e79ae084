"""80/20 forking-token mask: ceil-style top-k per group, token-mean over the selected tokens only."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.objectives import build_objective
from rlvr_jax.objectives._batch import ObjectiveState, PPOClipParams, TokenBatch
from rlvr_jax.objectives.transforms.forking_tokens import ForkingTokens

MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0]], np.float32)
ENTROPY = np.array([[0.1, 2.0, 0.3, 1.5, 0.2, 0.05], [3.0, 0.0, 0.4, 9.0, 9.0, 9.0],
                    [0.7, 0.7, 0.1, 0.2, 9.0, 9.0]], np.float32)


def _batch(norm_group=(0, 0, 0), num_groups=1, adv=None, logp=None) -> TokenBatch:
  zeros = jnp.zeros(MASK.shape)
  return TokenBatch.create(response_mask=jnp.asarray(MASK),
                           advantages=zeros if adv is None else jnp.asarray(adv),
                           logp=zeros if logp is None else logp, old_logp=zeros,
                           entropy=jnp.asarray(ENTROPY), old_entropy=jnp.asarray(ENTROPY[::-1]),
                           norm_group=jnp.asarray(norm_group), num_norm_groups=num_groups)


@functools.partial(jax.jit, static_argnums=0)
def _keep_mask(transform, batch) -> jax.Array:
  state = ObjectiveState.initial(batch, PPOClipParams(), "token-mean")
  return transform.apply(batch, state, {}, None).loss_mask


def _keep(transform, batch) -> np.ndarray:
  return np.asarray(_keep_mask(transform, batch))


def test_top_ratio_uses_the_references_ceiling_rule():
  """13 valid tokens, rho 0.2 -> k = int(2.6 + 0.9999) = 3: entropies 3.0, 2.0, 1.5; padding (9.0) never."""
  keep = _keep(ForkingTokens(), _batch())
  expected = np.zeros_like(keep)
  expected[1, 0] = expected[0, 1] = expected[0, 3] = True
  np.testing.assert_array_equal(keep, expected)


def test_at_least_one_token_and_exact_multiples():
  """rho 0.01 on 13 tokens still keeps 1; rho 1.0 keeps every valid token."""
  assert _keep(ForkingTokens(top_ratio=0.01), _batch()).sum() == 1
  np.testing.assert_array_equal(_keep(ForkingTokens(top_ratio=1.0), _batch()), MASK > 0)


def test_micro_batch_scope_selects_per_group():
  """Per micro-batch: group {0} has 6 tokens -> k 2; group {1, 2} has 7 -> k 2."""
  keep = _keep(ForkingTokens(norm_scope="micro_batch"), _batch(norm_group=(0, 1, 1), num_groups=2))
  expected = np.zeros_like(keep)
  expected[0, 1] = expected[0, 3] = True
  expected[1, 0] = True
  expected[2, 0] = True  # tie 0.7 / 0.7 -> the earlier token
  np.testing.assert_array_equal(keep, expected)


def test_row_quantile_selection_is_sirens_per_response_variant():
  """selection='row_quantile': strictly above each row's 0.8 quantile."""
  keep = _keep(ForkingTokens(selection="row_quantile"), _batch())
  for i in range(3):
    row = ENTROPY[i][MASK[i] > 0]
    expected = (ENTROPY[i] > np.quantile(row, 0.8)) & (MASK[i] > 0)
    np.testing.assert_array_equal(keep[i], expected)


def test_old_entropy_source_reads_the_rollout_entropy():
  """entropy_source='old' ranks by old_entropy instead of the current entropy."""
  batch = _batch()
  keep_old = _keep(ForkingTokens(entropy_source="old"), batch)
  keep_cur = _keep(ForkingTokens(), batch)
  assert not np.array_equal(keep_old, keep_cur)


def test_loss_is_token_mean_over_selected_tokens_only():
  """agg_loss(L, m * M): numerator and denominator both restricted to the forks."""
  adv = np.ones(MASK.shape, np.float32) * MASK
  logp = jnp.full(MASK.shape, -0.05)
  objective = build_objective({"transforms": ("fork_tokens",)})
  loss, metrics = jax.jit(objective.loss)(_batch(adv=adv, logp=logp), objective.init_state())
  assert float(loss) == pytest.approx(-np.exp(-0.05), rel=1e-5)  # every selected token: -A r
  assert float(metrics["fork_tokens/selected_frac"]) == pytest.approx(3 / 13)

  grad = jax.jit(jax.grad(lambda lp: objective.loss(_batch(adv=adv, logp=lp), objective.init_state())[0]))(logp)
  assert int((np.asarray(grad) != 0).sum()) == 3
