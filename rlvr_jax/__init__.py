"""rlvr_jax: reinforcement learning with verifiable rewards for Qwen-family models in JAX.

Subpackages:
  models      Flax NNX port of Qwen2 / Qwen2.5 / Qwen3, HF checkpoint I/O.
  sharding    device mesh and partition specs (training and sampling layouts).
  objectives  token statistics, advantages, PPO losses and entropy-control transforms.
"""

__version__ = "0.1.0"
