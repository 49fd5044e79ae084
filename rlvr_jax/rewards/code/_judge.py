"""The judge: runs a row's tests in a process that never executes the policy's code.

For assert and call tests the launcher (_zygote.py) starts two sandboxed processes, as two different
users where privileges are dropped: the candidate (_candidate.py), which loads the program, and this
judge, which holds the tests (and, for call tests, the expected values) and is the only writer of the
result pipe the trainer reads. The tests run here in a namespace of the judge's own: a name they use
that the program defines is bound to a proxy (`RemoteObject`), and every use of a proxy -- a call,
an attribute, iteration -- is a request to the candidate whose answer comes back as plain builtin
data rebuilt by the strict decoder (_wire.py), or as another proxy, which equals only itself. So no
object, patch or frame trick of the program can take part in `==`, `assert`, `abs`, `math.isclose`
or the report: builtins, the standard library and the test code here are the judge's own.

Name resolution in the tests: the test code's own definitions and the setup code come first, then
builtins (a program defining `abs` changes nothing), then standard modules by name (tests that use
`math` without importing it get the judge's `math`, whatever the program bound to that name), then
the program's globals: a module, or a function or class that says it comes from a standard module,
is replaced by the judge's own import of it; the entry point (the function under test) is always the
program's. A helper the tests use but neither define nor import stays the program's (a proxy).

Events on the result pipe (fd 3), one JSON line each:
  {"event": "load", "status": "ok" | "syntax_error" | "error", "stage", "message"}
  {"event": "test" | "case", "index", "status": "passed" | "failed" | "error", "message"}
  {"event": "error", "stage", "message"}            a setup statement of the tests failed
  {"event": "candidate_gone" | "protocol_error" | "judge_error", "message"}
  {"event": "finished"}

This file runs under the sandbox interpreter (Python >= 3.9, stdlib only), loaded by the zygote.
"""

import ast
import builtins
import importlib
import importlib.util
import json
import os
import sys
import sysconfig
import traceback

try:
  wire  # noqa: B018 -- under the zygote, the loader provides the wire module as a global
except NameError:  # imported in the trainer (tests)
  from rlvr_jax.rewards.code import _wire as wire

JOB_FD, RESULTS_FD, CALLS_FD, REPLIES_FD = 0, 3, 4, 5
_MESSAGE_CHARS = 300
_STDLIB = os.path.realpath(sysconfig.get_paths()["stdlib"])


class CandidateGone(BaseException):
  """The candidate process closed the channel (it exited, crashed or was killed)."""


class ProtocolViolation(BaseException):
  """The candidate wrote something on the channel that is not a well-formed reply."""


class ProgramError(Exception):
  """An exception the program raised, of a type that is not a builtin exception."""


def _describe(error):
  return f"{type(error).__name__}: {error}"[:_MESSAGE_CHARS]


def report(**record):
  data = (json.dumps(record) + "\n").encode()
  while data:
    data = data[os.write(RESULTS_FD, data):]


def _read_exact(n):
  chunks, remaining = [], n
  while remaining:
    chunk = os.read(REPLIES_FD, min(remaining, 1 << 20))
    if not chunk:
      raise CandidateGone("the program's process ended")
    chunks.append(chunk)
    remaining -= len(chunk)
  return b"".join(chunks)


def _exception(type_name, message):
  """The judge's own exception for one the program raised: the builtin of that name, if any."""
  kind = getattr(builtins, type_name, None) if type_name.isidentifier() else None
  if isinstance(kind, type) and issubclass(kind, Exception):
    try:
      return kind(message)
    except BaseException:  # noqa: BLE001 -- exception types whose constructor wants other arguments
      pass
  return ProgramError(f"{type_name}: {message}")


