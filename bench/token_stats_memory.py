"""Compiled peak memory of chunked vs unchunked token statistics for a Qwen2.5-1.5B-sized LM head.

Why: logp / entropy need the full vocabulary, and an unchunked float32 [N, V] logits tensor (plus its
softmax and gradient) is what runs RL training out of memory at Qwen's V = 151936. This script shows how
much `token_statistics` saves, forward and forward+backward, without running anything big: it only
lowers and compiles (XLA's `memory_analysis`), so it works on CPU in about a minute.

Peak = temp + argument + output bytes of the compiled program (aliasing ignored; nothing is donated).

  python bench/token_stats_memory.py
  python bench/token_stats_memory.py --tokens 2048 8192 32768 --chunk-size 1024 --top-p 0.8
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

# Run as a script from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from rlvr_jax.objectives import TokenStats, statistics_from_logits, token_statistics  # noqa: E402

QWEN25_1P5B_HIDDEN = 1536
QWEN25_VOCAB = 151936
GIB = 2.0**30


def _unchunked(hidden: jax.Array, unembed: jax.Array, targets: jax.Array, *, top_p: float | None,
               chunk_size: int) -> TokenStats:
  del chunk_size
  logits = jnp.einsum("btd,vd->btv", hidden, unembed, preferred_element_type=jnp.float32)  # [B, T, V]
  return statistics_from_logits(logits, targets, top_p=top_p)


def _chunked(hidden: jax.Array, unembed: jax.Array, targets: jax.Array, *, top_p: float | None,
             chunk_size: int) -> TokenStats:
  return token_statistics(hidden, unembed, targets, chunk_size=chunk_size, top_p=top_p)


def _scalar_loss(stats: TokenStats) -> jax.Array:
  loss = jnp.sum(stats.logp) + jnp.sum(stats.entropy)
  if stats.topp_entropy is not None:
    loss = loss + jnp.sum(stats.topp_entropy)
  return loss


def peak_bytes(path: Callable[..., TokenStats], *, batch: int, seq: int, dim: int, vocab: int,
               dtype: jnp.dtype, backward: bool, top_p: float | None, chunk_size: int) -> int:
  """temp + argument + output bytes of the compiled forward (or value_and_grad) program."""
  shapes = (jax.ShapeDtypeStruct((batch, seq, dim), dtype),
            jax.ShapeDtypeStruct((vocab, dim), dtype),
            jax.ShapeDtypeStruct((batch, seq), jnp.int32))

  def forward(hidden, unembed, targets):
    return path(hidden, unembed, targets, top_p=top_p, chunk_size=chunk_size)

  if backward:
    fn = jax.value_and_grad(lambda h, w, t: _scalar_loss(forward(h, w, t)), argnums=(0, 1))
  else:
    fn = forward
  stats = jax.jit(fn).lower(*shapes).compile().memory_analysis()
  return stats.temp_size_in_bytes + stats.argument_size_in_bytes + stats.output_size_in_bytes


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--tokens", type=int, nargs="+", default=[2 * 1024, 8 * 1024],
                      help="B*T token counts (B = tokens / seq-len)")
  parser.add_argument("--seq-len", type=int, default=1024)
  parser.add_argument("--dim", type=int, default=QWEN25_1P5B_HIDDEN)
  parser.add_argument("--vocab", type=int, default=QWEN25_VOCAB)
  parser.add_argument("--chunk-size", type=int, default=512)
  parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16")
  parser.add_argument("--top-p", type=float, default=None, help="also compute SIREN top-p entropy")
  args = parser.parse_args()
  for tokens in args.tokens:
    if tokens % args.seq_len:
      parser.error(f"--tokens {tokens} is not a multiple of --seq-len {args.seq_len}")

  dtype = jnp.dtype(args.dtype)
  print(f"backend={jax.default_backend()} D={args.dim} V={args.vocab} dtype={args.dtype} "
        f"chunk={args.chunk_size} top_p={args.top_p}")
  header = f"{'tokens':>7} {'pass':>9} {'unchunked GiB':>14} {'chunked GiB':>12} {'ratio':>7}"
  print(header)
  print("-" * len(header))
  start = time.perf_counter()
  for tokens in args.tokens:
    for backward in (False, True):
      common = dict(batch=tokens // args.seq_len, seq=args.seq_len, dim=args.dim, vocab=args.vocab,
                    dtype=dtype, backward=backward, top_p=args.top_p, chunk_size=args.chunk_size)
      full = peak_bytes(_unchunked, **common)
      chunked = peak_bytes(_chunked, **common)
      name = "fwd+bwd" if backward else "fwd"
      print(f"{tokens:>7} {name:>9} {full / GIB:>14.2f} {chunked / GIB:>12.2f} {full / chunked:>6.1f}x",
            flush=True)
  print(f"(compiled in {time.perf_counter() - start:.0f} s; nothing was executed)")


if __name__ == "__main__":
  main()
