"""The entropy study on the embedded default: several methods, same seed and budget, one report.

Runs GRPO, STEER, SIREN, Positive-Advantage Reweighting, Clip-Cov and clip-higher on the built-in
arithmetic task (tiny policy, warm start shared through the cache), each with entropy diagnostics on,
then renders `python -m rlvr_jax.report` over the runs and prints a summary table (final entropy,
held-out avg@k / pass@k). The figures behind docs/results.md come from this script.

    python bench/entropy_study.py                        # 6 methods x 60 steps, ~15 min on 2 CPU cores
    python bench/entropy_study.py --steps 20 --methods grpo,steer --out /tmp/study
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ("grpo", "steer", "siren", "pos_adv_reweight", "clip_cov", "clip_higher")
SUMMARY_KEYS = (("entropy first", "rollout/entropy", "first"), ("entropy last", "rollout/entropy", "last"),
                ("train acc last10", "reward/accuracy", "tail"), ("held-out first", "eval/accuracy", "first_eval"),
                ("held-out last", "eval/accuracy", "last_eval"))


def run_method(method: str, out: str, steps: int, eval_samples: int, diagnostics_every: int, seed: int) -> str:
  """Trains one method in a subprocess (a fresh process per run: no compile cache shared between methods,
  as a user would launch them) and returns its run directory."""
  run_dir = os.path.join(out, method)
  config = os.path.join(_ROOT, "configs", f"{method}.py")
  command = [sys.executable, os.path.join(_ROOT, "launch", "tpu_pod.py"), f"--config={config}",
             f"--config.train.run_dir={run_dir}", f"--config.train.steps={steps}",
             f"--config.train.seed={seed}", f"--config.eval.num_samples={eval_samples}",
             f"--config.diagnostics.every={diagnostics_every}", "--config.log.tensorboard=False"]
  start = time.monotonic()
  subprocess.run(command, check=True)
  print(f"{method}: {time.monotonic() - start:.0f} s", flush=True)
  return run_dir


def _summary(run_dir: str) -> dict[str, float]:
  with open(os.path.join(run_dir, "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  out = {}
  for label, key, how in SUMMARY_KEYS:
    values = [r[key] for r in rows if r.get(key) is not None]
    if not values:
      continue
    out[label] = {"first": values[0], "last": values[-1], "tail": sum(values[-10:]) / len(values[-10:]),
                  "first_eval": values[0], "last_eval": values[-1]}[how]
  return out


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--methods", default=",".join(METHODS))
  parser.add_argument("--steps", type=int, default=60)
  parser.add_argument("--eval-samples", type=int, default=8, help="held-out samples per prompt (avg@k, pass@k)")
  parser.add_argument("--diagnostics-every", type=int, default=10)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", default=os.path.join("runs", "entropy_study"))
  args = parser.parse_args()
  methods = [m for m in args.methods.split(",") if m]
  run_dirs = [run_method(m, args.out, args.steps, args.eval_samples, args.diagnostics_every, args.seed)
              for m in methods]
  report_dir = os.path.join(args.out, "report")
  subprocess.run([sys.executable, "-m", "rlvr_jax.report", *run_dirs, "--out", report_dir], check=True)
  labels = [label for label, _, _ in SUMMARY_KEYS]
  print("| method | " + " | ".join(labels) + " |")
  print("|---" * (len(labels) + 1) + "|")
  for method, run_dir in zip(methods, run_dirs):
    summary = _summary(run_dir)
    print(f"| {method} | " + " | ".join(f"{summary[k]:.3f}" if k in summary else "-" for k in labels) + " |")
  print(f"figures and report.md in {report_dir}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