class Channel:
  """Requests to the candidate and their strictly decoded replies."""

  def __init__(self, max_bytes):
    self.max_bytes, self.seq, self.broken = max_bytes, 0, None
    self.proxies = {}

  def _fail(self, error):
    self.broken = error
    raise error

  def _reference(self, obj):
    return obj._ref if type(obj) is RemoteObject else None

  def _proxy(self, ref):
    if ref not in self.proxies:
      self.proxies[ref] = RemoteObject(self, ref)
    return self.proxies[ref]

  def receive(self):
    """The next decoded frame from the candidate."""
    if self.broken is not None:
      raise self.broken
    try:
      length = wire.frame_length(_read_exact(4))
      if length > self.max_bytes:
        self._fail(ProtocolViolation(f"a frame of {length} bytes (over the {self.max_bytes}-byte cap)"))
      return wire.decode(_read_exact(length), resolve=self._proxy)
    except CandidateGone as e:
      self._fail(e)
    except wire.WireError as e:
      self._fail(ProtocolViolation(f"malformed reply: {e}"))

  def hello(self):
    """(status, stage, message) of the candidate loading the program."""
    hello = self.receive()
    if (type(hello) is not tuple or len(hello) != 4 or hello[0] != "hello" or
        hello[1] not in ("ok", "syntax_error", "error") or not all(type(v) is str for v in hello[2:])):
      self._fail(ProtocolViolation("malformed hello"))
    return hello[1:]

  def send(self, op, *args):
    """Sends a request without waiting for its answer (see `answer`); its sequence number."""
    if self.broken is not None:
      raise self.broken
    self.seq += 1
    try:
      payload = wire.encode((op, self.seq) + args, max_bytes=self.max_bytes, reference=self._reference)
    except wire.WireError as e:
      raise TypeError(f"cannot send this to the program: {e}") from None
    try:
      data = wire.frame(payload)
      while data:
        data = data[os.write(CALLS_FD, data):]
    except OSError:
      self._fail(CandidateGone("the program's process ended"))
    return self.seq

  def answer(self, seq):
    """The value the candidate answered to request `seq` (the next reply); raises what the program raised."""
    reply = self.receive()
    if type(reply) is not tuple or len(reply) < 2 or reply[1] != seq:
      self._fail(ProtocolViolation("a reply out of sequence"))
    if reply[0] == "ok" and len(reply) == 3:
      return reply[2]
    if reply[0] == "stop" and len(reply) == 2:
      raise StopIteration
    if reply[0] == "raise" and len(reply) == 4 and type(reply[2]) is str and type(reply[3]) is str:
      raise _exception(reply[2][:100], reply[3][:_MESSAGE_CHARS])
    self._fail(ProtocolViolation("a malformed reply"))

  def request(self, op, *args):
    return self.answer(self.send(op, *args))


class RemoteObject:
  """An object that lives in the candidate process: usable only through requests, equal only to itself."""

  __slots__ = ("_channel", "_ref")

  def __init__(self, channel, ref):
    object.__setattr__(self, "_channel", channel)
    object.__setattr__(self, "_ref", ref)

  def __call__(self, *args, **kwargs):
    return self._channel.request("call", self._ref, args, kwargs)

  def __getattr__(self, name):
    if name.startswith("__") and name.endswith("__"):
      raise AttributeError(name)
    return self._channel.request("getattr", self._ref, name)

  def __setattr__(self, name, value):
    self._channel.request("setattr", self._ref, name, value)

  def __iter__(self):
    return self._channel.request("iter", self._ref)

  def __next__(self):
    return self._channel.request("next", self._ref)

  def __len__(self):
    value = self._channel.request("len", self._ref)
    if type(value) is not int or value < 0:
      raise TypeError("the program's __len__ returned no valid length")
    return value

  def __bool__(self):
    value = self._channel.request("bool", self._ref)
    if type(value) is not bool:
      raise TypeError("the program's __bool__ returned no bool")
    return value

  def __getitem__(self, key):
    return self._channel.request("getitem", self._ref, key)

  def __repr__(self):
    return f"<program object #{self._ref}>"

  __eq__, __ne__, __hash__ = object.__eq__, object.__ne__, object.__hash__


def is_standard_module(name):
  """A module of the interpreter's standard library (never one from site-packages or the run's dir)."""
  top = name.split(".")[0]
  if not top.isidentifier():
    return False
  names = getattr(sys, "stdlib_module_names", None)
  if names is not None:
    return top in names
  if top in sys.builtin_module_names:
    return True
  spec = importlib.util.find_spec(top)
  origin = getattr(spec, "origin", None) or ""
  return os.path.realpath(origin).startswith(_STDLIB + os.sep) and "site-packages" not in origin


def _standard_object(module, qualname):
  """The judge's own `module.qualname` when module is standard and the path resolves, else None."""
  if not (isinstance(module, str) and isinstance(qualname, str) and is_standard_module(module)):
    return None
  try:
    value = importlib.import_module(module)
    for part in qualname.split("."):
      value = getattr(value, part)
  except Exception:  # noqa: BLE001 -- "<locals>" in the path, a missing attribute, ...
    return None
  return value


def _binding(descriptor, standard_ok):
  """(found, value) for a lookup descriptor; standard modules / objects replaced by the judge's own."""
  if type(descriptor) is not tuple or not descriptor or descriptor[0] == "missing":
    return False, None
  if descriptor[0] == "module" and len(descriptor) == 3:
    if standard_ok and isinstance(descriptor[1], str) and is_standard_module(descriptor[1]):
      try:
        return True, importlib.import_module(descriptor[1])
      except Exception:  # noqa: BLE001
        pass
    return True, descriptor[2]
  if descriptor[0] == "object" and len(descriptor) == 6:
    own = _standard_object(descriptor[4], descriptor[5]) if standard_ok else None
    return True, (own if own is not None else descriptor[1])
  return False, None


def _lookup(channel, seq, names):
  """The descriptors answering lookup request `seq` for `names`."""
  descriptors = channel.answer(seq)
  if type(descriptors) is not list or len(descriptors) != len(names):
    channel._fail(ProtocolViolation("a malformed lookup reply"))
  return descriptors


def _referenced_names(sources):
  names = set()
  for source in sources:
    for node in ast.walk(ast.parse(source)):
      if isinstance(node, ast.Name):
        names.add(node.id)
  return names


def _compile(source, name):
  return compile(source, name, "exec", dont_inherit=True, optimize=0)  # asserts always kept


