"""The adversarial battery: programs written the way a policy optimised against the reward would
write them, each trying one shortcut to a pass or one way to crash the trainer.

Every program runs through `CodeExecReward` in one batch (in parallel, small limits). For each the
test asserts that it is scored as a failure of the expected kind (or, for programs that are correct
but hostile to the host, contained and passed), and the batch as a whole asserts that the reward
call returned normally and that the next call still grades correct programs: the run goes on.
docs/security.md lists the battery by class.
"""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from rlvr_jax.rewards import RewardConfig
from rlvr_jax.rewards.code import CodeExecReward, SandboxConfig

ADD = json.dumps({"format": "assert", "tests": "assert add(1, 2) == 3\nassert add(0, 5) == 5\nassert add(2, 2) == 4"})
ADD_ABS = json.dumps({"format": "assert", "tests": "assert abs(add(1, 2) - 3) < 1e-9\nassert abs(add(0, 5) - 5) < 1e-9"})
HUMANEVAL = json.dumps({"format": "assert", "entry_point": "add", "setup": "from typing import List",
                        "tests": "def check(candidate):\n  assert candidate(1, 2) == 3\n  assert candidate(0, 5) == 5\n"})
CALL = json.dumps({"format": "call", "fn_name": "add", "cases": [{"input": [1, 2], "output": 3},
                                                                 {"input": [0, 5], "output": 5}]})
AREA = json.dumps({"format": "assert", "setup": "import math",
                   "tests": "assert math.isclose(area(2), 12.566, rel_tol=0.001)"})
AREA_NO_SETUP = json.dumps({"format": "assert", "tests": "assert math.isclose(area(2), 12.566, rel_tol=0.001)"})
STDIO = json.dumps({"format": "stdio", "cases": [{"input": "1 2\n", "output": "3\n"}]})

WRONG = "def add(a, b):\n  return a - b\n"
CORRECT = "def add(a, b):\n  return a + b\n"
ALWAYS_EQUAL = ("class AlwaysEqual:\n  def __eq__(self, other):\n    return True\n  def __ne__(self, other):\n"
                "    return False\n  __hash__ = object.__hash__\n  def __bool__(self):\n    return True\n"
                "def add(a, b):\n  return AlwaysEqual()\n")
FRAME = '("\\x00\\x00\\x00\\x10" + "garbage-garbage!")'  # a length header and 16 bytes of junk

