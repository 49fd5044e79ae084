"""The seccomp filter: its decisions on hand-computed syscalls (a BPF interpreter written here), and the
kernel enforcing them on real runs -- a host process listening on a file-system Unix socket receives
nothing from a program, while the same program without the filter reaches it."""

from __future__ import annotations

import errno
import os
import socket
import struct
import tempfile

import pytest

from rlvr_jax.rewards.code import SandboxConfig
from rlvr_jax.rewards.code._syscall_filter import (ARCHES, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO,
                                                  SECCOMP_RET_KILL_PROCESS, FilterPolicy, assemble, instructions)

X86, ARM = ARCHES["x86_64"], ARCHES["aarch64"]
ALLOW, KILL = SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS


def denied(error: int) -> int:
  return SECCOMP_RET_ERRNO | error


def run_bpf(program, nr: int, arch: int, args=(0, 0, 0, 0, 0, 0)) -> int:
  """A classic-BPF interpreter for the opcodes the filter uses, over a struct seccomp_data."""
  data = struct.pack("<iIQ6Q", nr, arch, 0, *args)
  accumulator, pc = 0, 0
  while True:
    code, jt, jf, k = program[pc]
    pc += 1
    if code == 0x20:  # ld [k]
      accumulator = struct.unpack_from("<I", data, k)[0]
    elif code == 0x54:  # and #k
      accumulator &= k
    elif code == 0x06:  # ret #k
      return k
    elif code in (0x15, 0x35, 0x45):  # jeq / jge / jset #k
      taken = {0x15: accumulator == k, 0x35: accumulator >= k, 0x45: bool(accumulator & k)}[code]
      pc += jt if taken else jf
    else:
      raise AssertionError(f"unexpected opcode {code:#x}")


DEFAULT, INET, FORK = FilterPolicy(), FilterPolicy(allow_inet=True), FilterPolicy(allow_fork=True)
THREAD = 0x00010000 | 0x00000100 | 0x00000200 | 0x00000400 | 0x00000800  # THREAD | VM | FS | FILES | SIGHAND
SIGCHLD, NEWUSER, NEWNET = 17, 0x10000000, 0x40000000


@pytest.mark.parametrize("policy, arch, nr, args, expected", [
    (DEFAULT, X86, 41, (1, 1), denied(errno.EACCES)),  # socket(AF_UNIX, SOCK_STREAM)
    (DEFAULT, X86, 41, (40, 1), denied(errno.EACCES)),  # AF_VSOCK
    (DEFAULT, X86, 41, (16, 3), denied(errno.EACCES)),  # AF_NETLINK
    (DEFAULT, X86, 41, (2, 1), denied(errno.EACCES)),  # AF_INET, network isolated
    (INET, X86, 41, (2, 1), ALLOW), (INET, X86, 41, (10, 2), ALLOW), (INET, X86, 41, (1, 1), denied(errno.EACCES)),
    (DEFAULT, X86, 53, (1, 1 | 0x80000), ALLOW),  # socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC)
    (DEFAULT, X86, 53, (1, 2), denied(errno.EACCES)),  # socketpair(AF_UNIX, SOCK_DGRAM): sendto could go out
    (DEFAULT, X86, 53, (2, 1), denied(errno.EACCES)),
    (DEFAULT, X86, 56, (THREAD,), ALLOW),  # clone of a thread
    (DEFAULT, X86, 56, (SIGCHLD,), denied(errno.EAGAIN)),  # clone of a process: no fork without a cgroup
    (FORK, X86, 56, (SIGCHLD,), ALLOW),
    (FORK, X86, 56, (SIGCHLD | NEWUSER,), denied(errno.EPERM)), (DEFAULT, X86, 56, (THREAD | NEWNET,), denied(errno.EPERM)),
    (DEFAULT, X86, 435, (), denied(errno.ENOSYS)),  # clone3: flags unreadable, so the library falls back to clone
    (DEFAULT, X86, 57, (), denied(errno.EAGAIN)), (DEFAULT, X86, 58, (), denied(errno.EAGAIN)), (FORK, X86, 57, (), ALLOW),
    (FORK, X86, 272, (NEWUSER,), denied(errno.EPERM)),  # unshare
    (FORK, X86, 425, (), denied(errno.EPERM)), (FORK, X86, 101, (), denied(errno.EPERM)),  # io_uring_setup, ptrace
    (FORK, X86, 310, (), denied(errno.EPERM)), (FORK, X86, 438, (), denied(errno.EPERM)),  # process_vm_readv, pidfd_getfd
    (DEFAULT, X86, 0, (), ALLOW), (DEFAULT, X86, 1, (), ALLOW), (DEFAULT, X86, 60, (), ALLOW),  # read, write, exit
    (DEFAULT, X86, 0x40000000 | 41, (1,), denied(errno.ENOSYS)),  # the x32 ABI
    (DEFAULT, ARM, 198, (1, 1), denied(errno.EACCES)), (DEFAULT, ARM, 220, (SIGCHLD,), denied(errno.EAGAIN)),
    (DEFAULT, ARM, 41, (), denied(errno.EPERM)), (DEFAULT, ARM, 63, (), ALLOW),  # pivot_root, read
])
def test_filter_decisions(policy, arch, nr, args, expected):
  program = instructions(policy, arch)
  assert run_bpf(program, nr, arch.audit_arch, tuple(args) + (0,) * (6 - len(args))) == expected
  assert len(assemble(program)) == 8 * len(program)


