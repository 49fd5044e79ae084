"""bench/sampler.py's length-distribution mode: long-tailed response lengths forced by a bench-only logits
processor, the same useful work for transformers `generate`, the static sampler and the continuous one.

Lengths: log-normal with mean `mean_frac` x budget N, its spread chosen so that a fraction `budget_frac`
of the draws reaches N; rounded up and clipped to [1, N]. Row r (prompt-major, as both libraries order
a prompt's samples) emits the stop token exactly at its length: before it the stop token is masked out,
at it every other token is. The forcing is identical in JAX and torch, so every sampler decodes the same
tokens count; what differs is how many slot-steps and bytes each spends on them.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import norm

from rlvr_jax import models
from rlvr_jax.sampling import generate
from timing_rounds import time_rounds  # bench/, beside this module


def draw_lengths(rows: int, budget: int, mean_frac: float, budget_frac: float, seed: int = 0) -> np.ndarray:
  """[rows] int lengths in [1, budget]: log-normal, mean mean_frac * budget, P(length >= budget) = budget_frac."""
  if not 0 < mean_frac < 1 or not 0 < budget_frac < 0.5:
    raise ValueError(f"--mean-frac={mean_frac} must be in (0, 1) and --budget-frac={budget_frac} in (0, 0.5)")
  z = norm.ppf(1 - budget_frac)
  # mean m = exp(mu + s^2 / 2) and ln(N) = mu + z s  =>  s^2 / 2 - z s + ln(N / m) = 0 (smaller root).
  log_ratio = math.log(1 / mean_frac)
  if z * z < 2 * log_ratio:
    raise ValueError(f"no log-normal has mean {mean_frac} x budget with {budget_frac} of rows at the budget")
  sigma = z - math.sqrt(z * z - 2 * log_ratio)
  mu = math.log(mean_frac * budget) - sigma * sigma / 2
  lengths = np.exp(mu + sigma * np.random.default_rng(seed).standard_normal(rows))
  return np.clip(np.ceil(lengths), 1, budget).astype(np.int32)


def jax_length_processor(lengths: np.ndarray, stop_id: int) -> Callable:
  """(logits [R, V], row ids [R], steps [R]) -> logits forcing row r's stop token at step lengths[r] - 1."""
  last_step = jnp.asarray(lengths - 1, jnp.int32)

  def force(logits, rows, steps):
    at_end = steps >= jnp.take(last_step, rows, mode="clip")  # [R]
    is_stop = jnp.arange(logits.shape[-1]) == stop_id  # [V]
    only_stop = jnp.where(is_stop, 0.0, -jnp.inf)
    return jnp.where(at_end[:, None], only_stop[None, :], jnp.where(is_stop[None, :], -jnp.inf, logits))

  return force


def torch_length_processor(lengths: np.ndarray, stop_id: int, prompt_len: int):
  import torch
  from transformers import LogitsProcessor

  class ForceLengths(LogitsProcessor):
    def __call__(self, input_ids, scores):
      step = input_ids.shape[1] - prompt_len
      at_end = torch.as_tensor(step >= lengths - 1, device=scores.device)
      scores = scores.clone()
      scores[:, stop_id] = -math.inf
      scores[at_end] = -math.inf
      scores[at_end, stop_id] = 0.0
      return scores

  return ForceLengths()


