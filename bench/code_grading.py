"""Per-sample grading time of the code reward: this tree against a reference commit, in one run.

The reference (default: 3770041, the sandbox before the judge process, memory cgroups and syscall
filter) is exported with `git archive` into a temporary directory, and each implementation grades the
same samples in a subprocess of its own (PYTHONPATH pointing at its tree), alternating old and new for
`--repeats` rounds; the table gives the median seconds per sample and the ratio new / old.

Workloads: the built-in code task (assert tests, the embedded default, and its call / stdio forms;
half reference solutions, half wrong programs) and a HumanEval-format fixture (check(candidate) tests
through the HumanEval loader; canonical and wrong solutions).

  python bench/code_grading.py [--reference 3770041] [--rows 40] [--repeats 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# HumanEval-format records (task_id, prompt, canonical_solution, test, entry_point), written for this bench.
HUMANEVAL = [
    {"task_id": "Bench/0", "entry_point": "has_close",
     "prompt": "from typing import List\n\n\ndef has_close(numbers: List[float], t: float) -> bool:\n"
               "    \"\"\"Are any two numbers closer than t?\"\"\"\n",
     "canonical_solution": "    return any(abs(a - b) < t for i, a in enumerate(numbers)\n"
                           "               for j, b in enumerate(numbers) if i != j)\n",
     "test": "\n\nMETADATA = {'author': 'bench'}\n\n\ndef check(candidate):\n"
             "    assert candidate([1.0, 2.0, 3.9], 0.3) == False\n    assert candidate([1.0, 2.8, 3.0], 0.3) == True\n"
             "    assert candidate([1.0, 2.0, 5.9, 4.0, 5.0], 0.95) == True\n"
             "    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 1.0) == True\n"
             "    assert candidate([1.1, 2.2, 3.1, 4.1, 5.1], 0.5) == False\n"},
    {"task_id": "Bench/1", "entry_point": "separate",
     "prompt": "from typing import List\n\n\ndef separate(s: str) -> List[str]:\n"
               "    \"\"\"Split a string of balanced parenthesis groups into the groups, ignoring spaces.\"\"\"\n",
     "canonical_solution": "    out, cur, depth = [], [], 0\n    for c in s:\n        if c == ' ':\n            continue\n"
                           "        cur.append(c)\n        depth += 1 if c == '(' else -1\n        if depth == 0:\n"
                           "            out.append(''.join(cur))\n            cur = []\n    return out\n",
     "test": "\n\ndef check(candidate):\n    assert candidate('(()()) ((())) () ((())()())') == "
             "['(()())', '((()))', '()', '((())()())']\n    assert candidate('() (()) ((())) (((())))') == "
             "['()', '(())', '((()))', '(((())))']\n    assert candidate('(()(())((())))') == ['(()(())((())))']\n"
             "    assert candidate('( ) (( )) (( )( ))') == ['()', '(())', '(()())']\n"},
    {"task_id": "Bench/2", "entry_point": "mean_deviation",
     "prompt": "from typing import List\n\n\ndef mean_deviation(xs: List[float]) -> float:\n"
               "    \"\"\"Mean absolute deviation around the mean.\"\"\"\n",
     "canonical_solution": "    m = sum(xs) / len(xs)\n    return sum(abs(x - m) for x in xs) / len(xs)\n",
     "test": "\n\ndef check(candidate):\n    assert abs(candidate([1.0, 2.0, 3.0]) - 2.0/3.0) < 1e-6\n"
             "    assert abs(candidate([1.0, 2.0, 3.0, 4.0]) - 1.0) < 1e-6\n"
             "    assert abs(candidate([1.0, 2.0, 3.0, 4.0, 5.0]) - 6.0/5.0) < 1e-6\n"},
    {"task_id": "Bench/3", "entry_point": "rolling_max",
     "prompt": "from typing import List\n\n\ndef rolling_max(xs: List[int]) -> List[int]:\n"
               "    \"\"\"The running maximum of xs.\"\"\"\n",
     "canonical_solution": "    out, best = [], None\n    for x in xs:\n        best = x if best is None else max(best, x)\n"
                           "        out.append(best)\n    return out\n",
     "test": "\n\ndef check(candidate):\n    assert candidate([]) == []\n    assert candidate([1, 2, 3, 4]) == [1, 2, 3, 4]\n"
             "    assert candidate([4, 3, 2, 1]) == [4, 4, 4, 4]\n    assert candidate([3, 2, 3, 100, 3]) == [3, 3, 3, 100, 100]\n"},
]

# Runs in a subprocess with PYTHONPATH = the tree under test; prints {workload: [samples, seconds]}.
WORKER = r"""
import json, sys, time
from rlvr_jax.embedded import CodeTask, generate_code_task, reference_solution
from rlvr_jax.data import humaneval_rows
from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards.code import CodeExecReward
rows, workers, humaneval = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
fence = lambda code: "```python\n" + code + "\n```"
workloads = {}
for test_format in ("assert", "call", "stdio"):
  task = generate_code_task(CodeTask(num_tests=5, test_format=test_format), "train", rows, seed=5)
  completions, answers = [], []
  for row in task:
    good = reference_solution(row["question"])
    bad = good.replace("print(", "print(1 + ") if test_format == "stdio" else good.replace("return ", "return 1 + ")
    completions += [fence(good), fence(bad)]
    answers += [row["answer"]] * 2
  workloads[f"builtin_code/{test_format}"] = (completions, answers)
