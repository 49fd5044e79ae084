"""`python -m rlvr_jax.report RUN_DIR [RUN_DIR ...] [--out DIR]`: figures and report.md for the runs.

The output directory defaults to RUN_DIR/report for one run; comparing several runs needs --out.
"""

from __future__ import annotations

import argparse
import os
import sys

from rlvr_jax.report._build import build_report


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m rlvr_jax.report", description=__doc__.split("\n")[0])
  parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
  parser.add_argument("--out", default="", help="output directory (default RUN_DIR/report for one run)")
  args = parser.parse_args(argv)
  if not args.out and len(args.run_dirs) > 1:
    print(f"error: --out is required with {len(args.run_dirs)} run directories", file=sys.stderr)
    return 2
  out = args.out or os.path.join(args.run_dirs[0], "report")
  try:
    files = build_report(args.run_dirs, out)
  except (FileNotFoundError, ValueError) as e:  # a run directory that is missing or holds malformed logs
    print(f"error: {e}", file=sys.stderr)
    return 2
  for note in files.notes:
    print(f"skipped {note}")
  print(f"wrote {files.markdown} and {len(files.figures)} figure(s)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
