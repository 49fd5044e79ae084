"""Hostile programs: each is contained, scored incorrect and counted, and the sandbox keeps working.

Guarantees that need the program to run as its own unprivileged user (blocked writes outside its
directory, no signals to other users' processes, a fork cap) or a private network namespace are
tested where the host's probe found them, and skipped with the probe's reason elsewhere.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards.code import CodeExecReward, Sandbox, SandboxConfig

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
TESTS = json.dumps({"format": "assert", "tests": "assert f(1) == 2"})
GOOD = "```python\ndef f(x):\n  return x + 1\n```"


def processes_of(uid: int) -> list[int]:
  """Pids whose real uid is `uid` (what the sandbox cleanup must leave empty)."""
  pids = []
  for entry in os.listdir("/proc"):
    if not entry.isdigit():
      continue
    try:
      with open(f"/proc/{entry}/status") as f:
        uid_line = next(line for line in f if line.startswith("Uid:"))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
      continue
    if int(uid_line.split()[1]) == uid:
      pids.append(int(entry))
  return pids


HOSTILE = [  # (expected outcome, program)
    ("timeout", "while True:\n  pass"),
    ("error", "x = bytearray(20 * 2**30)"),  # MemoryError under the address-space limit
    ("error", "with open('big.bin', 'wb') as f:\n  for _ in range(64):\n    f.write(b'0' * 2**20)"),
    ("crash", "import os\nos._exit(3)"),
    ("crash", "import ctypes\nctypes.string_at(0)"),  # SIGSEGV
]


def test_hostile_batch_scored_incorrect_and_counted():
  """Loop, 20 GB allocation, 64 MiB file, abrupt exit and segfault score `incorrect`, are counted by
  kind, stay within their time limit, and a good sample in the same and the next batch still passes."""
  programs = [f"```python\n{code}\n```" for _, code in HOSTILE] + [GOOD]
  with CodeExecReward(RewardConfig(correct=1.0, incorrect=-1.0, timeout_s=1.5, workers=2)) as reward:
    start = time.monotonic()
    extracted, results = reward.evaluate(programs, [TESTS] * len(programs))
    elapsed = time.monotonic() - start
    assert [r.outcome for r in results] == [outcome for outcome, _ in HOSTILE] + ["passed"]
    assert "MemoryError" in results[1].detail and "File too large" in results[2].detail
    assert elapsed < 1.5 + 5.0
    result = reward(programs, [TESTS] * len(programs))
    assert result.scores.tolist() == [-1.0] * len(HOSTILE) + [1.0]
    assert (result.metrics["timeouts"], result.metrics["errors"], result.metrics["crashes"]) == (1, 2, 2)
    assert reward([GOOD] * 3, [TESTS] * 3).correct.tolist() == [True] * 3


def test_file_size_capped_at_the_limit(run):
  """Writes stop at RLIMIT_FSIZE with EFBIG; the file never exceeds max_file_bytes."""
  config = SandboxConfig(max_file_bytes=1 << 20)
  result = run("import os\ntry:\n  with open('big.bin', 'wb') as f:\n    f.write(b'0' * (8 << 20))\n"
               "except OSError as e:\n  print(e.errno, os.path.getsize('big.bin'))", config=config)
  assert result.stdout.decode().split() == ["27", str(1 << 20)]  # EFBIG


def test_stdout_flood_is_capped(run):
  """A program printing 20 MB leaves the trainer holding only max_output_bytes of it."""
  config = SandboxConfig(max_output_bytes=64 << 10)
  result = run("import sys\nfor _ in range(20):\n  sys.stdout.write('x' * 2**20)", config=config)
  assert len(result.stdout) == 64 << 10 and result.stdout_truncated and result.exit_code == 0


def test_environment_is_built_from_nothing(isolation, direct_uid, monkeypatch):
  """Secrets in the trainer's environment when the sandbox starts are not in the program's: it sees
  four fixed variables."""
  monkeypatch.setenv("RLVR_FAKE_API_KEY", "sk-fake-0123456789")
  monkeypatch.setenv("HF_TOKEN", "hf_fake_token")
  with Sandbox(SandboxConfig(), isolation) as sandbox:
    result = sandbox.run("import json, os\nprint(json.dumps(dict(os.environ)))", {"format": "stdio"},
                         timeout_s=5.0, uid=direct_uid)
  environment = json.loads(result.stdout)
  assert sorted(environment) == ["HOME", "LANG", "PATH", "TMPDIR"]
  assert b"sk-fake" not in result.stdout and b"hf_fake" not in result.stdout
  assert environment["HOME"] == environment["TMPDIR"]


def test_working_directory_is_private_and_removed(run):
  """cwd, HOME and TMPDIR are one fresh directory, deleted with everything written into it."""
  result = run("import os\nopen('scratch.txt', 'w').write('x')\nprint(os.getcwd())\n"
               "print(os.environ['HOME'])\nprint(oct(os.stat('.').st_mode & 0o777))")
  cwd, home, mode = result.stdout.decode().split()
  assert cwd == home and mode == "0o700"
  assert not os.path.exists(cwd)


def test_killing_its_parent_hits_the_launcher(run):
  """os.getppid() is the launcher, not the trainer: this process survives, and the sandbox still runs."""
  result = run("import os, signal\nprint(os.getppid() != %d, flush=True)\n"
               "os.kill(os.getppid(), signal.SIGKILL)" % os.getpid())
  assert result.stdout == b"True\n"
  assert run("print('still working')").stdout == b"still working\n"


def test_cannot_signal_other_processes(run, dropped_privileges):
  """A process of the trainer's user (a decoy here, the trainer in real life) cannot be killed."""
  decoy = subprocess.Popen(["sleep", "30"])
  try:
    result = run(f"import os\ntry:\n  os.kill({decoy.pid}, 9)\n  print('killed')\n"
                 f"except PermissionError:\n  print('denied')")
    assert result.stdout == b"denied\n" and decoy.poll() is None
  finally:
    decoy.kill()
    decoy.wait()


