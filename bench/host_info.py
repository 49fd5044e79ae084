"""One line naming the machine a bench ran on, printed above its table.

Why: CPU figures on this project's 2-core development machines depend on the host drawn, not only on
the code. The same commit's tiny update step read 0.86x torch on one host (2026-12-01) and 1.14-1.49x on
an AMD EPYC host (2026-12-02); the ~0.5B static sampler call took 148-212 s on the first and 108 s on the
second. A ratio is only comparable to one measured on the same CPU model, under a similar load.
"""

from __future__ import annotations

import os
import platform


def cpu_model() -> str:
  """The CPU's marketing name from /proc/cpuinfo (Linux), else what `platform` knows."""
  try:
    with open("/proc/cpuinfo") as cpuinfo:
      for line in cpuinfo:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine() or "unknown CPU"


def describe() -> str:
  """'host: <CPU model>, <n> usable cores of <m>, load <1-minute load average>'."""
  usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
  return f"host: {cpu_model()}, {usable} usable cores of {os.cpu_count()}, load {load:.2f}"
