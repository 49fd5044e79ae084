"""One decode step's draw over the vocabulary: the sampler's inverse-CDF draw next to `jax.random.categorical`.

Why: every decode step draws one token per row from softmax(logits / T) over V = 151,936 Qwen tokens.
`jax.random.categorical` (Gumbel-max) hashes V random numbers per row, and on CPU JAX lowers threefry
as a rolled loop that stores two u32[R, V] arrays per iteration; `rlvr_jax.sampling.sample_categorical`
draws from two uniforms per row (two-level inverse CDF). Both are timed in the same run on the same
logits, jitted, median of `--repeats` calls after a warm-up; each also computes the chosen token's
log-prob, as the sampler needs it.

  python bench/sampling_draw.py                         # 128 rows x 151,936 (the ~0.5B bench's slots)
  python bench/sampling_draw.py --rows 512 --vocab 152064
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

# Run as a script from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from rlvr_jax.sampling import sample_categorical  # noqa: E402


def gumbel_max(keys: jax.Array, scaled: jax.Array) -> tuple[jax.Array, jax.Array]:
  """The previous draw: `jax.random.categorical` per row, and the choice's log-prob."""
  choice = jax.vmap(jax.random.categorical)(keys, scaled)  # [R]
  logp = jnp.take_along_axis(jax.nn.log_softmax(scaled, axis=-1), choice[:, None], axis=-1)[:, 0]
  return choice, logp


def _median_seconds(fn, args, repeats: int) -> float:
  jax.block_until_ready(fn(*args))  # compiles and warms up
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--rows", type=int, default=128)
  parser.add_argument("--vocab", type=int, default=151_936)
  parser.add_argument("--repeats", type=int, default=7)
  args = parser.parse_args()
  scaled = 3.0 * jax.random.normal(jax.random.key(0), (args.rows, args.vocab), jnp.float32)
  keys = jax.random.split(jax.random.key(1), args.rows)
  print(f"backend={jax.default_backend()} rows={args.rows} vocab={args.vocab} repeats={args.repeats}")
  reference = _median_seconds(jax.jit(gumbel_max), (keys, scaled), args.repeats)
  ours = _median_seconds(jax.jit(sample_categorical), (keys, scaled), args.repeats)
  print(f"{'draw':<44} {'ms / call':>10} {'vs categorical':>15}")
  for name, seconds in (("jax.random.categorical (Gumbel-max)", reference),
                        ("rlvr_jax inverse CDF (two uniforms per row)", ours)):
    print(f"{name:<44} {seconds * 1e3:>10.1f} {reference / seconds:>14.2f}x")


if __name__ == "__main__":
  main()
