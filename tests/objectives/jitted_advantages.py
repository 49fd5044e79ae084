"""`compute_advantages` as one compiled program per (estimator, hyperparameters, shapes), for the
advantage tests: run op by op, each estimator call compiled dozens of small programs."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from rlvr_jax.objectives.advantages import compute_advantages


@functools.partial(jax.jit, static_argnames=("name", "hparams"))
def _compiled(name, rewards, mask, groups, data, hparams):
  return compute_advantages(name, rewards, mask, groups, **data, **dict(hparams))


def jitted_advantages(name: str, rewards, mask, groups, **kwargs):
  """compute_advantages(name, rewards, mask, groups, **kwargs) under jit: array (and None) arguments are
  traced, the rest (hyperparameters) static."""
  data = {key: kwargs.pop(key) for key in list(kwargs) if kwargs[key] is None or isinstance(kwargs[key], jax.Array)}
  return _compiled(name, jnp.asarray(rewards), jnp.asarray(mask), jnp.asarray(groups), data,
                   tuple(sorted(kwargs.items())))
