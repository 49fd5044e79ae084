"""Decode throughput of `rlvr_jax.sampling.generate` next to transformers' `generate`, and as a fraction of
the memory-bandwidth roofline.

Why: an RL step spends most of its time generating, and batched decode is memory-bound: every step
reads all weights and the KV cache once. So the honest yardstick is (bytes read per step / measured
copy bandwidth), next to the standard torch implementation on the same random weights.

Method: both samplers draw (temperature 1, no stop tokens, so every row runs the full length) from the
same random-weight model (saved by rlvr_jax, loaded by transformers). Decode time = time(N tokens) -
time(1 token), i.e. prefill excluded; tokens/s = rows x (N - 1) / decode time. Roofline bytes per step =
weights + KV actually filled (average over the steps); our decode attends over the whole static cache
(P + N - 1 slots, masked), so its own traffic is also printed.

  python bench/sampler.py                       # tiny preset, CPU-sized
  python bench/sampler.py --preset qwen2.5-1.5b --batch 64 --prompt-len 512 --gen-len 1024   # GPU
  python bench/sampler.py --preset qwen2.5-1.5b --batch 256 --prompt-len 512 --gen-len 1024 --skip-hf

Length-distribution mode (`--lengths lognormal`): RLVR responses have long-tailed lengths, so each row's
length is drawn from a log-normal with mean `--mean-frac` x the budget and `--budget-frac` of the rows
reaching the budget, and a bench-only logits processor makes row r emit the stop token exactly at its
drawn length (and never before), in every sampler, so all of them do the same useful work. One run
prints, per sampler (transformers `generate`, the static sampler reading the whole cache, the static
sampler reading filled blocks, the continuous sampler): useful tokens/s over the whole call (prefill
included), slot utilization (useful decode tokens / slot-steps) and decode bytes read per useful token
(weights + KV) next to the ideal (weights once per step + each token's filled KV only).

  python bench/sampler.py --lengths lognormal --batch 16 --num-samples 8 --prompt-len 64 --gen-len 128
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

# Run as a script from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from rlvr_jax import models  # noqa: E402
from rlvr_jax.sampling import generate  # noqa: E402
from rlvr_jax import host_heap  # noqa: E402
import host_info  # noqa: E402  (bench/, beside this script)
import sampler_lengths  # noqa: E402  (bench/, beside this script)


def _timed(fn: Callable[[], object], repeats: int) -> float:
  """Median wall time of `fn` (which must block until its result is ready) over `repeats` runs."""
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def copy_bandwidth(megabytes: int) -> float:
  """Measured device bandwidth in bytes/s: x + 1 over a buffer reads and writes it once each."""
  x = jnp.zeros((megabytes << 20) // 4, jnp.float32)
  add = jax.jit(lambda a: a + 1)
  add(x).block_until_ready()
  seconds = _timed(lambda: add(x).block_until_ready(), 5)
  return 2 * x.nbytes / seconds


def jax_times(model, ids, mask, *, gen_len: int, num_samples: int, repeats: int) -> tuple[float, float]:
  """(seconds for 1 new token, seconds for gen_len new tokens), compiled beforehand."""

  def run(new_tokens: int) -> Callable[[], object]:
    def call():
      out = generate(model, ids, mask, key=jax.random.key(0), max_new_tokens=new_tokens, num_samples=num_samples,
                     temperature=1.0)
      return jax.block_until_ready(out)
    call()  # compile
    return call

  return _timed(run(1), repeats), _timed(run(gen_len), repeats)


def hf_times(path: str, ids, *, dtype: str, gen_len: int, num_samples: int, repeats: int,
             torch_threads: int | None) -> tuple[float, float, str]:
  """transformers generate (sampling, static cache where available): (1-token s, gen_len s, cache kind)."""
  import torch
  from transformers import AutoModelForCausalLM

  device = "cuda" if torch.cuda.is_available() else "cpu"
  if torch_threads:
    torch.set_num_threads(torch_threads)
  model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype)).to(device).eval()
  inputs = torch.as_tensor(np.asarray(ids), dtype=torch.long, device=device)
  mask = torch.ones_like(inputs)

  def run(new_tokens: int, cache: str | None) -> Callable[[], object]:
    def call():
      with torch.no_grad():
        model.generate(input_ids=inputs, attention_mask=mask, do_sample=True, temperature=1.0, top_p=1.0, top_k=0,
                       max_new_tokens=new_tokens, min_new_tokens=new_tokens, num_return_sequences=num_samples,
                       pad_token_id=0, cache_implementation=cache)
      if device == "cuda":
        torch.cuda.synchronize()
    call()  # warm up (and compile kernels, if any)
    return call

  try:
    cache = "static"
    short, long = run(1, cache), run(gen_len, cache)
  except Exception as error:  # noqa: BLE001 -- a model / version without static cache support
    print(f"  (transformers static cache unavailable: {type(error).__name__}: {error}; using the dynamic cache)")
    cache = "dynamic"
    short, long = run(1, None), run(gen_len, None)
  return _timed(short, repeats), _timed(long, repeats), cache


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--preset", default="tiny", help=f"model preset: {', '.join(sorted(models.PRESETS))}")
  parser.add_argument("--batch", type=int, default=8, help="prompts per call")
  parser.add_argument("--num-samples", type=int, default=1, help="completions per prompt")
  parser.add_argument("--prompt-len", type=int, default=64)
  parser.add_argument("--gen-len", type=int, default=128)
  parser.add_argument("--dtype", choices=["bfloat16", "float32"], default=None,
                      help="default: bfloat16 on accelerators, float32 on CPU")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--bandwidth-mb", type=int, default=None, help="copy-bandwidth buffer (default 1024 / 256 CPU)")
  parser.add_argument("--skip-hf", action="store_true", help="only time rlvr_jax")
  parser.add_argument("--lengths", choices=["full", "lognormal"], default="full",
                      help="full: every row runs the whole budget; lognormal: long-tailed lengths (module doc)")
  parser.add_argument("--mean-frac", type=float, default=0.4, help="lognormal: mean length / budget")
  parser.add_argument("--budget-frac", type=float, default=0.05, help="lognormal: fraction of rows reaching the budget")
  parser.add_argument("--slots", type=int, nargs="+", default=[0],
                      help="continuous sampler slot counts, one table row each (0 = a quarter of the rows)")
  parser.add_argument("--decode-block", type=int, default=128, help="KV slots decode attention reads at a time")
  parser.add_argument("--torch-threads", type=int, default=None,
                      help="torch CPU threads (default 1 on CPU: OpenMP barriers on oversubscribed shared cores "
                           "cost a scheduler time slice per op, ~100x slower decode)")
  parser.add_argument("--heap", default="retain", choices=host_heap.MODES,
                      help="retain: the launcher's heap settings (rlvr_jax/host_heap.py); default: glibc's")
  args = parser.parse_args()
  host_heap.apply_mode(args.heap)  # before jax starts its threads, as the launcher does
  if min(args.batch, args.num_samples, args.prompt_len, args.repeats) < 1 or args.gen_len < 2:
    parser.error("--batch, --num-samples, --prompt-len, --repeats must be >= 1 and --gen-len >= 2")

  print(host_info.describe(), flush=True)  # before anything runs: the load is the machine's, not ours
  backend = jax.default_backend()
  on_cpu = backend == "cpu"
  dtype = args.dtype or ("float32" if on_cpu else "bfloat16")
  config = models.preset(args.preset)
  rows, steps = args.batch * args.num_samples, args.gen_len - 1
  print(f"backend={backend} devices={jax.device_count()} preset={args.preset} dtype={dtype} "
        f"prompts={args.batch} x {args.num_samples} samples = {rows} rows, prompt={args.prompt_len}, "
        f"generate={args.gen_len}")
  if on_cpu:
    print("NOTE: no GPU/TPU available here: CPU numbers (2 shared cores in CI) say nothing about accelerator "
          "throughput; rerun with --preset qwen2.5-1.5b on a GPU. A tiny model's weights sit in the CPU caches, so "
          "'% roofline' (against DRAM copy bandwidth) can exceed 100% here.")

  model = models.init(config, key=jax.random.key(0), dtype=jnp.dtype(dtype))
  ids = np.random.default_rng(0).integers(0, config.vocab_size, (args.batch, args.prompt_len)).astype(np.int32)
  mask = np.ones_like(ids)

  if args.lengths == "lognormal":
    sampler_lengths.run(args, model, ids, config, dtype, on_cpu=on_cpu)
    return
  results = []
  one, full = jax_times(model, ids, mask, gen_len=args.gen_len, num_samples=args.num_samples, repeats=args.repeats)
  results.append(("rlvr_jax (while_loop, static cache)", one, full))
  if not args.skip_hf:
    with tempfile.TemporaryDirectory() as path:
      models.save_pretrained(model, path)
      one, full, cache = hf_times(path, ids, dtype=dtype, gen_len=args.gen_len, num_samples=args.num_samples,
                                  repeats=args.repeats, torch_threads=args.torch_threads or (1 if on_cpu else None))
    results.append((f"transformers generate ({cache} cache)", one, full))

  bytes_per_param = jnp.dtype(dtype).itemsize
  weight_bytes = models.param_count(config) * bytes_per_param
  kv_per_slot = 2 * config.num_layers * config.num_kv_heads * config.head_dim * bytes_per_param * rows
  filled = args.prompt_len + args.gen_len / 2  # average cache fill over the decode steps
  ideal_step_bytes = weight_bytes + kv_per_slot * filled
  ours_step_bytes = weight_bytes + kv_per_slot * (args.prompt_len + args.gen_len - 1)
  bandwidth = copy_bandwidth(args.bandwidth_mb or (256 if on_cpu else 1024))
  roofline_step = ideal_step_bytes / bandwidth
  print(f"weights {weight_bytes / 2**30:.3f} GiB, KV read/step {kv_per_slot * filled / 2**30:.3f} GiB (filled) / "
        f"{kv_per_slot * (args.prompt_len + args.gen_len - 1) / 2**30:.3f} GiB (whole static cache, what our "
        f"decode reads); measured copy bandwidth {bandwidth / 1e9:.1f} GB/s -> roofline {roofline_step * 1e3:.3f} "
        "ms/step")

  header = f"{'sampler':<40} {'prefill+1 s':>11} {'total s':>9} {'ms/step':>9} {'tokens/s':>10} {'% roofline':>10}"
  print(header)
  print("-" * len(header))
  for name, one, full in results:
    step = max(full - one, 1e-9) / steps
    print(f"{name:<40} {one:>11.3f} {full:>9.3f} {step * 1e3:>9.3f} {rows / step:>10.0f} "
          f"{100 * roofline_step / step:>9.1f}%")
  print(f"(our decode's own traffic is {ours_step_bytes / ideal_step_bytes:.2f}x the roofline bytes: it attends "
        "over the whole static cache)")


if __name__ == "__main__":
  main()