def test_other_abi_is_killed():
  assert run_bpf(instructions(DEFAULT, X86), 41, 0x40000003) == KILL  # i386 on x86_64


LISTENER_PROBE = """import json, socket
out = {}
for name, kind in (("stream", socket.SOCK_STREAM), ("dgram", socket.SOCK_DGRAM)):
  try:
    s = socket.socket(socket.AF_UNIX, kind)
    s.connect(%r) if kind == socket.SOCK_STREAM else s.sendto(b"from the sandbox", %r)
    if kind == socket.SOCK_STREAM:
      s.sendall(b"from the sandbox")
    out[name] = "reached"
  except OSError as e:
    out[name] = type(e).__name__
print(json.dumps(out))
"""


@pytest.fixture
def host_listeners():
  """A stream and a datagram socket of the trainer listening in a world-writable directory."""
  directory = tempfile.mkdtemp(prefix="rlvr_host_socket_")
  os.chmod(directory, 0o777)
  paths = os.path.join(directory, "stream.sock"), os.path.join(directory, "dgram.sock")
  stream, dgram = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
  stream.bind(paths[0])
  dgram.bind(paths[1])
  stream.listen()
  for path in paths:
    os.chmod(path, 0o777)  # file permissions would let any user connect: only the filter stops it
  stream.settimeout(0.3)
  dgram.settimeout(0.3)
  yield paths, stream, dgram
  stream.close()
  dgram.close()
  for path in paths:
    os.unlink(path)
  os.rmdir(directory)


def _received(stream: socket.socket, dgram: socket.socket) -> list[bytes]:
  got = []
  try:
    connection, _ = stream.accept()
    with connection:
      connection.settimeout(0.3)
      got.append(connection.recv(100))
  except OSError:
    pass
  try:
    got.append(dgram.recv(100))
  except OSError:
    pass
  return got


def test_host_unix_socket_is_unreachable(run, host_listeners):
  """A real host listener on a file-system Unix socket gets nothing: the filter refuses AF_UNIX sockets."""
  (stream_path, dgram_path), stream, dgram = host_listeners
  result = run(LISTENER_PROBE % (stream_path, dgram_path))
  assert result.stdout == b'{"stream": "PermissionError", "dgram": "PermissionError"}\n'
  assert _received(stream, dgram) == []


def test_host_unix_socket_is_reachable_without_the_filter(run, host_listeners):
  """Control: the same program with the filter off reaches the listener (what the filter prevents)."""
  (stream_path, dgram_path), stream, dgram = host_listeners
  result = run(LISTENER_PROBE % (stream_path, dgram_path), config=SandboxConfig(syscall_filter="off"))
  assert result.stdout == b'{"stream": "reached", "dgram": "reached"}\n'
  assert _received(stream, dgram) == [b"from the sandbox", b"from the sandbox"]


def test_kernel_side_doors_are_closed(run):
  """Other socket families, io_uring, new user namespaces and ptrace fail; a connected AF_UNIX stream
  pair (what asyncio uses) works."""
  program = """import asyncio, ctypes, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)
out = {}
for name, family, kind in (("vsock", 40, 1), ("netlink", 16, 3), ("inet", 2, 1), ("packet", 17, 3)):
  try:
    socket.socket(family, kind)
    out[name] = "opened"
  except OSError as e:
    out[name] = e.errno
def call(*args):
  result = libc.syscall(*args)
  return ctypes.get_errno() if result == -1 else "ok"
params = ctypes.create_string_buffer(120)
out["io_uring_setup"] = call(425, 8, params)
out["unshare_user"] = call(272, 0x10000000)
out["ptrace"] = call(101, 16, os.getppid(), 0, 0)
out["asyncio"] = asyncio.run(asyncio.sleep(0, result="ok"))
a, b = socket.socketpair()
a.sendall(b"x")
out["socketpair"] = b.recv(1).decode()
print(json.dumps(out))
"""
  import json

  out = json.loads(run(program).stdout)
  assert out == {"vsock": errno.EACCES, "netlink": errno.EACCES, "inet": errno.EACCES, "packet": errno.EACCES,
                 "io_uring_setup": errno.EPERM, "unshare_user": errno.EPERM, "ptrace": errno.EPERM,
                 "asyncio": "ok", "socketpair": "x"}
