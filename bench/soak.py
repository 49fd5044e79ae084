"""Soak test: a long training run in a subprocess, its memory sampled at a fixed interval.

A leak shows as resident memory that keeps growing after the first steps (compilation, caches and the
first checkpoint settle early). This runs `launch/tpu_pod.py` with a step budget it will not reach,
samples the resident set size (RSS) of the trainer and of its child processes (reward workers, the
checkpoint and data threads live in the trainer) every `--interval` seconds, then stops the run with
SIGTERM (the preemption path: a checkpoint, exit code 0) and prints a table and the growth after the
baseline, the first sample taken once `--settle-steps` steps are logged.

    python bench/soak.py --minutes 30                                 # embedded default, STEER
    python bench/soak.py --minutes 30 --config configs/siren.py --max-growth-mb 64
    python bench/soak.py --minutes 3 --interval 30 -- --config.warm_start.steps=40   # a quick check

Arguments after `--` go to the launcher. Not part of the test suite: it takes as long as it is told to.
RSS is read with psutil when it is installed, else from /proc (Linux).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS = 10**6  # never reached: the soak ends the run itself


@dataclasses.dataclass(frozen=True)
class Sample:
  elapsed_s: float
  step: int            # last step in metrics.jsonl (-1: none logged yet)
  trainer_mb: float    # RSS of the launcher process
  children_mb: float   # RSS of all its descendants together
  children: int


def _tree_rss_psutil(pid: int) -> tuple[float, float, int]:
  import psutil

  root = psutil.Process(pid)
  children = root.children(recursive=True)
  child_rss = 0
  for child in children:
    try:
      child_rss += child.memory_info().rss
    except psutil.NoSuchProcess:  # a reward worker replaced between the listing and the read
      pass
  return root.memory_info().rss / 2**20, child_rss / 2**20, len(children)


def _proc_rss_mb(pid: int) -> float:
  with open(f"/proc/{pid}/status", encoding="ascii") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1]) / 1024
  return 0.0


def _tree_rss_proc(pid: int) -> tuple[float, float, int]:
  parents = {}
  for entry in os.listdir("/proc"):
    if entry.isdigit():
      try:
        with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
          parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
      except (FileNotFoundError, ProcessLookupError, IndexError):
        pass
  descendants, frontier = [], [pid]
  while frontier:
    frontier = [child for child, parent in parents.items() if parent in frontier]
    descendants += frontier
  child_rss = 0.0
  for child in descendants:
    try:
      child_rss += _proc_rss_mb(child)
    except FileNotFoundError:
      pass
  return _proc_rss_mb(pid), child_rss, len(descendants)


def tree_rss(pid: int) -> tuple[float, float, int]:
  """(process RSS MB, descendants' RSS MB, descendant count)."""
  try:
    return _tree_rss_psutil(pid)
  except ImportError:
    return _tree_rss_proc(pid)


def last_step(metrics_path: str) -> int:
  if not os.path.exists(metrics_path):
    return -1
  step = -1
  with open(metrics_path, encoding="utf-8") as f:
    for line in f:
      try:
        step = int(json.loads(line)["step"])
      except (json.JSONDecodeError, KeyError):  # the row being written right now
        pass
  return step


def growth(samples: list[Sample], settle_steps: int) -> tuple[Sample | None, float, float]:
  """(baseline sample, total RSS growth in MB from it to the last sample, least-squares slope in MB/h
  over the samples from the baseline on)."""
  after = [s for s in samples if s.step >= settle_steps]
  if len(after) < 2:
    return (after[0] if after else None), float("nan"), float("nan")
  totals = [s.trainer_mb + s.children_mb for s in after]
  times = [s.elapsed_s / 3600 for s in after]
  mean_t, mean_m = sum(times) / len(times), sum(totals) / len(totals)
  var = sum((t - mean_t) ** 2 for t in times)
  slope = sum((t - mean_t) * (m - mean_m) for t, m in zip(times, totals)) / var if var else float("nan")
  return after[0], totals[-1] - totals[0], slope


def main(argv: list[str]) -> int:
  ours, launcher_args = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--minutes", type=float, default=30.0, help="how long the run goes on")
  parser.add_argument("--interval", type=float, default=60.0, help="seconds between memory samples")
  parser.add_argument("--config", default=os.path.join(ROOT, "configs", "steer.py"))
  parser.add_argument("--run-dir", default="", help="default: a new temporary directory")
  parser.add_argument("--settle-steps", type=int, default=50,
                      help="the baseline is the first sample once this many steps are logged")
  parser.add_argument("--max-growth-mb", type=float, default=0.0,
                      help="exit with 1 when RSS grows more than this after the baseline (0: report only)")
  args = parser.parse_args(ours)
  if args.minutes <= 0 or args.interval <= 0:
    parser.error(f"--minutes={args.minutes} and --interval={args.interval} must be > 0")
  run_dir = args.run_dir or tempfile.mkdtemp(prefix="rlvr_soak_")
  log_path = os.path.join(run_dir, "soak_trainer.log")
  os.makedirs(run_dir, exist_ok=True)
  command = [sys.executable, os.path.join(ROOT, "launch", "tpu_pod.py"), f"--config={args.config}",
             f"--config.train.run_dir={run_dir}", f"--config.train.steps={STEPS}",
             "--config.data.epochs=100000", *launcher_args]
  print(f"soak: {' '.join(command)}\n      {args.minutes:g} min, a sample every {args.interval:g} s; trainer output in "
        f"{log_path}", flush=True)
  header = f"{'min':>6} {'step':>6} {'trainer MB':>11} {'children MB':>12} {'total MB':>9} {'children':>8}"
  print(header, flush=True)
  samples: list[Sample] = []
  with open(log_path, "w", encoding="utf-8") as log:
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    start = time.monotonic()
    deadline = start + args.minutes * 60
    try:
      while True:
        now = time.monotonic()
        if process.poll() is not None:
          break
        trainer, children, count = tree_rss(process.pid)
        sample = Sample(now - start, last_step(os.path.join(run_dir, "metrics.jsonl")), trainer, children, count)
        samples.append(sample)
        print(f"{sample.elapsed_s / 60:6.1f} {sample.step:6d} {trainer:11.1f} {children:12.1f} "
              f"{trainer + children:9.1f} {count:8d}", flush=True)
        if now >= deadline:
          break
        time.sleep(max(0.0, min(args.interval, deadline - time.monotonic())))
    finally:
      if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the preemption path: finish the step, checkpoint, exit 0
        try:
          process.wait(timeout=600)
        except subprocess.TimeoutExpired:
          process.kill()
          process.wait()
  code = process.returncode
  print(f"trainer exit code {code} after SIGTERM" if samples and samples[-1].elapsed_s >= args.minutes * 60
        else f"trainer exited by itself with code {code} (see {log_path})", flush=True)
  baseline, grown, slope = growth(samples, args.settle_steps)
  if baseline is None:
    print(f"no sample after {args.settle_steps} steps: no baseline, run longer", flush=True)
    return 1
  print(f"baseline at {baseline.elapsed_s / 60:.1f} min (step {baseline.step}): "
        f"{baseline.trainer_mb + baseline.children_mb:.1f} MB; growth to the end {grown:+.1f} MB, "
        f"trend {slope:+.1f} MB/h over {len([s for s in samples if s.step >= args.settle_steps])} samples",
        flush=True)
  if code != 0:
    return 1
  return 1 if args.max_growth_mb and grown > args.max_growth_mb else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
