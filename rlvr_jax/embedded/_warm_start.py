"""Supervised warm start of the embedded default's tiny policy on the built-in task.

RL needs a policy that already succeeds sometimes (a group with all-zero rewards has zero advantage).
Real runs start from a pretrained checkpoint; the embedded default instead trains its random tiny Qwen
for a few hundred steps of next-token cross-entropy on worked examples, writes the result as an HF
directory (the same format `--config.model.path` takes), and caches it, keyed by everything that
determines it, so later runs skip this phase.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from rlvr_jax.objectives._completion_stats import completion_statistics


def cache_key(settings: dict[str, Any]) -> str:
  return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def default_cache_dir() -> str:
  return os.environ.get("RLVR_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "rlvr_jax"))


def supervised_warm_start(model: nnx.Module, prompt_ids: np.ndarray, prompt_mask: np.ndarray,
                          target_ids: np.ndarray, target_mask: np.ndarray, *, steps: int, lr: float,
                          batch_size: int, seed: int, weight_decay: float = 0.0, b2: float = 0.999,
                          log_every: int = 0) -> tuple[nnx.Module, list[float]]:
  """Minimizes mean -log p(target | prompt) over random mini-batches; returns the model and losses.

  AdamW (`weight_decay`, second-moment decay `b2`) on a warmup-cosine schedule: 5% warmup to `lr`, then
  cosine decay to lr / 10 at `steps`.

  prompt_ids/mask: [E, P] left-padded; target_ids/mask: [E, N] right-padded.
  """
  graphdef, params = nnx.split(model, nnx.Param)
  tx = optax.adamw(optax.warmup_cosine_decay_schedule(0.0, lr, max(steps // 20, 1), max(steps, 2), lr * 0.1),
                   b2=b2, weight_decay=weight_decay)
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state, p_ids, p_mask, t_ids, t_mask):
    def loss_fn(params):
      stats = completion_statistics(nnx.merge(graphdef, params), p_ids, p_mask, t_ids, t_mask,
                                    temperature=1.0, chunk_size=1024, with_entropy=False)
      return -jnp.sum(stats.logp * t_mask) / jnp.maximum(jnp.sum(t_mask), 1.0)

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  rng = np.random.default_rng(seed)
  losses = []
  for i in range(steps):
    rows = rng.integers(0, prompt_ids.shape[0], batch_size)
    params, opt_state, loss = step(params, opt_state, prompt_ids[rows], prompt_mask[rows], target_ids[rows],
                                   target_mask[rows].astype(np.float32))
    losses.append(float(loss))
    if log_every and (i + 1) % log_every == 0:
      print(f"  warm start step {i + 1}/{steps}: loss {np.mean(losses[-log_every:]):.3f}", flush=True)
  return nnx.merge(graphdef, params), losses