def run(args, model, ids: np.ndarray, config, dtype: str, *, on_cpu: bool) -> None:
  rows, budget, prompt_len = args.batch * args.num_samples, args.gen_len, args.prompt_len
  lengths = draw_lengths(rows, budget, args.mean_frac, args.budget_frac)
  stop_id = config.vocab_size - 1
  useful = int(lengths.sum())
  useful_decode = useful - rows  # token 0 of every row comes from the prefill
  slot_counts = [count or max(8, rows // 4) for count in args.slots]
  print(f"lengths: mean {lengths.mean() / budget:.2f} x budget, {np.mean(lengths == budget):.1%} at the budget, "
        f"max {lengths.max()}; {useful} useful tokens; continuous slots {slot_counts}; decode block {args.decode_block}")
  mask = np.ones_like(ids)
  force = jax_length_processor(lengths, stop_id)
  common = dict(key=jax.random.key(0), max_new_tokens=budget, num_samples=args.num_samples, temperature=1.0,
                stop_token_ids=(stop_id,), logits_processor=force)

  itemsize = jnp.dtype(dtype).itemsize
  weight_bytes = models.param_count(config) * itemsize
  kv_bytes = 2 * config.num_layers * config.num_kv_heads * config.head_dim * itemsize  # one slot, all layers
  filled_per_token = prompt_len + np.mean(np.concatenate([np.arange(1, n) for n in lengths if n > 1]))
  calls, counters = [], []  # per sampler: (name, call), and its byte / slot counters
  samplers = [("static sampler, whole cache", dict(decode_block=0)),
              ("static sampler, filled blocks", dict(decode_block=args.decode_block))]
  samplers += [(f"continuous sampler, {count} slots", dict(decode_block=args.decode_block, slots=count))
               for count in slot_counts]
  for name, kwargs in samplers:
    def call(kwargs=kwargs):
      return jax.block_until_ready(generate(model, ids, mask, **common, **kwargs))
    out = call()  # compiles; its lengths check the forcing held, and it warms up the timed calls
    got = np.asarray(out.lengths)
    if not np.array_equal(got, lengths):
      raise RuntimeError(f"{name}: the forced lengths did not hold (first rows {got[:8]} vs {lengths[:8]})")
    calls.append((name, call))
    stats = jax.tree.map(int, out.stats)
    steps, busy, slot_steps, kv_read = stats.steps, stats.busy_slot_steps, stats.slot_steps, stats.kv_slots_read
    ours = (steps * weight_bytes + kv_read * kv_bytes) / busy
    row_bound = (steps * weight_bytes + stats.kv_slots_row_bound * kv_bytes) / busy
    ideal = (steps * weight_bytes + busy * filled_per_token * kv_bytes) / busy
    counters.append((steps, busy / slot_steps, ours, row_bound, ideal))

  if not args.skip_hf:
    import torch
    from transformers import AutoModelForCausalLM
    if args.torch_threads or on_cpu:
      torch.set_num_threads(args.torch_threads or 1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with tempfile.TemporaryDirectory() as path:
      models.save_pretrained(model, path)
      hf = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(device).eval()
    inputs = torch.as_tensor(ids, dtype=torch.long, device=device)
    processor = torch_length_processor(lengths, stop_id, prompt_len)

    def hf_call():
      with torch.no_grad():
        out = hf.generate(input_ids=inputs, attention_mask=torch.ones_like(inputs), do_sample=True, temperature=1.0,
                          top_p=1.0, top_k=0, max_new_tokens=budget, num_return_sequences=args.num_samples,
                          eos_token_id=stop_id, pad_token_id=0, logits_processor=[processor],
                          cache_implementation="static")
      if device == "cuda":
        torch.cuda.synchronize()
      return out

    out = hf_call()[:, prompt_len:].cpu().numpy()
    hf_lengths = np.array([np.flatnonzero(row == stop_id)[0] + 1 if (row == stop_id).any() else row.size for row in out])
    if not np.array_equal(hf_lengths, lengths):
      raise RuntimeError(f"transformers: the forced lengths did not hold ({hf_lengths[:8]} vs {lengths[:8]})")
    calls.append(("transformers generate (static cache)", hf_call))  # the checked call above warmed it up
    steps = int(lengths.max()) - 1  # a static batch decodes until its longest row ends
    ideal = (steps * weight_bytes + useful_decode * filled_per_token * kv_bytes) / useful_decode
    whole = (steps * weight_bytes + steps * rows * (prompt_len + budget) * kv_bytes) / useful_decode
    counters.append((steps, useful_decode / (steps * rows), whole, whole, ideal))

  times = time_rounds([call for _, call in calls], rounds=args.repeats)  # each call warmed up by its check

  header = (f"{'sampler':<38} {'call s':>8} {'useful tok/s':>12} {'x static':>9} {'per round':>11} "
            f"{'decode steps':>12} {'slot util':>9} {'MB read/tok':>11} {'TPU MB/tok':>10} {'ideal MB/tok':>12}")
  print(header)
  print("-" * len(header))
  reference = np.asarray(times[1])  # the static sampler reading filled blocks, round by round
  for (name, _), seconds, (steps, util, ours, row_bound, ideal) in zip(calls, times, counters):
    ratios = reference / np.asarray(seconds)
    median = statistics.median(seconds)
    print(f"{name:<38} {median:>8.3f} {useful / median:>12.0f} {statistics.median(reference) / median:>8.2f}x "
          f"{ratios.min():>5.2f}-{ratios.max():<5.2f} {steps:>12d} {util:>8.1%} {ours / 2**20:>11.3f} "
          f"{row_bound / 2**20:>10.3f} {ideal / 2**20:>12.3f}")
  print(f"(call s: median of {args.repeats} rounds, each round calling every sampler once in turn; x static: the "
        "medians' ratio to the static sampler reading filled blocks; per round: the lowest and highest ratio "
        "within one round; useful tok/s: forced-length tokens over the whole call, prefill included; slot util: useful decode "
        "tokens / slot-steps; MB read/tok: weights once per decode step + the KV slots decode attention read, per "
        "useful decode token; TPU MB/tok: the same with the TPU ragged decode kernel, which reads each row's "
        "blocks up to its own fill only (model.attention=splash); ideal: the same steps' weights + each token's "
        "filled KV only. transformers' bytes assume its static cache is read whole.)")
