"""Choose `rollout.slots` before a run: the continuous sampler's decode steps, slot-steps and utilization
for several slot counts on a length distribution, and the decode time they imply at a device's cost of a
decode step (a fixed part per step, the weights' read, plus a part per slot), against the static batch.

The counts come from `rlvr_jax.sampling.continuous_schedule`, a host transcription of the compiled loop
(tests hold the sampler's counters to it); nothing runs a model. Lengths are bench/sampler.py's
log-normal draw, or a file of response lengths (one int per line, token 0 included, prompt-major).

    python bench/slot_plan.py                                    # bench/sampler.py's ~0.5B CPU shape
    python bench/slot_plan.py --rows 4096 --gen-len 3072 --step-s 0.03 --slot-s 2e-6 --slots 512 1024 2048
    python bench/slot_plan.py --lengths-file lengths.txt --groups 16 --slots 1024 2048

--step-s / --slot-s default to the fit of the ~0.5B float32 bench on this 2-core CPU
(docs/benchmarks.md: ~0.18 s a step, ~4.4 ms a slot, on the host of 2026-12-01; on the AMD EPYC host of
2026-12-02 a decode forward measured ~0.02-0.04 s + ~3.3 ms a row); on an accelerator a decode step is weight-bound,
so the fixed part dominates and more slots win until the cache no longer fits.
"""

from __future__ import annotations

import argparse

import numpy as np
from sampler_lengths import draw_lengths

from rlvr_jax.sampling import continuous_schedule, slot_phases, static_schedule


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--rows", type=int, default=512, help="rows per sampler call (prompts x samples)")
  parser.add_argument("--gen-len", type=int, default=64, help="the token budget")
  parser.add_argument("--mean-frac", type=float, default=0.4, help="log-normal: mean length / budget")
  parser.add_argument("--budget-frac", type=float, default=0.05, help="log-normal: fraction reaching the budget")
  parser.add_argument("--lengths-file", default=None, help="response lengths, one per line (replaces the draw)")
  parser.add_argument("--slots", type=int, nargs="+", default=None,
                      help="slot counts (default: a quarter, 3/8 and half of the rows)")
  parser.add_argument("--groups", type=int, default=1, help="slot groups (the data-parallel shards)")
  parser.add_argument("--step-s", type=float, default=0.18, help="seconds a decode step costs whatever its slots")
  parser.add_argument("--slot-s", type=float, default=0.0044, help="seconds each slot adds to a decode step")
  args = parser.parse_args()

  if args.lengths_file:
    lengths = np.loadtxt(args.lengths_file, dtype=np.int64).reshape(-1)
  else:
    lengths = draw_lengths(args.rows, args.gen_len, args.mean_frac, args.budget_frac)
  rows = lengths.size
  slot_counts = args.slots or [rows // 4, 3 * rows // 8, rows // 2]
  static = static_schedule(lengths)
  static_s = static.seconds(args.step_s, args.slot_s)
  print(f"{rows} rows, lengths mean {lengths.mean():.1f}, max {lengths.max()}; "
        f"{static.busy_slot_steps} useful decode tokens; step {args.step_s} s + {args.slot_s} s a slot")
  header = f"{'sampler':<24} {'phases':<44} {'steps':>6} {'slot-steps':>10} {'util':>6} {'decode s':>9} {'x static':>8}"
  print(header)
  print("-" * len(header))
  print(f"{'static batch':<24} {'':<44} {static.steps:>6} {static.slot_steps:>10} {static.utilization:>6.1%} "
        f"{static_s:>9.1f} {1.0:>7.2f}x")
  for slots in slot_counts:
    plan = continuous_schedule(lengths, slots, args.groups)
    seconds = plan.seconds(args.step_s, args.slot_s)
    phases = ",".join(map(str, slot_phases(slots, args.groups)))
    print(f"{f'continuous, {slots} slots':<24} {phases:<44} {plan.steps:>6} {plan.slot_steps:>10} "
          f"{plan.utilization:>6.1%} {seconds:>9.1f} {static_s / seconds:>7.2f}x")


if __name__ == "__main__":
  main()
