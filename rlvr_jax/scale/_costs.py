"""Analytic FLOPs and HBM bytes of the run's programs, as functions of the architecture and the shapes.

Why not XLA's cost analysis: it counts a loop body once, and every program here loops (scanned layers,
the micro-batch `lax.map` / `lax.scan`, the scoring chunks, the decode `while_loop`), so its figures are
off by the trip counts. These formulas are checked against XLA's count on loop-free programs (an
unscanned model, no micro-batches: tests/scale/test_costs.py).

FLOPs (whole program call, all devices; einsum legend of `rlvr_jax.models._modules`: L layers, D hidden,
F MLP width, N query heads, K KV heads, H head dim, V vocabulary):
  forward of R rows x T tokens attending to S keys, with the LM head on T_lm tokens per row
      2 R T L (D N H + 2 D K H + N H D + 3 D F)      projections and SwiGLU MLP
    + 4 R T S L N H x c                              scores and weighted values; c = 1 on the XLA path
                                                     (it computes the whole [T, S] square), 1/2 for the
                                                     fused causal kernels (they skip masked blocks)
    + 2 R T_lm D V                                   LM head
  gradient = 3 x forward (the backward pass is two matmuls per forward matmul); remat adds one forward of
  the decoder blocks; the update step with k > 1 micro-batches adds the no-grad statistics pass (one
  forward) of `rlvr_jax.train._update`.
  Elementwise work (norms, RoPE, softmax, sampling) is left out: under 2% at the published shapes.

HBM bytes per device per call (a model, for the roofline's memory side): every pass reads the weights
it multiplies in the compute dtype, the tensor-parallel shard of them (FSDP all-gathers the rest);
decode steps read the KV cache of their rows; each decoder block writes and reads back its activations
once per forward (2 D + ((N + 2 K) H + N H + 3 F) / tensor elements per token), the XLA attention path
its float32 scores, the LM head its float32 logits; the backward pass moves twice the forward's
activations; the optimizer reads and writes the float32 parameters and Adam moments and reads the
gradients (7 x 4 B per parameter shard).
"""

from __future__ import annotations

import dataclasses

from rlvr_jax.models._config import QwenConfig

FUSED_CAUSAL_FRACTION = 0.5


@dataclasses.dataclass(frozen=True)
class Cost:
  """One program call: FLOPs over all devices and HBM bytes per device."""

  flops: float
  bytes_per_device: float

  def __add__(self, other: "Cost") -> "Cost":
    return Cost(self.flops + other.flops, self.bytes_per_device + other.bytes_per_device)

  def __mul__(self, k: float) -> "Cost":
    return Cost(self.flops * k, self.bytes_per_device * k)

  __rmul__ = __mul__


@dataclasses.dataclass(frozen=True)
class Layout:
  """How a program splits work over the mesh: devices, rows over data x fsdp, heads over tensor."""

  devices: int
  data_parallel: int
  tensor: int

  def split_rows(self, rows: int) -> int:
    """Rows per device (rows are replicated when they do not divide, as `sharding.fit_spec` does)."""
    return rows // self.data_parallel if rows % self.data_parallel == 0 else rows

  def split_heads(self, heads: int) -> int:
    return heads // self.tensor if heads % self.tensor == 0 else heads


def block_params(config: QwenConfig) -> int:
  """Matmul weights of one decoder block: q, k, v, o projections and the SwiGLU MLP."""
  c = config
  return c.hidden_size * c.head_dim * (2 * c.num_heads + 2 * c.num_kv_heads) + 3 * c.hidden_size * c.intermediate_size


def matmul_params(config: QwenConfig) -> int:
  """Every weight a forward pass multiplies: the blocks and the LM head (the embedding lookup is a gather)."""
  return config.num_layers * block_params(config) + config.vocab_size * config.hidden_size


def forward_flops(config: QwenConfig, rows: int, tokens: int, keys: int, *, lm_tokens: int,
                  causal_fraction: float = 1.0, with_lm_head: bool = True) -> float:
  """FLOPs of one forward pass (the module docstring's formula)."""
  c = config
  blocks = 2 * rows * tokens * c.num_layers * block_params(c)
  attention = 4 * rows * tokens * keys * c.num_layers * c.num_heads * c.head_dim * causal_fraction
  head = 2 * rows * lm_tokens * c.hidden_size * c.vocab_size if with_lm_head else 0
  return float(blocks + attention + head)


def _activation_bytes(config: QwenConfig, layout: Layout, rows: int, tokens: int, keys: int, lm_tokens: int,
                      itemsize: int, fused: bool) -> float:
  """Activation traffic of one forward pass, per device (written once, read back once)."""
  c = config
  rows_dev = layout.split_rows(rows)
  heads = layout.split_heads(c.num_heads)
  kv_heads = layout.split_heads(c.num_kv_heads)
  # Block input and output, q / k / v, attention output, gate / up / activated hidden units.
  per_token_layer = (2 * c.hidden_size + (2 * heads + 2 * kv_heads) * c.head_dim
                     + 3 * c.intermediate_size / layout.tensor)
  blocks = 2 * rows_dev * tokens * c.num_layers * per_token_layer * itemsize
  scores = 0 if fused else 2 * rows_dev * heads * tokens * keys * c.num_layers * 4
  logits = 2 * rows_dev * lm_tokens * (c.vocab_size / layout.tensor) * 4
  return float(blocks + scores + logits)


