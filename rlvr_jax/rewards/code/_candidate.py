"""The candidate process: runs the policy's program, and nothing of the grading.

Nothing here decides a verdict. For stdio tests the program runs as a script and the trainer compares
what it printed. For assert and call tests the program is loaded into a namespace of its own, and the
process then serves the judge (_judge.py, another process) over two pipes: the judge asks for globals,
calls functions, reads attributes or iterates, and gets the results back in the strict wire format
(_wire.py). The program may patch anything in this process -- builtins, json, this server, the frames
on its stack -- but all it can change that way is the bytes it sends, which are just another answer.

Descriptors of globals (replies to "lookup"): ("missing",) | ("module", name, ref) |
("object", value, is_class, is_callable, module, qualname), where module / qualname say where a
function or class says it comes from (so the judge can use its own copy of a standard one).

This file runs under the sandbox interpreter (Python >= 3.9, stdlib only), loaded by the zygote.
"""

import builtins
import json
import os
import sys
import traceback
import types

try:
  wire  # noqa: B018 -- under the zygote, the loader provides the wire module as a global
except NameError:  # imported in the trainer (tests)
  from rlvr_jax.rewards.code import _wire as wire

CALLS_FD, REPLIES_FD = 3, 4  # assert / call: requests from the judge, replies to it
NOTES_FD = 3  # stdio: one byte saying how the script ended
PROGRAM_FD = 5  # {"source", "setup"} as JSON, read once at the start and closed
SYNTAX, RAISED, EXITED, DONE = b"S", b"E", b"X", b"D"
NAMESPACE_NAME = "solution"
_read, _write, _exit = os.read, os.write, os._exit  # bound before the program runs


def _describe(error):
  try:
    text = f"{type(error).__name__}: {error}"
  except BaseException:  # noqa: BLE001 -- a hostile __str__
    text = type(error).__name__
  return text[:500]


def _write_all(fd, data):
  while data:
    data = data[_write(fd, data):]


def _finish_like_an_interpreter(code):
  """What a normal interpreter exit does: join threads, run atexit hooks, flush; then leave."""
  try:
    if "threading" in sys.modules:
      sys.modules["threading"]._shutdown()
    import atexit

    atexit._run_exitfuncs()
  except BaseException:  # noqa: BLE001 -- a program's atexit hook raising must not change the exit
    pass
  for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
    try:
      stream.flush()
    except BaseException:  # noqa: BLE001 -- closed or replaced by the program
      pass
  _exit(code)


def _note(mark):
  try:
    _write(NOTES_FD, mark)
  except OSError:
    pass


def read_program():
  """(source, setup) from PROGRAM_FD, which is then closed (nothing of it stays reachable)."""
  chunks = []
  while True:
    chunk = _read(PROGRAM_FD, 1 << 20)
    if not chunk:
      break
    chunks.append(chunk)
  os.close(PROGRAM_FD)
  job = json.loads(b"".join(chunks))
  return job["source"], job["setup"]


