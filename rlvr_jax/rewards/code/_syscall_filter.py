"""The seccomp filter of sandboxed runs: no sockets to anything outside the run, no new namespaces,
no kernel side doors around those rules, and -- where no memory cgroup caps the run -- no new processes.

A private network namespace blocks TCP/UDP but not a Unix socket that a host process listens on in
the file system (`/run/...`, `/tmp/...`), nor AF_VSOCK (which crosses a VM boundary). Rather than
hiding the file system, the filter refuses the syscall that opens such a channel: `socket()` fails
with EACCES for every address family except AF_INET / AF_INET6 (and for those too unless the network
is deliberately left on), and `socketpair()` is allowed only as a connected AF_UNIX stream pair (what
asyncio and multiprocessing use; a connected stream socket can neither connect nor send elsewhere).
It also refuses what would get around that or around the judge (_judge.py): io_uring (which opens and
connects sockets without those syscalls), ptrace / process_vm_* / pidfd_getfd (reading or driving
another process of the same user), and namespace creation (unshare, setns, namespace flags of clone,
which is how an unprivileged user gains capabilities), plus mount and module / kexec / bpf calls.

Without a memory cgroup the run's memory is capped by a process budget of one: RLIMIT_AS applies per
process, so the filter then refuses fork / vfork and every clone that is not a thread (EAGAIN, as if
the process limit were reached); threads share the one address space and stay allowed.

The program is assembled here (classic BPF, `struct sock_filter` = u16 code, u8 jt, u8 jf, u32 k)
and installed by the zygote with prctl(PR_SET_SECCOMP). clone3 is refused with ENOSYS (its flags sit
in memory the filter cannot read), so the C library falls back to clone, whose flags it can.
"""

from __future__ import annotations

import dataclasses
import errno
import platform
import struct

# BPF opcodes.
LD_W_ABS, JEQ_K, JSET_K, JGE_K, RET_K, ALU_AND_K = 0x20, 0x15, 0x45, 0x35, 0x06, 0x54
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6] (low word first).
NR_OFFSET, ARCH_OFFSET = 0, 4


def arg_offset(index: int) -> int:
  return 16 + 8 * index


AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SOCK_STREAM, SOCK_TYPE_MASK = 1, 0xF  # SOCK_NONBLOCK / SOCK_CLOEXEC live above the type bits
CLONE_THREAD = 0x00010000
# NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET (clone's low byte is the exit signal).
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
X32_SYSCALL_BIT = 0x40000000


@dataclasses.dataclass(frozen=True)
class Arch:
  """Syscall numbers of one architecture (x86_64: asm/unistd_64.h; others: asm-generic/unistd.h)."""

  audit_arch: int
  socket: int
  socketpair: int
  clone: int
  clone3: int
  fork: tuple[int, ...]  # fork and vfork (none on asm-generic architectures)
  denied: dict[str, int]  # refused outright with EPERM


_COMMON_DENIED = {"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "pidfd_getfd": 438,
                  "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
                  "fspick": 433, "mount_setattr": 442}
ARCHES = {
    "x86_64": Arch(audit_arch=0xC000003E, socket=41, socketpair=53, clone=56, clone3=435, fork=(57, 58),
                   denied={**_COMMON_DENIED, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
                           "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
                           "bpf": 321, "userfaultfd": 323, "perf_event_open": 298, "keyctl": 250,
                           "add_key": 248, "request_key": 249, "open_by_handle_at": 304, "kexec_load": 246,
                           "kexec_file_load": 320, "init_module": 175, "finit_module": 313,
                           "delete_module": 176}),
    "aarch64": Arch(audit_arch=0xC00000B7, socket=198, socketpair=199, clone=220, clone3=435, fork=(),
                    denied={**_COMMON_DENIED, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
                            "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
                            "bpf": 280, "userfaultfd": 282, "perf_event_open": 241, "keyctl": 219,
                            "add_key": 217, "request_key": 218, "open_by_handle_at": 265, "kexec_load": 104,
                            "kexec_file_load": 294, "init_module": 105, "finit_module": 273,
                            "delete_module": 106}),
}