def _weight_bytes(config: QwenConfig, layout: Layout, itemsize: int) -> float:
  """The tensor-parallel shard of the weights in the compute dtype: what one pass reads per device."""
  return matmul_params(config) * itemsize / layout.tensor


def _master_bytes(param_count: int, layout: Layout) -> float:
  """The float32 master weights' shard of one device."""
  return param_count * 4 / layout.devices


def kv_cache_bytes(config: QwenConfig, layout: Layout, rows: int, slots: int, itemsize: int) -> float:
  """The KV cache of `rows` rows x `slots` slots, per device."""
  c = config
  return float(2 * c.num_layers * layout.split_rows(rows) * slots * layout.split_heads(c.num_kv_heads) * c.head_dim
               * itemsize)


def prefill_cost(config: QwenConfig, layout: Layout, *, prompts: int, prompt_len: int, param_count: int,
                 itemsize: int, fused: bool) -> Cost:
  """The sampler's prefill: the prompts once through the model, the LM head at the last position."""
  fraction = FUSED_CAUSAL_FRACTION if fused else 1.0
  flops = forward_flops(config, prompts, prompt_len, prompt_len, lm_tokens=1, causal_fraction=fraction)
  moved = (_master_bytes(param_count, layout) + _weight_bytes(config, layout, itemsize)
           + _activation_bytes(config, layout, prompts, prompt_len, prompt_len, 1, itemsize, fused)
           + kv_cache_bytes(config, layout, prompts, prompt_len, itemsize))
  return Cost(flops, moved)


def decode_cost(config: QwenConfig, layout: Layout, *, rows: int, prompt_len: int, new_tokens: int,
                param_count: int, itemsize: int) -> Cost:
  """The decode loop run to the budget: new_tokens - 1 steps (prefill draws token 0), each one token per
  row against the whole cache of prompt_len + new_tokens - 1 slots (the XLA path: every slot, masked)."""
  slots = prompt_len + new_tokens - 1
  steps = new_tokens - 1
  step_flops = forward_flops(config, rows, 1, slots, lm_tokens=1)
  step_bytes = (_weight_bytes(config, layout, itemsize) + kv_cache_bytes(config, layout, rows, slots, itemsize)
                + _activation_bytes(config, layout, rows, 1, slots, 1, itemsize, fused=False))
  return Cost(steps * step_flops, _master_bytes(param_count, layout) + steps * step_bytes)


def score_cost(config: QwenConfig, layout: Layout, *, rows: int, prompt_len: int, new_tokens: int, chunks: int,
               param_count: int, itemsize: int, fused: bool) -> Cost:
  """The scoring pass: one forward of prompt + completion for every row, in `chunks` sequential chunks
  (each reads the weights again), the LM head on the completion positions."""
  tokens = prompt_len + new_tokens
  fraction = FUSED_CAUSAL_FRACTION if fused else 1.0
  flops = forward_flops(config, rows, tokens, tokens, lm_tokens=new_tokens, causal_fraction=fraction)
  moved = (_master_bytes(param_count, layout) + chunks * _weight_bytes(config, layout, itemsize)
           + _activation_bytes(config, layout, rows, tokens, tokens, new_tokens, itemsize, fused))
  return Cost(flops, moved)


def update_cost(config: QwenConfig, layout: Layout, *, rows: int, prompt_len: int, new_tokens: int,
                micro_batches: int, remat: bool, param_count: int, itemsize: int, fused: bool) -> Cost:
  """One optimizer step on a mini-batch of `rows` rows (`rlvr_jax.train._update.make_update_step`)."""
  tokens = prompt_len + new_tokens
  fraction = FUSED_CAUSAL_FRACTION if fused else 1.0
  forward = forward_flops(config, rows, tokens, tokens, lm_tokens=new_tokens, causal_fraction=fraction)
  blocks = forward_flops(config, rows, tokens, tokens, lm_tokens=0, causal_fraction=fraction, with_lm_head=False)
  k = micro_batches
  stats_pass = k > 1  # the no-grad statistics pass of the accumulated gradient
  flops = 3 * forward + (blocks if remat else 0) + (forward if stats_pass else 0)
  weight_passes = (3 + remat + stats_pass) * k if k > 1 else 3 + remat
  activations = _activation_bytes(config, layout, rows, tokens, tokens, new_tokens, itemsize, fused)
  activation_passes = 3 + remat + stats_pass
  optimizer = 7 * 4 * param_count / layout.devices
  moved = (weight_passes * _weight_bytes(config, layout, itemsize) + activation_passes * activations + optimizer)
  return Cost(flops, moved)


def roofline_seconds(cost: Cost, devices: int, peak_flops: float, hbm_bandwidth: float) -> float:
  """The lower bound on a call's time: max(FLOPs per device / peak, bytes per device / bandwidth), with
  the FLOPs split evenly over the devices."""
  return max(cost.flops / devices / peak_flops, cost.bytes_per_device / hbm_bandwidth)
