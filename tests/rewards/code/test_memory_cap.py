"""The whole-run memory cap: with a memory cgroup, forked children share one limit (the kernel kills
inside the run's cgroup); without one, a run is one process (fork refused, threads allowed), so
RLIMIT_AS bounds the run. Plus where the probe looks for cgroups, on fake cgroup file systems."""

from __future__ import annotations

import json
import os

import pytest

from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards.code import CodeExecReward, SandboxConfig, _cgroups as cgroups, probe_isolation

MB = 1 << 20
CAP = SandboxConfig(memory_bytes=320 * MB)
FORK_MEMORY = """import json, os, time
children = []
for i in range(4):
  try:
    pid = os.fork()
  except OSError as e:
    print(json.dumps({"fork": e.errno}))
    raise SystemExit(0)
  if pid == 0:
    block = bytearray(120 << 20)
    for page in range(0, len(block), 4096):
      block[page] = 1
    time.sleep(1)
    os._exit(0)
  children.append(pid)
time.sleep(0.2)
statuses = [os.waitpid(pid, 0)[1] for pid in children]
print(json.dumps({"killed": sum(os.WIFSIGNALED(s) for s in statuses), "alive_at_end": len(statuses)}))
"""


@pytest.fixture(scope="module")
def cap_isolation():
  return probe_isolation(CAP)


def test_forked_children_share_the_runs_cap(run, cap_isolation):
  """4 children x 120 MB under a 320 MB run cap: the cgroup OOM-kills until the run fits (at most two
  such children can hold their memory at once), and the run reports the kills."""
  if cap_isolation.cgroup is None:
    pytest.skip(f"no memory cgroup on this host: {cap_isolation.cgroup_reason}")
  result = run(FORK_MEMORY, timeout_s=10.0, config=CAP)
  report = json.loads(result.stdout.splitlines()[-1]) if result.stdout else None
  assert result.oom_kills >= 2
  if report is not None:  # the parent itself may be the one killed: then the cap held all the same
    assert report["killed"] >= 2


def test_without_a_cgroup_a_run_is_one_process(run):
  """memory_cgroup='off': fork fails (EAGAIN) so RLIMIT_AS bounds the whole run; threads still work;
  one process cannot pass the limit."""
  config = SandboxConfig(memory_bytes=320 * MB, memory_cgroup="off")
  assert json.loads(run(FORK_MEMORY, config=config).stdout) == {"fork": 11}
  threads = run("import threading\nout = []\nts = [threading.Thread(target=out.append, args=(i,)) for i in range(8)]\n"
                "[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(out) == list(range(8)))", config=config)
  assert threads.stdout == b"True\n"
  big = run("x = bytearray(400 << 20)", config=config)
  assert big.exit_code == 1 and b"MemoryError" in big.stderr


def test_fork_memory_through_the_reward_is_contained():
  """The same program as an assert-test sample: a failure, and the reward call returns."""
  answer = json.dumps({"format": "assert", "tests": "assert f() == 1"})
  program = "```python\n" + FORK_MEMORY.replace("print(", "result = (") + "\ndef f():\n  return 1\n```"
  with CodeExecReward(RewardConfig(timeout_s=10.0, workers=1), sandbox=CAP) as reward:
    _, [verdict] = reward.evaluate([program], [answer])
  assert verdict.outcome in ("crash", "passed")  # passed only if the parent survived the kills
  if verdict.outcome == "crash":
    assert "memory cap" in verdict.detail or "process" in verdict.detail


def _fake_host(tmp_path, monkeypatch, mountinfo: str, self_cgroup: str):
  (tmp_path / "mountinfo").write_text(mountinfo)
  (tmp_path / "cgroup").write_text(self_cgroup)
  monkeypatch.setattr(cgroups, "MOUNTINFO", str(tmp_path / "mountinfo"))
  monkeypatch.setattr(cgroups, "SELF_CGROUP", str(tmp_path / "cgroup"))


def test_v2_parent_is_the_nearest_ancestor_delegating_memory(tmp_path, monkeypatch):
  """v2: the trainer's own cgroup has processes (cannot enable controllers for children); its parent
  slice enables memory for children, so runs go there; with no such ancestor, none is found."""
  root = tmp_path / "cg2"
  scope = root / "user.slice" / "session.scope"
  scope.mkdir(parents=True)
  (root / "cgroup.subtree_control").write_text("cpu io memory pids\n")
  (root / "user.slice" / "cgroup.subtree_control").write_text("memory pids\n")
  (scope / "cgroup.subtree_control").write_text("")
  _fake_host(tmp_path, monkeypatch, f"30 23 0:26 / {root} rw - cgroup2 cgroup2 rw\n", "0::/user.slice/session.scope\n")
  assert cgroups.find_parent(None) == (cgroups.CgroupParent(2, str(root / "user.slice")), "")
  (root / "user.slice" / "cgroup.subtree_control").write_text("pids\n")
  (root / "cgroup.subtree_control").write_text("pids\n")
  parent, reason = cgroups.find_parent(None)
  assert parent is None and "enables the memory controller" in reason


def test_v1_parent_is_the_own_memory_cgroup(tmp_path, monkeypatch):
  mount = tmp_path / "memory"  # the container sees the hierarchy's /docker at its mount point
  (mount / "abc").mkdir(parents=True)
  _fake_host(tmp_path, monkeypatch, f"35 31 0:32 /docker {mount} rw - cgroup cgroup rw,memory\n",
             "4:memory:/docker/abc\n0::/\n")
  assert cgroups.find_parent(None) == (cgroups.CgroupParent(1, str(mount / "abc")), "")


def test_slot_cgroup_v2_files(tmp_path):
  """A v2 slot: memory enabled for the pool's children, the cap, no swap, group OOM kill; stale pools
  of dead trainers are removed."""
  parent = tmp_path / "parent"
  parent.mkdir()
  (parent / "cgroup.controllers").write_text("memory\n")
  stale = parent / "rlvr-sandbox-999999999-0" / "slot"
  stale.mkdir(parents=True)
  original_mkdir = os.mkdir

  def mkdir_with_files(path, *args):  # what the kernel makes in a new v2 cgroup
    original_mkdir(path, *args)
    for name in ("memory.swap.max", "memory.oom.group"):
      open(os.path.join(path, name), "w").close()

  try:
    os.mkdir = mkdir_with_files
    slot = cgroups.SlotCgroup(cgroups.find_parent(str(parent))[0], 256 * MB)
  finally:
    os.mkdir = original_mkdir
  assert not stale.parent.exists()
  read = lambda name: open(os.path.join(slot.path, name)).read()  # noqa: E731
  assert open(os.path.join(slot.pool, "cgroup.subtree_control")).read() == "+memory"
  assert (read("memory.max"), read("memory.swap.max"), read("memory.oom.group")) == (str(256 * MB), "0", "1")
  assert slot.request == {"version": 2, "path": slot.path}
  for directory in (slot.path, slot.pool):  # a real cgroup directory has no files to remove
    for name in os.listdir(directory):
      if os.path.isfile(os.path.join(directory, name)):
        os.unlink(os.path.join(directory, name))
  assert slot.close() and not os.path.exists(slot.pool)