completions, answers = [], []
for record, row in zip(humaneval, humaneval_rows(humaneval)):
  signature = record["prompt"].split("def ", 1)[1].split(":\n", 1)[0]
  good = "def " + signature + ":\n" + record["canonical_solution"]
  completions += [fence(good), fence("def " + signature + ":\n    return None")]
  answers += [row["answer"]] * 2
reps = max(1, (2 * rows) // len(completions))
workloads["humaneval_fixture"] = (completions * reps, answers * reps)
out = {}
with CodeExecReward(RewardConfig(timeout_s=10.0, workers=workers)) as reward:
  reward(*workloads["builtin_code/assert"])  # start the pool (probe, zygotes) outside the timing
  for name, (completions, answers) in workloads.items():
    start = time.perf_counter()
    result = reward(completions, answers)
    out[name] = [len(completions), time.perf_counter() - start, int(result.correct.sum())]
print(json.dumps(out))
"""


def _export(commit: str, directory: str) -> str:
  archive = subprocess.run(["git", "-C", REPO, "archive", commit, "rlvr_jax"], check=True, capture_output=True).stdout
  subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
  return directory


def _measure(tree: str, rows: int, workers: int) -> dict:
  env = {**os.environ, "PYTHONPATH": tree}
  out = subprocess.run([sys.executable, "-c", WORKER, str(rows), str(workers), json.dumps(HUMANEVAL)],
                       env=env, check=True, capture_output=True, text=True, cwd=tree).stdout
  return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--reference", default="3770041", help="commit to compare against")
  parser.add_argument("--rows", type=int, default=40, help="problems per built-in workload (2 samples each)")
  parser.add_argument("--repeats", type=int, default=3, help="alternating old/new rounds (median taken)")
  parser.add_argument("--workers", type=int, default=1, help="samples graded in parallel")
  args = parser.parse_args(argv)
  with tempfile.TemporaryDirectory(prefix="rlvr_bench_reference_") as old_tree:
    _export(args.reference, old_tree)
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for _ in range(args.repeats):
      runs["old"].append(_measure(old_tree, args.rows, args.workers))
      runs["new"].append(_measure(REPO, args.rows, args.workers))
  print(f"code grading, {args.workers} worker(s), median of {args.repeats} alternating rounds "
        f"(reference {args.reference} vs this tree)\n")
  print("| workload | samples | passed (old / new) | old ms / sample | new ms / sample | new / old |")
  print("|---|---:|---:|---:|---:|---:|")
  for name in runs["new"][0]:
    samples = runs["new"][0][name][0]
    old = statistics.median(r[name][1] for r in runs["old"]) / samples * 1e3
    new = statistics.median(r[name][1] for r in runs["new"]) / samples * 1e3
    passed = f"{runs['old'][0][name][2]} / {runs['new'][0][name][2]}"
    print(f"| {name} | {samples} | {passed} | {old:.1f} | {new:.1f} | {new / old:.2f}x |")
  return 0


if __name__ == "__main__":
  sys.exit(main())
