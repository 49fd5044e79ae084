"""The test harness: runs inside the sandbox, in the same process as the candidate program.

The zygote (zygote.py) loads this source and calls `main` in each forked program process, so it must
stand alone (stdlib only; the sandbox interpreter may be the system's, not the trainer's). It reads
the job file and deletes it before any candidate code runs (for call tests the expected values are not
in it at all: they stay in the trainer), runs the program and the tests, and streams one JSON line per
event to the result pipe (fd 3), tagged with a per-run nonce so plain prints to fd 3 are not taken for
results. The program shares this process, so a program that deliberately introspects the
harness can still find the nonce; security.md says so.

Events: {"event": "syntax_error" | "error", "stage", "message"} | {"event": "test", "index", "status"}
| {"event": "case", "index", "status", "value"} | {"event": "done", "status"} | {"event": "finished"}.
Statuses: passed / failed / error for assert tests, ok / error / unserializable for call cases,
ok / exit / error for stdio runs.
"""

import builtins
import json
import os
import sys

RESULT_FD = 3


def _describe(error):
  try:
    text = f"{type(error).__name__}: {error}"
  except BaseException:  # noqa: BLE001 -- a hostile __str__ must not take the harness down
    text = type(error).__name__
  return text[:500]


def _reporter(nonce):
  write, dumps = os.write, json.dumps  # bound now: the program may monkeypatch os / json later

  def report(**record):
    record["nonce"] = nonce
    data = (dumps(record) + "\n").encode()
    while data:
      data = data[write(RESULT_FD, data):]

  return report


def _run(code, namespace):
  """None on success, else ("exit", code) or ("error", description)."""
  try:
    exec(code, namespace)  # noqa: S102 -- running the candidate is the point
  except SystemExit as e:
    if e.code not in (None, 0):
      return ("exit", _describe(e))
  except BaseException as e:  # noqa: BLE001 -- MemoryError, RecursionError, KeyboardInterrupt, ...
    return ("error", _describe(e))
  return None


def _flush():
  for stream in (sys.stdout, sys.__stdout__, sys.stderr):
    try:
      stream.flush()
    except BaseException:  # noqa: BLE001 -- the program may have closed or replaced it
      pass


def run_stdio(code, job, report):
  """The program as a script (`__name__ == "__main__"`) reading the case from stdin."""
  outcome = _run(code, {"__name__": "__main__", "__builtins__": builtins, "__file__": "program.py"})
  _flush()
  if outcome is None:
    report(event="done", status="ok")
  else:
    report(event="done", status=outcome[0], message=outcome[1])


def _load(code, job, report):
  """The namespace after the setup code and the program (not a script: `__name__` is "solution", so
  a demo under `if __name__ == "__main__":` does not run); None, reported, if either raised."""
  namespace = {"__name__": "solution", "__builtins__": builtins}
  if job["setup"]:
    outcome = _run(compile(job["setup"], "setup", "exec"), namespace)
    if outcome is not None:
      report(event="error", stage="setup", message=outcome[1])
      return None
  outcome = _run(code, namespace)
  if outcome is not None:
    report(event="error", stage="program", message=outcome[1])
    return None
  return namespace


def run_assert(code, job, report):
  """Setup, program, then each step of the tests; a test is passed, failed (assert) or error."""
  namespace = _load(code, job, report)
  if namespace is None:
    return
  test_index = 0
  for step_index, (source, is_test) in enumerate(job["steps"]):
    try:
      exec(compile(source, f"test_{step_index}", "exec"), namespace)  # noqa: S102
      status, message = "passed", ""
    except AssertionError as e:
      status, message = "failed", _describe(e)
    except BaseException as e:  # noqa: BLE001 -- SystemExit included: the program must not exit
      status, message = "error", _describe(e)
    if is_test:
      report(event="test", index=test_index, status=status, message=message)
      test_index += 1
    elif status != "passed":
      report(event="error", stage="tests", message=message)
      return


def _function(namespace, name):
  """A top-level function `name`, else the method of a fresh `Solution()` (LeetCode style)."""
  candidate = namespace.get(name)
  if callable(candidate) and not isinstance(candidate, type):
    return candidate
  solution = namespace.get("Solution")
  if isinstance(solution, type) and hasattr(solution, name):
    return getattr(solution(), name)
  return None


def run_call(code, job, report):
  """Calls the function once per case and reports the JSON value it returned."""
  namespace = _load(code, job, report)
  if namespace is None:
    return
  dumps = json.dumps
  for index, args in enumerate(job["inputs"]):
    try:
      function = _function(namespace, job["fn_name"])
      if function is None:
        report(event="error", stage="program", message=f"no function or Solution method {job['fn_name']!r}")
        return
      value = function(*args)
    except BaseException as e:  # noqa: BLE001
      report(event="case", index=index, status="error", message=_describe(e))
      continue
    try:
      dumps(value)
    except BaseException as e:  # noqa: BLE001 -- sets, custom objects, circular lists
      report(event="case", index=index, status="unserializable", message=_describe(e))
      continue
    report(event="case", index=index, status="ok", value=value)


def main(job_path):
  """Runs the job in `job_path` (relative to the run's directory, where program.py is)."""
  with open(job_path, encoding="utf-8") as f:
    job = json.load(f)
  os.unlink(job_path)
  report = _reporter(job["nonce"])
  with open("program.py", encoding="utf-8") as f:
    source = f.read()
  try:
    code = compile(source, "program.py", "exec")
  except BaseException as e:  # noqa: BLE001 -- SyntaxError, ValueError (NUL bytes), RecursionError
    report(event="syntax_error", stage="program", message=_describe(e))
    return
  sys.argv = ["program.py"]
  runners = {"stdio": run_stdio, "assert": run_assert, "call": run_call}
  runners[job["format"]](code, job, report)
  report(event="finished")