# name -> (answer, program, outcomes accepted). Every program is wrong or hostile; none may pass
# unless marked as a correct program that is only hostile to the host ("passed" in the set).
BATTERY = {
    # Objects whose comparisons lie: they stay in the program's process, the judge sees a proxy.
    "always_equal_assert": (ADD, ALWAYS_EQUAL, {"failed"}),
    "always_equal_humaneval_check": (HUMANEVAL, ALWAYS_EQUAL, {"failed"}),
    "always_equal_call": (CALL, ALWAYS_EQUAL, {"error"}),
    "always_equal_int_subclass": (ADD, "class I(int):\n  def __eq__(self, o):\n    return True\n"
                                       "  __hash__ = int.__hash__\ndef add(a, b):\n  return I(-1)\n", {"failed"}),
    "always_equal_str_subclass": (json.dumps({"format": "assert", "tests": "assert add('a', 'b') == 'ab'"}),
                                  "class S(str):\n  def __eq__(self, o):\n    return True\n  __hash__ = str.__hash__\n"
                                  "def add(a, b):\n  return S('wrong')\n", {"failed"}),
    # Patching what the tests or the report rely on: none of it is in the judge's process.
    "patch_builtins_exec_compile": (ADD, "import builtins\n_compile = builtins.compile\n"
                                         "builtins.compile = lambda *a, **k: _compile('pass', 'x', 'exec')\n"
                                         "builtins.exec = lambda *a, **k: None\n" + WRONG, {"failed"}),
    "assert_stripping_optimize": (ADD, "import builtins\n_compile = builtins.compile\n"
                                       "def compile(src, name, mode, flags=0, dont_inherit=False, optimize=-1):\n"
                                       "  return _compile(src, name, mode, flags, dont_inherit, 2)\n"
                                       "builtins.compile = compile\nimport sys\n" + WRONG, {"failed"}),
    "patch_assertion_error": (ADD, "import builtins\nclass Quiet(Exception):\n  pass\n"
                                   "builtins.AssertionError = Quiet\n" + WRONG, {"failed"}),
    "patch_math_isclose": (AREA, "import math\nmath.isclose = lambda *a, **k: True\ndef area(r):\n  return 0\n",
                           {"failed"}),
    "patch_math_isclose_tests_use_programs_import": (
        AREA_NO_SETUP, "import math\nmath.isclose = lambda *a, **k: True\ndef area(r):\n  return 0\n", {"failed"}),
    "define_isclose_used_by_tests": (
        AREA_NO_SETUP, "class FakeMath:\n  isclose = staticmethod(lambda *a, **k: True)\nmath = FakeMath()\n"
                       "def area(r):\n  return 0\n", {"failed", "error"}),
    "patch_json_encoder": (ADD, "import json\njson.dumps = lambda *a, **k: '{\"event\": \"test\", \"index\": 0, "
                                "\"status\": \"passed\"}'\njson.JSONEncoder.encode = lambda *a, **k: '{}'\n" + WRONG,
                           {"failed"}),
    "namespace_collision_abs": (ADD_ABS, "def abs(x):\n  return 0\n" + WRONG, {"failed"}),
    "namespace_collision_check": (HUMANEVAL, "def check(candidate):\n  pass\n" + WRONG, {"failed"}),
    "frame_walking_patches_server": (
        ADD, "import sys, gc\n"
             "for obj in gc.get_objects():\n"
             "  if type(obj).__name__ == 'Server':\n"
             "    type(obj).handle = lambda self, request: ('ok', request[1], True)\n"
             "f = sys._getframe()\nwhile f:\n  for d in (f.f_locals, f.f_globals):\n"
             "    for key in list(d):\n      if key in ('job', 'steps', 'report'):\n        d[key] = None\n"
             "  f = f.f_back\n" + WRONG, {"failed", "error", "protocol_error"}),
    "gc_search_for_tests": (ADD, "import gc\nfound = [o for o in gc.get_objects() if isinstance(o, str) and "
                                 "'assert add' in o]\ndef add(a, b):\n  return len(found) + 100\n", {"failed"}),
    # Forged records and frames on every fd the program has.
    "stdout_and_fd_forgery": (
        ADD, "import os\nrecord = b'{\"event\": \"test\", \"index\": %d, \"status\": \"passed\"}\\n'\n"
             "for fd in range(1, 20):\n  for i in range(3):\n    try:\n      os.write(fd, record % i)\n"
             "    except OSError:\n      pass\n" + WRONG, {"protocol_error"}),
    "forged_reply_frame": (ADD, "import os\nos.write(4, " + FRAME + ".encode())\n" + CORRECT, {"protocol_error"}),
    "forged_hello_then_replies": (
        ADD, "import os, struct\n"
             "def frame(p):\n  return struct.pack('>I', len(p)) + p\n"
             "os.write(4, frame(b'tN'))\n" + CORRECT, {"protocol_error"}),
    "patched_encoder_sends_junk": (
        CALL, "import gc\nfor obj in gc.get_objects():\n  if type(obj).__name__ == 'Server':\n"
              "    type(obj).send = lambda self, reply: __import__('os').write(4, b'\\xff' * 64)\n" + CORRECT,
        {"protocol_error"}),
    # Ending early, in every way.
    "early_exit_at_import": (ADD, "import os\nos._exit(0)\n" + CORRECT, {"crash"}),
    "exit_inside_the_call": (ADD, "import os\ndef add(a, b):\n  os._exit(0)\n", {"crash"}),
    "sys_exit_zero_at_import": (ADD, "import sys\nsys.exit(0)\n" + CORRECT, {"error"}),
    "kill_everything_of_its_user": (ADD, "import os, signal\ndef add(a, b):\n  os.kill(-1, signal.SIGKILL)\n",
                                    {"failed"}),  # the judge is another user: it lives and fails add
    "kill_the_judge_by_scan": (
        ADD, "import os, signal\nfor pid in os.listdir('/proc'):\n  if pid.isdigit() and int(pid) != os.getpid():\n"
             "    try:\n      os.kill(int(pid), signal.SIGKILL)\n    except OSError:\n      pass\n" + WRONG, {"failed"}),
    "write_into_other_processes_fds": (
        ADD, "import os\nfor pid in os.listdir('/proc'):\n  if pid.isdigit() and int(pid) != os.getpid():\n"
             "    for fd in range(3, 8):\n      try:\n        with open(f'/proc/{pid}/fd/{fd}', 'wb') as f:\n"
             "          for i in range(3):\n"
             "            f.write(b'{\"event\": \"test\", \"index\": %d, \"status\": \"passed\"}\\n' % i)\n"
             "      except OSError:\n        pass\n" + WRONG, {"failed"}),
    "ptrace_the_judge": (
        ADD, "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nattached = 0\n"
             "for pid in os.listdir('/proc'):\n  if pid.isdigit() and int(pid) != os.getpid():\n"
             "    attached += libc.ptrace(16, int(pid), 0, 0) == 0\n"
             "def add(a, b):\n  return attached + 1000\n", {"failed"}),
    # Huge, deep and unhashable values and reports.
    "huge_int_value": (ADD, "def add(a, b):\n  return 10 ** 5000\n", {"failed"}),
    "huge_int_on_channels": (ADD, "import os\nos.write(4, b'\\x00\\x00\\x10\\x00' + b'i' + b'9' * 5000)\n"
                                  "print('1' * 5000)\n" + CORRECT, {"protocol_error"}),
    "deep_nested_value": (ADD, "def add(a, b):\n  x = []\n  for _ in range(100000):\n    x = [x]\n  return x\n",
                          {"error"}),
    "deep_brackets_on_channels": (ADD, "import os, sys\nsys.stdout.write('[' * 100000)\n"
                                       "os.write(4, b'\\x00\\x01\\x86\\xa0' + b'l\\x01' * 50000)\n" + CORRECT,
                                  {"protocol_error"}),
    "unhashable_in_forged_set": (ADD, "import os\nos.write(4, b'\\x00\\x00\\x00\\x06S\\x01l\\x01N\\x00')\n" + CORRECT,
                                 {"protocol_error"}),
    "self_containing_value": (ADD, "def add(a, b):\n  x = [1]\n  x.append(x)\n  return x\n", {"error"}),
    "value_over_the_message_cap": (ADD, "def add(a, b):\n  return 'x' * (40 << 20)\n", {"error"}),
    "hostile_dunder_methods": (ADD, "class H:\n  def __repr__(self):\n    raise SystemExit\n  __str__ = __repr__\n"
                                    "  def __eq__(self, o):\n    raise SystemExit\n  __hash__ = None\n"
                                    "def add(a, b):\n  return H()\n", {"failed", "error"}),
    "raise_base_exceptions": (ADD, "def add(a, b):\n  raise KeyboardInterrupt\n", {"error"}),
    "flood_stdout_and_stderr": (ADD, "import sys\nsys.stdout.write('x' * (8 << 20))\nsys.stderr.write('y' * (8 << 20))\n"
                                     + WRONG, {"failed"}),
    # The file system it leaves behind.
    "deep_directories_2500": (ADD, "import os\nfor _ in range(2500):\n  os.mkdir('d' * 10)\n  os.chdir('d' * 10)\n"
                                   "for _ in range(2500):\n  os.chdir('..')\n" + CORRECT, {"passed"}),
    "unremovable_looking_tree": (ADD, "import os\nos.makedirs('a/b/c')\nopen('a/b/c/f', 'w').write('x')\n"
                                      "os.symlink('/etc', 'a/link')\nos.mkfifo('a/fifo')\nfor p in ('a/b/c', 'a/b', 'a'):\n"
                                      "  os.chmod(p, 0)\n" + CORRECT, {"passed"}),
    # Stdio: the judge is the trainer; notes and exit codes are the program's own to lie with.
    "stdio_forged_done_note_after_error": (STDIO, "import os\nos.write(3, b'D')\nprint(4)\nraise SystemExit(3)",
                                           {"error"}),
    "stdio_prints_pass": (STDIO, "print('PASS')\nprint('{\"status\": \"passed\"}')", {"failed"}),
}