def test_cannot_write_outside_its_directory(run, tmp_path, dropped_privileges):
  """Writes into the repository and into the trainer's private temp dir are refused."""
  targets = [os.path.join(REPO, "sandbox_was_here.txt"), str(tmp_path / "sandbox_was_here.txt")]
  result = run("import json\nout = []\nfor path in %s:\n  try:\n    open(path, 'w').write('x')\n"
               "    out.append('written')\n  except OSError as e:\n    out.append(type(e).__name__)\n"
               "print(json.dumps(out))" % json.dumps(targets))
  assert json.loads(result.stdout) == ["PermissionError", "PermissionError"]
  assert not any(os.path.exists(target) for target in targets)


def test_cannot_read_the_trainers_process_environment(run, dropped_privileges):
  """/proc/<trainer>/environ (where a same-user program could find secrets) is unreadable."""
  result = run(f"try:\n  open('/proc/{os.getpid()}/environ', 'rb').read()\n  print('read')\n"
               "except OSError as e:\n  print(type(e).__name__)")
  assert result.stdout == b"PermissionError\n"


def test_no_network(run, network_isolated):
  """A listening socket of the trainer on loopback is unreachable from the sandbox: the syscall filter
  refuses the socket, and without the filter the private network namespace still has no route."""
  with socket.socket() as server:
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    program = (f"import socket\ntry:\n  socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
               "  print('connected')\nexcept PermissionError:\n  print('refused')\nexcept OSError:\n  print('blocked')")
    assert run(program).stdout == b"refused\n"
    assert run(program, config=SandboxConfig(syscall_filter="off")).stdout == b"blocked\n"


def test_children_and_setsid_escapees_are_killed(run, direct_uid):
  """50 sleeping children, half of them in new sessions, all die when the program ends, at once."""
  program = ("import os, time\npids = []\nfor i in range(50):\n  pid = os.fork()\n  if pid == 0:\n"
             "    if i % 2:\n      os.setsid()\n    time.sleep(60)\n    os._exit(0)\n  pids.append(pid)\n"
             "print(*pids)")
  start = time.monotonic()
  result = run(program, config=SandboxConfig(max_processes=64))
  assert time.monotonic() - start < 10
  pids = [int(p) for p in result.stdout.split()]
  assert len(pids) == 50
  alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}") and _state(pid) != "Z"]
  assert alive == []
  if direct_uid is not None:
    assert processes_of(direct_uid) == []


def _state(pid: int) -> str:
  try:
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[1].split()[0]
  except FileNotFoundError:
    return "gone"


def test_fork_bomb_is_capped_and_cleaned_up(run, direct_uid, dropped_privileges):
  """With its own user, RLIMIT_NPROC caps a real fork bomb; everything it made is gone afterwards."""
  config = SandboxConfig(max_processes=16)
  counted = run("import os, time\nn = 0\ntry:\n  while True:\n    if os.fork() == 0:\n      time.sleep(60)\n"
                "    n += 1\nexcept OSError:\n  print(n)", config=config)
  assert 0 < int(counted.stdout) < 16
  bomb = run("import os\nwhile True:\n  try:\n    os.fork()\n  except OSError:\n    pass", timeout_s=1.0,
             config=config)
  assert bomb.timed_out
  assert processes_of(direct_uid) == []
  assert run("print('ok')").stdout == b"ok\n"
