"""The executor pool: throughput on a batch of 200, a hanging sample delays only itself, and the
sandbox's own failures raise instead of scoring."""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import pytest

from rlvr_jax.embedded._code_task import CodeTask, generate_code_task, reference_solution
from rlvr_jax.rewards.code import (ExecutorPool, SampleTask, SandboxConfig, SandboxError, parse_spec,
                                   probe_isolation)

QUICK = parse_spec({"format": "assert", "tests": "assert f(1) == 2"})


def test_batch_of_200_within_budget():
  """200 samples (half correct) on 2 workers: all graded right, well inside 60 s."""
  rows = generate_code_task(CodeTask(num_tests=3), "train", 100, seed=5)
  tasks = []
  for row in rows:
    spec = parse_spec(row["answer"])
    name = spec.steps[0][0].split("(")[0].removeprefix("assert ")
    tasks.append(SampleTask(reference_solution(row["question"]), spec))
    tasks.append(SampleTask(f"def {name}(*args):\n  return None", spec))
  with ExecutorPool(timeout_s=10.0, workers=2) as pool:
    start = time.monotonic()
    results = pool.map(tasks)
    elapsed = time.monotonic() - start
  assert [r.outcome for r in results] == ["passed", "failed"] * 100
  assert elapsed < 60, f"200 samples took {elapsed:.1f} s"


def test_hanging_sample_delays_only_itself():
  """With a 2 s limit, samples submitted after a hanging one finish before its timeout; the hanging
  one ends at its limit, not later."""
  with ExecutorPool(timeout_s=2.0, workers=2) as pool:
    start = time.monotonic()
    finished: dict[int, float] = {}
    futures = [pool.submit(SampleTask("import time\ntime.sleep(600)", QUICK))]
    futures += [pool.submit(SampleTask("def f(x):\n  return x + 1", QUICK)) for _ in range(4)]
    for index, future in enumerate(futures):
      future.add_done_callback(lambda _, index=index: finished.setdefault(index, time.monotonic() - start))
    outcomes = [future.result().outcome for future in futures]
  assert outcomes == ["timeout"] + ["passed"] * 4
  assert max(finished[i] for i in range(1, 5)) < 2.0 <= finished[0] < 2.0 + 3.0, finished


def test_broken_interpreter_raises():
  """A sandbox that cannot start or run its zygote is an environment error, never a score of 0: the
  probe's trial runs raise at start-up."""
  missing = SandboxConfig(python="/nonexistent/python3", isolate_network="off", drop_privileges="off")
  with pytest.raises(SandboxError, match="sandbox.python='/nonexistent/python3'"):
    ExecutorPool(missing, timeout_s=2.0, workers=1)
  broken = SandboxConfig(python="/bin/false", isolate_network="off", drop_privileges="off", memory_cgroup="off")
  with pytest.raises(SandboxError, match="zygote"):
    ExecutorPool(broken, timeout_s=2.0, workers=1)


def test_dead_zygote_is_restarted_and_a_broken_one_raises():
  """A zygote killed mid-training (a program of the trainer's own user could) is restarted on the next
  run; if the restart cannot run anything either, the run raises SandboxError."""
  with ExecutorPool(timeout_s=5.0, workers=1) as pool:
    state = pool._sandboxes[0]._state
    state["zygote"].process.kill()
    state["zygote"].process.wait()
    assert pool.map([SampleTask("def f(x):\n  return x + 1", QUICK)])[0].outcome == "passed"
    pool._sandboxes[0].isolation = dataclasses.replace(pool.isolation, python="/bin/false")
    state["zygote"].process.kill()
    state["zygote"].process.wait()
    with pytest.raises(SandboxError, match="zygote"):
      pool.map([SampleTask("def f(x):\n  return x + 1", QUICK)])
    assert pool.map([SampleTask(None, QUICK)])[0].outcome == "no_code"  # nothing to run