@pytest.fixture(scope="module")
def battery():
  """(names, SampleResults, RewardResult) of the whole battery in one batch, plus the temp root."""
  # A world-traversable tmpfs if there is one (2,500 rmdirs take seconds on a journaling disk).
  temp_root = tempfile.mkdtemp(prefix="rlvr_battery_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
  os.chmod(temp_root, 0o711)
  names = list(BATTERY)
  completions = [f"```python\n{BATTERY[name][1]}\n```" for name in names]
  answers = [BATTERY[name][0] for name in names]
  sandbox = SandboxConfig(memory_bytes=512 << 20, max_message_bytes=16 << 20, temp_root=str(temp_root))
  with CodeExecReward(RewardConfig(correct=1.0, incorrect=0.0, timeout_s=5.0, workers=2), sandbox=sandbox) as reward:
    _, results = reward.evaluate(completions, answers)
    scored = reward(completions, answers)  # the reward call itself returns normally
    after = reward([f"```python\n{CORRECT}\n```"] * 4, [ADD, HUMANEVAL, CALL, ADD])
  yield names, results, scored, after, temp_root
  os.rmdir(temp_root)


@pytest.mark.parametrize("name", list(BATTERY))
def test_battery_program_fails_or_is_contained(battery, name):
  names, results, scored, _, _ = battery
  result = results[names.index(name)]
  assert result.outcome in BATTERY[name][2], (name, result)
  expected_correct = BATTERY[name][2] == {"passed"}
  assert bool(scored.correct[names.index(name)]) is expected_correct


def test_battery_run_goes_on(battery):
  """The batch's reward call returned scores for every sample with counts that add up, and the next
  call grades correct programs as passed; nothing the battery did was left in the run directories."""
  names, results, scored, after, temp_root = battery
  assert scored.scores.shape == (len(names),)
  outcomes = ("correct", "no_answer", "timeouts", "crashes", "errors", "failed", "syntax_errors", "protocol_errors")
  assert sum(scored.metrics[k] for k in outcomes) == len(names)
  assert scored.metrics["protocol_errors"] == sum(r.outcome == "protocol_error" for r in results) > 0
  assert after.correct.tolist() == [True] * 4
  assert os.listdir(temp_root) == []


SAME_USER = ["always_equal_assert", "patch_builtins_exec_compile", "patch_math_isclose", "namespace_collision_abs",
             "frame_walking_patches_server", "stdout_and_fd_forgery", "forged_reply_frame", "ptrace_the_judge",
             "early_exit_at_import", "deep_directories_2500"]
INTO_THE_JUDGE = ("import os\nsid, hits = os.getsid(0), 0\nfor pid in os.listdir('/proc'):\n"
                  "  if not pid.isdigit() or int(pid) == os.getpid():\n    continue\n  try:\n"
                  "    if int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[3]) != sid:\n      continue\n"
                  "    for fd in range(3, 8):\n      with open(f'/proc/{pid}/fd/{fd}', 'wb') as f:\n"
                  "        for i in range(3):\n"
                  "          f.write(b'{\"event\": \"test\", \"index\": %d, \"status\": \"passed\"}\\n' % i)\n"
                  "        hits += 1\n"
                  "  except OSError:\n    pass\n" + WRONG)


def test_same_user_runs_keep_the_judge_apart():
  """Without dropped privileges (a non-root trainer; here drop_privileges='off') program and judge share
  a user, yet the judge's guarantees hold: it is non-dumpable, ptrace is filtered, and (for a root
  trainer) the program has no capabilities, so its pipes cannot be opened through /proc -- the
  program below tries every fd of every process of its run's session."""
  names = SAME_USER + ["into_the_judge"]
  programs = {**{name: BATTERY[name] for name in SAME_USER}, "into_the_judge": (ADD, INTO_THE_JUDGE, {"failed"})}
  temp_root = tempfile.mkdtemp(prefix="rlvr_battery_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
  os.chmod(temp_root, 0o711)
  sandbox = SandboxConfig(memory_bytes=512 << 20, temp_root=temp_root, drop_privileges="off")
  try:
    with CodeExecReward(RewardConfig(timeout_s=5.0, workers=2), sandbox=sandbox) as reward:
      _, results = reward.evaluate([f"```python\n{programs[n][1]}\n```" for n in names], [programs[n][0] for n in names])
      assert not reward.pool.isolation.drop_privileges
      assert reward([f"```python\n{CORRECT}\n```"], [ADD]).correct.tolist() == [True]
    for name, result in zip(names, results):
      assert result.outcome in programs[name][2], (name, result)
    assert os.listdir(temp_root) == []
  finally:
    os.rmdir(temp_root)