def run_script():
  """stdio: the program as `__main__`, exiting as the interpreter would (1 on an uncaught exception,
  the SystemExit code otherwise), with a note on fd 3. Never returns."""
  source, _ = read_program()
  try:
    code = compile(source, "program.py", "exec", dont_inherit=True)
  except BaseException:  # noqa: BLE001 -- SyntaxError, ValueError (NUL bytes), RecursionError, ...
    traceback.print_exc()
    _note(SYNTAX)
    _finish_like_an_interpreter(1)
  sys.argv = ["program.py"]
  try:
    exec(code, {"__name__": "__main__", "__builtins__": builtins, "__file__": "program.py"})  # noqa: S102
  except SystemExit as e:
    if e.code is None or e.code == 0:
      _note(DONE)
      _finish_like_an_interpreter(0)
    _note(EXITED)
    if isinstance(e.code, int):
      _finish_like_an_interpreter(e.code & 0xFF)
    try:
      print(e.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001
      pass
    _finish_like_an_interpreter(1)
  except BaseException:  # noqa: BLE001 -- MemoryError, RecursionError, KeyboardInterrupt, ...
    try:
      traceback.print_exc()
    except BaseException:  # noqa: BLE001
      pass
    _note(RAISED)
    _finish_like_an_interpreter(1)
  _note(DONE)
  _finish_like_an_interpreter(0)


class _Opaque:
  """Marks builtin data too large or too deep to send, so it crosses as a reference instead."""

  __slots__ = ("value",)

  def __init__(self, value):
    self.value = value


class Server:
  """Serves the judge's requests on the loaded program's namespace."""

  def __init__(self, namespace, max_bytes):
    self.namespace, self.max_bytes = namespace, max_bytes
    self.objects, self.ids = [], {}  # ref -> object (kept alive, so ids stay unique), id -> ref

  def reference(self, obj):
    if type(obj) is _Opaque:
      obj = obj.value
    ref = self.ids.get(id(obj))
    if ref is None:
      ref = self.ids[id(obj)] = len(self.objects)
      self.objects.append(obj)
    return ref

  def resolve(self, ref):
    if not 0 <= ref < len(self.objects):
      raise wire.WireError(f"unknown reference {ref}")
    return self.objects[ref]

  def describe(self, name):
    if not isinstance(name, str) or name not in self.namespace:
      return ("missing",)
    value = self.namespace[name]
    if isinstance(value, types.ModuleType):
      module_name = getattr(value, "__name__", None)
      return ("module", module_name if type(module_name) is str else None, _Opaque(value))
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    origin = (module, qualname) if type(module) is str and type(qualname) is str else (None, None)
    flags = (isinstance(value, type), callable(value))
    try:
      wire.encode(value, max_bytes=self.max_bytes, reference=self.reference)
    except wire.WireError:
      value = _Opaque(value)
    return ("object", value) + flags + origin

  def handle(self, request):
    """The reply value to a decoded request (op, seq, *args)."""
    op, seq, args = request[0], request[1], request[2:]
    try:
      if op == "lookup":
        return ("ok", seq, [self.describe(name) for name in args[0]])
      target = self.resolve(args[0])
      if op == "call":
        value = target(*args[1], **args[2])
      elif op == "getattr":
        value = getattr(target, args[1])
      elif op == "setattr":
        setattr(target, args[1], args[2])
        value = None
      elif op == "iter":
        value = _Opaque(iter(target))
      elif op == "next":
        try:
          value = next(target)
        except StopIteration:
          return ("stop", seq)
      elif op == "len":
        value = len(target)
      elif op == "bool":
        value = bool(target)
      elif op == "getitem":
        value = target[args[1]]
      else:
        raise ValueError(f"unknown request {op!r}")
    except BaseException as e:  # noqa: BLE001 -- SystemExit and KeyboardInterrupt included
      return ("raise", seq, type(e).__name__, _describe(e))
    return ("ok", seq, value)

  def send(self, reply):
    try:
      payload = wire.encode(reply, max_bytes=self.max_bytes, reference=self.reference)
    except wire.WireError as e:
      payload = wire.encode(("raise", reply[1], "ValueError", f"the value cannot be sent to the judge: {e}"),
                            max_bytes=self.max_bytes)
    _write_all(REPLIES_FD, wire.frame(payload))


def _read_exact(n):
  chunks, remaining = [], n
  while remaining:
    chunk = _read(CALLS_FD, min(remaining, 1 << 20))
    if not chunk:
      return None
    chunks.append(chunk)
    remaining -= len(chunk)
  return b"".join(chunks)


def _run(code, namespace):
  """None on success, else a description (a SystemExit with code 0 or None is a normal end)."""
  try:
    exec(code, namespace)  # noqa: S102
  except SystemExit as e:
    if e.code not in (None, 0):
      return _describe(e)
  except BaseException as e:  # noqa: BLE001
    return _describe(e)
  return None


def serve(max_bytes):
  """assert / call: load setup and program, say hello to the judge, then serve it until it closes
  the channel. Never returns."""
  source, setup = read_program()
  namespace = {"__name__": NAMESPACE_NAME, "__builtins__": builtins}
  server = Server(namespace, max_bytes)
  try:
    code = compile(source, "program.py", "exec", dont_inherit=True)
    hello = ("hello", "ok", "", "")
  except BaseException as e:  # noqa: BLE001
    hello = ("hello", "syntax_error", "program", _describe(e))
  if hello[1] == "ok" and setup:
    failure = _run(compile(setup, "setup", "exec", dont_inherit=True), namespace)
    hello = ("hello", "error", "setup", failure) if failure else hello
  if hello[1] == "ok":
    failure = _run(code, namespace)
    hello = ("hello", "error", "program", failure) if failure else hello
  server.send(hello)
  while True:
    header = _read_exact(4)
    if header is None:
      _exit(0)
    payload = _read_exact(wire.frame_length(header))
    if payload is None:
      _exit(0)
    try:
      request = wire.decode(payload, resolve=server.resolve)
    except wire.WireError:
      _exit(0)  # only the judge writes here; a request it did not send ends the service
    server.send(server.handle(request))
