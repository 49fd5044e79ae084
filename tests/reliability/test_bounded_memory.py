"""One huge row must not take the trainer's memory with it (a 104 MB row once took it to 15 GB and the
kernel killed it without a message). Rows are measured in bytes before anything is tokenized: a JSONL line
is read with a bounded readline, a question longer than max_prompt_length x twice the tokenizer's longest
token is dropped as too long without being tokenized, and a row over the row limit is skipped (here, with
data.skip_malformed) or named.

Each case loads the prompts in a fresh subprocess, after a warm-up load of a small file that has paid for
the imports and the tokenizer, and reports how far its peak resident memory (VmHWM, reset to the current
size through /proc/self/clear_refs, since the imports' own peak would hide a smaller one) rises above
the resident size before the load (Linux). Measured on the development machine, the growth before ->
after the byte checks: JSONL with a 5 MB question 2016 -> 15 MiB, JSONL with a 20 MB row 7859 MiB (86 s)
-> 32 MiB, Parquet with a 5 MB question 2049 -> 23 MiB.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.reliability.launcher_runs import ROOT

GROWTH_LIMIT_MIB = 64
ROWS = [{"question": f"Compute {i}+1.", "answer": str(i + 1)} for i in range(8)]

_SCRIPT = """
import json, sys
from rlvr_jax.data import PromptDataConfig, load_prompts
from rlvr_jax.embedded import builtin_tokenizer

def status(key):
  with open("/proc/self/status") as f:
    return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))

tokenizer = builtin_tokenizer()
config = lambda path: PromptDataConfig(files=(path,), max_prompt_length=128, skip_malformed=True, prompts_per_step=4)
load_prompts(config(sys.argv[1]), tokenizer)
with open("/proc/self/clear_refs", "w") as f:
  f.write("5")  # resets the peak (VmHWM) to the current resident size, below the peak of the imports
before = status("VmRSS")
_, counts = load_prompts(config(sys.argv[2]), tokenizer)
print(json.dumps({"growth_mib": (status("VmHWM") - before) / 2 ** 20, "before_mib": before / 2 ** 20,
                  "counts": counts.as_dict()}))
"""


def _jsonl(path, big_row: dict | None) -> str:
  with open(path, "w") as f:
    for row in ROWS + ([big_row] if big_row else []):
      f.write(json.dumps(row) + "\n")
  return str(path)


def _parquet(path, big_row: dict | None) -> str:
  pa = pytest.importorskip("pyarrow")
  pq = pytest.importorskip("pyarrow.parquet")
  pq.write_table(pa.Table.from_pylist(ROWS + ([big_row] if big_row else [])), str(path))
  return str(path)


@pytest.mark.parametrize("case, expected_counts", [
    ("jsonl: 5 MB question", {"too_long": 1, "malformed": 0, "kept": 8}),
    ("jsonl: 20 MB row", {"too_long": 0, "malformed": 1, "kept": 8}),
    ("parquet: 5 MB question", {"too_long": 1, "malformed": 0, "kept": 8}),
])
@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc to reset the peak RSS")
def test_a_huge_row_costs_bounded_memory(tmp_path, case, expected_counts):
  five_mb = {"question": "1+" * (5 << 19), "answer": "1"}
  big = {
      "jsonl: 5 MB question": lambda: _jsonl(tmp_path / "big.jsonl", five_mb),
      "jsonl: 20 MB row": lambda: _jsonl(tmp_path / "big.jsonl", {"question": "1+" * (10 << 20), "answer": "1"}),
      "parquet: 5 MB question": lambda: _parquet(tmp_path / "big.parquet", five_mb),
  }[case]()
  # The warm-up reads the same format, so its imports (pyarrow) are paid before the measurement.
  small = _parquet(tmp_path / "small.parquet", None) if big.endswith(".parquet") else _jsonl(tmp_path / "small.jsonl",
                                                                                             None)
  env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}
  result = subprocess.run([sys.executable, "-c", _SCRIPT, small, big], capture_output=True, text=True, env=env,
                          timeout=300, cwd=str(tmp_path))
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(result.stdout.strip().splitlines()[-1])
  print(f"{case}: peak RSS growth {report['growth_mib']:.1f} MiB over {report['before_mib']:.0f} MiB")
  assert {k: report["counts"][k] for k in expected_counts} == expected_counts
  assert report["growth_mib"] < GROWTH_LIMIT_MIB, f"{case}: {report['growth_mib']:.0f} MiB"