def host_arch() -> Arch:
  """The syscall table of this machine; ValueError on an architecture the filter does not know."""
  machine = platform.machine()
  if machine not in ARCHES:
    raise ValueError(f"no seccomp syscall table for architecture {machine!r} (known: {', '.join(ARCHES)})")
  return ARCHES[machine]


@dataclasses.dataclass(frozen=True)
class FilterPolicy:
  """What a run may do.

  Attributes:
    allow_inet: AF_INET / AF_INET6 sockets allowed (only when the network is deliberately left on).
    allow_fork: new processes allowed (when a memory cgroup caps all of them together).
  """

  allow_inet: bool = False
  allow_fork: bool = False


def _stmt(code: int, k: int) -> tuple[int, int, int, int]:
  return (code, 0, 0, k)


def _jump(code: int, k: int, jt: int, jf: int) -> tuple[int, int, int, int]:
  return (code, jt, jf, k)


def _deny(error: int) -> tuple[int, int, int, int]:
  return _stmt(RET_K, SECCOMP_RET_ERRNO | error)


ALLOW = _stmt(RET_K, SECCOMP_RET_ALLOW)


def instructions(policy: FilterPolicy, arch: Arch) -> list[tuple[int, int, int, int]]:
  """The filter program as (code, jt, jf, k) tuples; jumps are relative to the next instruction."""
  program = [
      _stmt(LD_W_ABS, ARCH_OFFSET),
      _jump(JEQ_K, arch.audit_arch, 1, 0),
      _stmt(RET_K, SECCOMP_RET_KILL_PROCESS),  # another ABI (i386 on x86_64) would have other numbers
      _stmt(LD_W_ABS, NR_OFFSET),
  ]
  if arch.audit_arch == ARCHES["x86_64"].audit_arch:
    program += [_jump(JGE_K, X32_SYSCALL_BIT, 0, 1), _deny(errno.ENOSYS)]  # the x32 ABI
  # Each block: if nr == N fall into it (it always returns), else jump over it with nr still loaded.
  families = [AF_INET, AF_INET6] if policy.allow_inet else []
  socket_block = [_stmt(LD_W_ABS, arg_offset(0))]
  for index, family in enumerate(families):
    socket_block.append(_jump(JEQ_K, family, len(families) - index, 0))  # to the ALLOW after the deny
  socket_block += [_deny(errno.EACCES), ALLOW]
  socketpair_block = [
      _stmt(LD_W_ABS, arg_offset(0)), _jump(JEQ_K, AF_UNIX, 0, 3),
      _stmt(LD_W_ABS, arg_offset(1)), _stmt(ALU_AND_K, SOCK_TYPE_MASK), _jump(JEQ_K, SOCK_STREAM, 1, 0),
      _deny(errno.EACCES), ALLOW]
  clone_block = [_stmt(LD_W_ABS, arg_offset(0)), _jump(JSET_K, CLONE_NAMESPACES, 0, 1), _deny(errno.EPERM)]
  if not policy.allow_fork:
    clone_block += [_jump(JSET_K, CLONE_THREAD, 1, 0), _deny(errno.EAGAIN)]
  clone_block.append(ALLOW)
  blocks = [(arch.socket, socket_block), (arch.socketpair, socketpair_block), (arch.clone, clone_block),
            (arch.clone3, [_deny(errno.ENOSYS)])]
  if not policy.allow_fork:
    blocks += [(nr, [_deny(errno.EAGAIN)]) for nr in arch.fork]
  blocks += [(nr, [_deny(errno.EPERM)]) for nr in sorted(arch.denied.values())]
  for nr, block in blocks:
    program.append(_jump(JEQ_K, nr, 0, len(block)))
    program += block
  program.append(ALLOW)
  return program


def assemble(program: list[tuple[int, int, int, int]]) -> bytes:
  """The bytes of `struct sock_filter[]` in the host's byte order."""
  if len(program) > 4096:
    raise ValueError(f"seccomp program of {len(program)} instructions (the kernel takes at most 4096)")
  return b"".join(struct.pack("=HBBI", code, jt, jf, k) for code, jt, jf, k in program)


def filter_hex(policy: FilterPolicy, arch: Arch | None = None) -> str:
  """The assembled filter as hex text (how it travels to the zygote in a JSON request)."""
  return assemble(instructions(policy, arch or host_arch())).hex()
