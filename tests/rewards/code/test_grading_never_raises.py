"""Grading never raises into the trainer: random and adversarial bytes on every channel of a run give
a verdict, both in the trainer's parsers (thousands of cases) and end to end through the reward."""

from __future__ import annotations

import json
import random

from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards.code import CodeExecReward, parse_spec, run_job
from rlvr_jax.rewards.code._channels import parse_judge, parse_note, parse_status
from rlvr_jax.rewards.code._grading import OUTCOMES, grade_judged, grade_stdio_case
from rlvr_jax.rewards.code._sandbox import run_result

ASSERT = parse_spec({"format": "assert", "tests": "assert f(1) == 2\nassert f(2) == 3"})
CALL = parse_spec({"format": "call", "fn_name": "f", "cases": [{"input": [1], "output": 2}]})
STDIO = parse_spec({"format": "stdio", "cases": [{"input": "1\n", "output": "2\n"}]})
ADVERSARIAL_LINES = [
    b'{"event": "test", "index": 0, "status": "passed"}', b'{"event": "test", "index": [0], "status": "passed"}',
    b'{"event": "test", "index": 99, "status": "passed"}', b'{"event": ["test"], "index": 0}',
    b'{"event": "test", "index": 0, "status": {"a": 1}}', b'{"event": "exit", "candidate": {"code": [1]}}',
    b'{"event": "started", "candidate": 1, "launcher": "x"}', b'{"event": "exit", "oom_kills": -5, "survivors": 1e308}',
    b'{"event": "case", "index": true, "status": "passed"}', b'{"event": "load", "status": "syntax_error", "message": 5}',
    b"1" * 5000, b"[" * 100000, b"{" * 30000, b'{"event": "finished"}' * 3, b"\xff\xfe\x00", b"null", b"[]",
    b'{"event": "exit", "timed_out": "yes", "candidate": {"signal": 999}}', b'"' + b"a" * 70000 + b'"',
]


def _random_channel(rng: random.Random) -> bytes:
  parts = []
  for _ in range(rng.randrange(0, 6)):
    kind = rng.randrange(3)
    if kind == 0:
      parts.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64))))
    elif kind == 1:
      parts.append(rng.choice(ADVERSARIAL_LINES))
    else:
      record = {"event": rng.choice(["test", "case", "load", "exit", "started", "finished", "protocol_error",
                                     "candidate_gone", "judge_error", "error"]),
                "index": rng.choice([0, 1, -1, 2 ** 70, "0", None, 1.5]),
                "status": rng.choice(["passed", "failed", "error", "ok", "syntax_error", 3, None]),
                "candidate": rng.choice([{"code": 0}, {"signal": 9}, None, [1], {"code": "0"}]),
                "timed_out": rng.choice([True, False, 1]), "message": rng.choice(["m", 7, ["x"], "y" * 999])}
      parts.append(json.dumps(record).encode())
  return b"\n".join(parts)


def test_random_and_adversarial_channels_always_give_a_verdict():
  """Property: for 3000 random combinations of bytes on the status, result, stdout and stderr channels
  of assert, call and stdio runs, parsing and grading return a verdict of a known outcome."""
  rng = random.Random(1234)
  for trial in range(3000):
    spec = (ASSERT, CALL, STDIO)[trial % 3]
    job = run_job(spec)
    data = {name: _random_channel(rng) for name in ("status", "results", "stdout", "stderr")}
    status = parse_status(data["status"])
    parse_judge(data["results"], spec.num_tests)
    parse_note(data["results"])
    if not status.started:
      continue  # no launcher "started": the trainer raises SandboxError (only its own launcher writes there)
    status = status.__class__(**{**status.__dict__, "pids": ()})  # never signal real pids from a fuzz case
    result = run_result(status, data, set(rng.sample(["stdout", "results"], rng.randrange(3))), rng.random() < 0.5,
                        job)
    if spec is STDIO:
      outcome, detail = grade_stdio_case(result, "2\n")
    else:
      verdict = grade_judged(result, spec.num_tests)
      outcome, detail = verdict.outcome, verdict.detail
      assert 0 <= verdict.passed <= spec.num_tests
    assert outcome in OUTCOMES and isinstance(detail, str)


def test_forged_passes_need_the_judge():
  """A run whose result channel says "passed" for every test but came from no finished judge is a
  pass only when every test index reported passed -- which only the judge can write."""
  status = parse_status(b'{"event": "started", "candidate": 2, "judge": 3, "launcher": 4}\n'
                        b'{"event": "exit", "candidate": null, "judge": {"code": 0}, "timed_out": false}\n')
  status = status.__class__(**{**status.__dict__, "pids": ()})
  data = {"stdout": b"", "stderr": b"", "status": b"",
          "results": b'{"event": "test", "index": 0, "status": "passed"}\n'}
  verdict = grade_judged(run_result(status, data, set(), True, run_job(ASSERT)), ASSERT.num_tests)
  assert (verdict.outcome, verdict.passed) == ("crash", 1)  # never finished, test 1 never reported


PROGRAMS = [
    "import os, random\nrng = random.Random({seed})\n"
    "for fd in (1, 2, 3, 4):\n  try:\n    os.write(fd, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5000))))\n"
    "  except OSError:\n    pass\n"
    "def f(x):\n  return rng.choice([x + 1, None, [x] * 3, {{x: x}}, 'x' * 10])\n"
    "if rng.random() < 0.3:\n  os._exit(rng.randrange(256))\n",
]


def test_random_bytes_from_programs_end_to_end():
  """Programs writing random bytes on stdout, stderr and both channel fds, then returning random values
  or exiting with random codes: the reward call returns a verdict for every one, in every format."""
  completions = [f"```python\n{PROGRAMS[0].format(seed=seed)}\n```" for seed in range(12)]
  answers = [json.dumps({"format": "assert", "tests": "assert f(1) == 2"}),
             json.dumps({"format": "call", "fn_name": "f", "cases": [{"input": [1], "output": 2}]}),
             json.dumps({"format": "stdio", "cases": [{"input": "1\n", "output": "2\n"}]})] * 4
  with CodeExecReward(RewardConfig(timeout_s=5.0, workers=2)) as reward:
    result = reward(completions, answers)
  assert result.scores.shape == (12,)
  assert sum(result.metrics[k] for k in ("correct", "no_answer", "timeouts", "crashes", "errors", "failed",
                                         "syntax_errors", "protocol_errors")) == 12
