"""Accelerator chips and TPU slices: datasheet peak bf16 FLOP/s, HBM bandwidth and capacity per chip, the
slice names a user picks (`v5p-128`) and the topology names libtpu compiles for (`v5p:4x4x4`).

Sources (datasheet values, per chip; bf16 dense, i.e. without structured sparsity):
  TPU v5p   https://cloud.google.com/tpu/docs/v5p      459 TFLOP/s, 95 GB HBM2e, 2765 GB/s
  TPU v5e   https://cloud.google.com/tpu/docs/v5e      197 TFLOP/s, 16 GB HBM2, 819 GB/s
  TPU v6e   https://cloud.google.com/tpu/docs/v6e      918 TFLOP/s, 32 GB HBM, 1640 GB/s
  H100 SXM  https://www.nvidia.com/en-us/data-center/h100/  989 TFLOP/s (1,979 with sparsity), 80 GB, 3.35 TB/s
  H200 SXM  https://www.nvidia.com/en-us/data-center/h200/  989 TFLOP/s (1,979 with sparsity), 141 GB, 4.8 TB/s

Capacity: a program's memory is checked against what the compiler lets a program use: for TPUs the
figure libtpu names in its RESOURCE_EXHAUSTED message (libtpu 0.0.42: 95.74 GiB on v5p, 15.75 GiB on
v5e, 31.25 GiB on v6e, a little under the datasheet's GB), for GPUs the datasheet figure; a run on local
devices reads the device's own limit instead.
"""

from __future__ import annotations

import dataclasses
import os

import jax

GIB = 1 << 30


@dataclasses.dataclass(frozen=True)
class ChipSpec:
  """Attributes:
    name: short name ("v5p", "h100").
    peak_flops: datasheet peak bf16 FLOP/s (dense).
    hbm_bandwidth: bytes/s.
    hbm_bytes: memory a program may use, in bytes (see the module docstring).
    source: where the figures come from.
  """

  name: str
  peak_flops: float | None
  hbm_bandwidth: float | None
  hbm_bytes: int
  source: str

  @property
  def hbm_gib(self) -> float:
    return self.hbm_bytes / GIB


CHIPS: dict[str, ChipSpec] = {
    "v5p": ChipSpec("v5p", 459e12, 2765e9, int(95.74 * GIB), "cloud.google.com/tpu/docs/v5p; HBM: libtpu's limit"),
    "v5e": ChipSpec("v5e", 197e12, 819e9, int(15.75 * GIB), "cloud.google.com/tpu/docs/v5e; HBM: libtpu's limit"),
    "v6e": ChipSpec("v6e", 918e12, 1640e9, int(31.25 * GIB), "cloud.google.com/tpu/docs/v6e; HBM: libtpu's limit"),
    "h100": ChipSpec("h100", 989e12, 3.35e12, 80 * 10**9, "nvidia.com/en-us/data-center/h100 (SXM, dense bf16)"),
    "h200": ChipSpec("h200", 989e12, 4.8e12, 141 * 10**9, "nvidia.com/en-us/data-center/h200 (SXM, dense bf16)"),
}

# What a device reports as its `device_kind` -> the chip table's name.
_DEVICE_KINDS = {"TPU v5": "v5p", "TPU v5p": "v5p", "TPU v5 lite": "v5e", "TPU v5e": "v5e", "TPU v6 lite": "v6e",
                 "TPU v6e": "v6e"}

# Slice names (Google's accelerator types) -> libtpu topology names. v5p counts TensorCores (2 per chip):
# v5p-128 is 64 chips; v5e and v6e count chips.
SLICES: dict[str, str] = {
    "v5p-8": "v5p:2x2x1",
    "v5p-64": "v5p:2x4x4",
    "v5p-128": "v5p:4x4x4",
    "v5p-256": "v5p:4x4x8",
    "v5e-16": "v5e:4x4",
    "v5e-64": "v5e:8x8",
    "v5e-256": "v5e:16x16",
    "v6e-16": "v6e:4x4",
    "v6e-64": "v6e:8x8",
    "v6e-256": "v6e:16x16",
}


def topology_name(name: str) -> str:
  """A slice name (`v5p-128`) or a topology name (`v5p:4x4x4`) -> the topology name libtpu takes."""
  if name in SLICES:
    return SLICES[name]
  chip, sep, shape = name.partition(":")
  if not sep or chip not in CHIPS or not all(part.isdigit() for part in shape.split("x")):
    raise ValueError(f"topology {name!r}: expected a slice ({', '.join(SLICES)}) or CHIP:AxB[xC] with CHIP one of "
                     f"{', '.join(c for c in CHIPS if c.startswith('v'))}")
  return name


def chip_of_topology(name: str) -> ChipSpec:
  return CHIPS[topology_name(name).partition(":")[0]]


def chip_of_device(device) -> ChipSpec | None:
  """The chip table's entry for a device (a TPU's device_kind, an H100 / H200 by name); None for a CPU
  or an unknown chip."""
  kind = getattr(device, "device_kind", "")
  if kind in _DEVICE_KINDS:
    return CHIPS[_DEVICE_KINDS[kind]]
  lowered = kind.lower()
  for name in ("h200", "h100"):
    if name in lowered:
      return CHIPS[name]
  return None


def local_memory_limit(device) -> int | None:
  """Bytes a program may use on a local device: the runtime's limit (GPU, TPU), or for CPU devices an
  equal share of the host's memory among the local devices (fake CPU devices share it)."""
  stats = device.memory_stats() if hasattr(device, "memory_stats") else None
  if stats and stats.get("bytes_limit"):
    return int(stats["bytes_limit"])
  if device.platform == "cpu":
    host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return host // max(jax.local_device_count(), 1)
  return None
