"""Markdown rows of docs/scale.md from compile-check reports (`launch/compile_check.py --json FILE`).

    python -m rlvr_jax.scale.table REPORT.json ...

One row per report: the run, the slice, the settings that shape its programs, per-program total GiB per
device (against the slice's HBM), whether everything fits, the roofline-bound step time by stage, and the
seconds the compiles took (cached compiles count their original time).
"""

from __future__ import annotations

import json
import sys

GIB = 1 << 30
PROGRAM_ORDER = ("prefill", "decode", "score", "score_reference", "update")

HEADER = ("| run | slice | mesh (fsdp x tensor) | scan / remat / attention | micro-batches | sampler calls | prefill | decode | score "
          "| update | HBM | fits | step s (rollout + scoring + updates) | compile s |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def row(report: dict) -> str:
  """One markdown row of a report's JSON."""
  s = report["settings"]
  programs = {p["name"]: p for p in report["programs"]}

  def gib(name: str) -> str:
    p = programs.get(name)
    if p is None:
      return "-"
    mark = "" if p["fits"] else " ✗"
    refused = ">" if p["out_of_memory"] else ""
    return f"{refused}{p['total_bytes'] / GIB:.1f}{mark}"

  step = report.get("step_seconds")
  step_text = (f"{step['total']:.0f} ({step['rollout']:.0f} + {step['scoring']:.0f} + {step['updates']:.0f})"
               if step and {"prefill", "decode", "score", "update"} <= set(programs) else "-")
  compile_seconds = sum(p["compile_seconds"] for p in report["programs"])
  attention = s.get("attention_kernel", s["model.attention"])
  per_call = s.get("rollout.prompts_per_call", s["rollout.gen_prompts"])
  calls = f"{s['rollout.gen_prompts'] // per_call} x {per_call} prompts"
  return (f"| {report['run']} | {report['target']} | {s['mesh.fsdp']} x {s['mesh.tensor']} | "
          f"{'scan' if s['model.scan_layers'] else 'unrolled'} / {'remat' if s['model.remat'] else 'no remat'} / "
          f"{attention} | {s['train.micro_batches']} | {calls} | {gib('prefill')} | {gib('decode')} | "
          f"{gib('score')}{' / ' + gib('score_reference') if 'score_reference' in programs else ''} | "
          f"{gib('update')} | {report['capacity_bytes'] / GIB:.2f} | {'yes' if report['fits'] else 'no'} | "
          f"{step_text} | {compile_seconds:.0f} |")


def main(paths: list[str]) -> None:
  print(HEADER)
  for path in paths:
    with open(path, encoding="utf-8") as f:
      print(row(json.load(f)))


if __name__ == "__main__":
  main(sys.argv[1:])