def prepare_assert(job, channel):
  """The test namespace after setup, the program's names the tests need, and the lookup request for
  them (sent before the program has even loaded: one wait fewer); None if setup failed."""
  namespace = {"__name__": "__tests__", "__builtins__": builtins}
  if job["setup"]:
    try:
      exec(_compile(job["setup"], "setup"), namespace)  # noqa: S102 -- dataset code, trusted
    except BaseException as e:  # noqa: BLE001
      report(event="error", stage="setup", message=_describe(e))
      return None
  entry_point = job.get("entry_point")
  names = sorted(name for name in _referenced_names(source for source, _ in job["steps"])
                 if name == entry_point or (name not in namespace and not hasattr(builtins, name)))
  for name in [n for n in names if n != entry_point and is_standard_module(n)]:
    try:  # tests that use `math` without importing it get the judge's math, whatever the program bound
      namespace[name] = importlib.import_module(name)
      names.remove(name)
    except Exception:  # noqa: BLE001
      pass
  return namespace, names, channel.send("lookup", names)


def run_assert(job, channel, prepared):
  """The program's names into the test namespace, then each step of the tests."""
  namespace, names, seq = prepared
  entry_point = job.get("entry_point")
  for name, descriptor in zip(names, _lookup(channel, seq, names)):
    found, value = _binding(descriptor, standard_ok=name != entry_point)
    if found:
      namespace[name] = value
  test_index = 0
  for step_index, (source, is_test) in enumerate(job["steps"]):
    try:
      exec(_compile(source, f"test_{step_index}"), namespace)  # noqa: S102
      status, message = "passed", ""
    except (CandidateGone, ProtocolViolation):
      raise
    except AssertionError as e:
      status, message = "failed", _describe(e)
    except BaseException as e:  # noqa: BLE001 -- SystemExit included
      status, message = "error", _describe(e)
    if channel.broken is not None:  # the test caught it; the channel is unusable all the same
      raise channel.broken
    if is_test:
      report(event="test", index=test_index, status=status, message=message)
      test_index += 1
    elif status != "passed":
      report(event="error", stage="tests", message=message)
      return


def _call_target(descriptors, fn_name):
  """A top-level function `fn_name`, else the method of a fresh `Solution()` (LeetCode style)."""
  function, solution = descriptors
  if (type(function) is tuple and len(function) == 6 and function[0] == "object" and function[3] is True
      and function[2] is not True):
    return function[1]
  if type(solution) is tuple and len(solution) == 6 and solution[0] == "object" and solution[2] is True:
    return getattr(solution[1](), fn_name)
  return None


def prepare_call(job, channel):
  """The lookup request for the function and `Solution` (sent before the program has loaded)."""
  return channel.send("lookup", [job["fn_name"], "Solution"])


def run_call(job, channel, seq):
  """Calls the function once per case; passed when its value equals the expected one as JSON."""
  fn_name = job["fn_name"]
  descriptors = _lookup(channel, seq, [fn_name, "Solution"])
  for index, (args, expected) in enumerate(job["cases"]):
    try:
      function = _call_target(descriptors, fn_name)
      if function is None:
        report(event="error", stage="program", message=f"no function or Solution method {fn_name!r}")
        return
      value = function(*args)
    except (CandidateGone, ProtocolViolation):
      raise
    except BaseException as e:  # noqa: BLE001
      report(event="case", index=index, status="error", message=_describe(e))
      continue
    try:
      got = json.loads(json.dumps(value))  # a returned tuple equals an expected list, 2.0 equals 2
    except BaseException as e:  # noqa: BLE001 -- sets, proxies, ints past the str conversion limit
      report(event="case", index=index, status="error", message=f"unserializable: {_describe(e)}")
      continue
    report(event="case", index=index, status="passed" if got == expected else "failed", message="")


def _read_job():
  chunks = []
  while True:
    chunk = os.read(JOB_FD, 1 << 20)
    if not chunk:
      return json.loads(b"".join(chunks))
    chunks.append(chunk)


def main():
  """Reads the job (fd 0), waits for the candidate to load the program, runs the tests, reports."""
  try:
    job = _read_job()
    channel = Channel(job["max_message_bytes"])
    try:
      prepare, run = {"assert": (prepare_assert, run_assert), "call": (prepare_call, run_call)}[job["format"]]
      prepared = prepare(job, channel)
      status, stage, message = channel.hello()
      report(event="load", status=status, stage=stage, message=message[:_MESSAGE_CHARS])
      if status == "ok" and prepared is not None:
        run(job, channel, prepared)
    except CandidateGone as e:
      report(event="candidate_gone", message=str(e))
    except ProtocolViolation as e:
      report(event="protocol_error", message=str(e)[:_MESSAGE_CHARS])
    report(event="finished")
  except BaseException as e:  # noqa: BLE001 -- a fault of the judge itself, reported as such
    try:
      report(event="judge_error", message=_describe(e) + " | " + traceback.format_exc()[-1000:])
    except BaseException:  # noqa: BLE001
      pass
