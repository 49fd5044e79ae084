"""Times the sides of a benchmark in interleaved rounds, so each ratio between them is a paired one.

Why: a shared 2-core host's speed drifts over minutes (torch's update step alone read 0.155-0.185 s on
one afternoon; the tiny static sampler call 1.1-2.0 s between runs of the same code), and timing one
side's repeats after the other's put that drift into their ratio. Within a round every side sees the
same machine; consecutive calls inside a round keep each side's working set warm, as in a real run.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence


def time_rounds(fns: Sequence[Callable[[], object]], *, rounds: int, calls_per_round: int = 1) -> list[list[float]]:
  """Seconds per call of each fn, [fn][round]: each round runs `calls_per_round` consecutive calls of
  every fn in turn. Each fn must block until its result is ready and be warmed up (compiled) already."""
  times = [[] for _ in fns]
  for _ in range(rounds):
    for fn, record in zip(fns, times):
      start = time.perf_counter()
      for _ in range(calls_per_round):
        fn()
      record.append((time.perf_counter() - start) / calls_per_round)
  return times