def test_required_isolation_raises_and_auto_warns(caplog):
  """'require' raises with the reason; 'auto' logs what is missing and why (and a sandbox whose
  judged trial run cannot work raises at start-up rather than scoring)."""
  with pytest.raises(SandboxError, match="syscall_filter='require' but"):
    probe_isolation(SandboxConfig(python="/nonexistent/python3"))
  with pytest.raises(SandboxError, match="drop_privileges='require' but"):
    probe_isolation(SandboxConfig(python="/nonexistent/python3", drop_privileges="require", syscall_filter="off"))
  with pytest.raises(SandboxError, match="isolate_network='require' but no private network namespace"):
    probe_isolation(SandboxConfig(python="/nonexistent/python3", isolate_network="require",
                                  drop_privileges="off", syscall_filter="off"))
  with pytest.raises(SandboxError, match="memory_cgroup='require' but sandbox.cgroup_parent='/nonexistent'"):
    probe_isolation(SandboxConfig(memory_cgroup="require", cgroup_parent="/nonexistent"))
  with caplog.at_level(logging.WARNING, logger="rlvr_jax.rewards.code._isolation"):
    with pytest.raises(SandboxError, match="does not work on this host"):
      probe_isolation(SandboxConfig(python="/nonexistent/python3", syscall_filter="off", grace_s=9.0))
  assert "without isolate network" in caplog.text and "without drop privileges" in caplog.text
  assert "without memory cgroup" in caplog.text and "without syscall filter" in caplog.text


@pytest.mark.parametrize("kwargs, message", [
    (dict(memory_bytes=0), "sandbox.memory_bytes=0"),
    (dict(max_processes=True), "sandbox.max_processes=True"),
    (dict(max_open_files=8), "sandbox.max_open_files=8"),
    (dict(isolate_network="maybe"), "sandbox.isolate_network='maybe'"),
    (dict(drop_privileges="yes"), "sandbox.drop_privileges='yes'"),
    (dict(grace_s=float("inf")), "sandbox.grace_s=inf"),
    (dict(max_message_bytes=1 << 32), "sandbox.max_message_bytes=4294967296"),
    (dict(memory_cgroup="v3"), "sandbox.memory_cgroup='v3'"),
    (dict(syscall_filter="auto"), "sandbox.syscall_filter='auto'; use require or off"),
])
def test_bad_sandbox_settings(kwargs, message):
  with pytest.raises(ValueError, match=message):
    SandboxConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [(dict(workers=0), "workers=0"),
                                             (dict(timeout_s=0), "timeout_s=0")])
def test_bad_pool_settings(kwargs, message):
  with pytest.raises(ValueError, match=message):
    ExecutorPool(**{"timeout_s": 1.0, "workers": 1, **kwargs})


def test_spec_json_round_trip_of_generated_rows():
  """Every generated answer parses into the spec the pool runs (guards the data/reward contract)."""
  for test_format in ("assert", "call", "stdio"):
    for row in generate_code_task(CodeTask(test_format=test_format), "heldout", 5):
      assert parse_spec(row["answer"]).num_tests == 5 and json.loads(row["answer"])["format"] == test_format


def test_concurrent_pools_never_share_a_uid(dropped_privileges):
  """Two live pools get disjoint uids, so one pool's end-of-run kill-by-uid cannot hit the other's
  program: a slow sample of pool A passes while pool B finishes runs on its own uids meanwhile."""
  with ExecutorPool(timeout_s=5.0, workers=2) as a, ExecutorPool(timeout_s=5.0, workers=2) as b:
    uids_a = {a.uid(0), a.uid(1), a.judge_uid(0), a.judge_uid(1)}
    assert len(uids_a) == 4 and not uids_a & {b.uid(0), b.uid(1), b.judge_uid(0), b.judge_uid(1)}
    slow = a.submit(SampleTask("import time\ntime.sleep(1.5)\ndef f(x):\n  return x + 1", QUICK))
    time.sleep(0.3)
    assert [r.outcome for r in b.map([SampleTask("def f(x):\n  return x + 1", QUICK)] * 4)] == ["passed"] * 4
    assert slow.result().outcome == "passed"
