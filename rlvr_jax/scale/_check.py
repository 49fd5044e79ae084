"""The compile check: a run config's programs, compiled for a TPU slice (or the local devices), measured.

    report = run_check(config, topology="v5p:4x4x4")   # or "v5p-128"; None = the local devices
    print(report.table()); print(report.verdict()); sys.exit(0 if report.fits else 1)

For a named topology, `jax.experimental.topologies` gives the slice's devices without a TPU (libtpu, the
`[tpu]` extra, compiles for them from a CPU-only machine, as MaxText's train_compile.py does) and the
chip table gives its HBM, peak FLOP/s and bandwidth. Without a topology, the local devices are used: a
GPU or TPU reports its own memory limit; CPU devices (e.g. 8 fake ones) share the host's memory and have
no roofline.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections
from jax.experimental import topologies

from rlvr_jax import sharding
from rlvr_jax.models._attention import resolve_attention
from rlvr_jax.scale import _costs as costs
from rlvr_jax.scale._chips import ChipSpec, chip_of_device, chip_of_topology, local_memory_limit, topology_name
from rlvr_jax.scale._compile import compile_program
from rlvr_jax.scale._report import CheckReport, ProgramRow
from rlvr_jax.scale._run_spec import abstract_run_spec
from rlvr_jax.scale._targets import device_bytes, run_targets

PROGRAMS = ("prefill", "decode", "score", "score_reference", "update")

# libtpu takes a machine-wide lock file when it loads and, outside a TPU VM, looks for TPU metadata; a
# compile-only process needs neither (and may run beside another one, e.g. a test).
LIBTPU_ENVIRONMENT = {"ALLOW_MULTIPLE_LIBTPU_LOAD": "1", "TPU_SKIP_MDS_QUERY": "1", "TPU_WORKER_HOSTNAMES": "localhost"}


def topology_devices(name: str) -> list:
  """The devices of a TPU topology (no TPU needed; libtpu must be installed)."""
  for key, value in LIBTPU_ENVIRONMENT.items():  # read when libtpu loads, i.e. on the first topology
    os.environ.setdefault(key, value)
  return list(topologies.get_topology_desc(platform="tpu", topology_name=topology_name(name)).devices)


def run_check(config: ml_collections.ConfigDict, *, topology: str | None = None, hbm_bytes: int | None = None,
              programs: Sequence[str] | None = None, cache_dir: str | None = None,
              log: Callable[[str], None] = lambda line: None) -> CheckReport:
  """Builds the run's programs from `config` as the trainer does, compiles them for `topology` (or the
  local devices) and measures them; see the module docstring.

  Args:
    config: a run config (a configs/*.py file's, with its variants and overrides).
    topology: a slice (`v5p-128`) or libtpu topology name (`v5p:4x4x4`); None = the local devices.
    hbm_bytes: the memory a program may use per device, overriding the chip's.
    programs: a subset of PROGRAMS to compile (default: every program of the step).
    cache_dir: where compile results are kept, keyed by program text and target (`rlvr_jax.scale._compile`).
    log: called with a line before and after each compile (they take minutes at scale).

  Raises:
    ConfigError: the config is invalid for this slice (as `validate` would raise at launch).
    ValueError: an unknown topology or program name, or no HBM figure for the local devices.
  """
  unknown = sorted(set(programs or ()) - set(PROGRAMS))
  if unknown:
    raise ValueError(f"unknown program(s) {', '.join(unknown)}; known: {', '.join(PROGRAMS)}")
  if topology is not None:
    devices = topology_devices(topology)
    chip: ChipSpec | None = chip_of_topology(topology)
    target, platform = topology_name(topology), "tpu"
    processes = len({d.process_index for d in devices})
    capacity = hbm_bytes or chip.hbm_bytes
  else:
    devices = jax.devices()
    chip = chip_of_device(devices[0])
    target, platform, processes = f"{len(devices)} local {devices[0].device_kind}", devices[0].platform, \
        jax.process_count()
    capacity = hbm_bytes or local_memory_limit(devices[0]) or (chip.hbm_bytes if chip is not None else None)
    if capacity is None:
      raise ValueError(f"no memory figure for the local {devices[0].device_kind} devices; pass hbm_bytes")

  spec = abstract_run_spec(config, num_devices=len(devices), num_processes=processes, platform=platform)
  mesh = sharding.make_mesh(spec.mesh, devices)
  targets = [t for t in run_targets(spec, mesh) if programs is None or t.name in programs]
  rows = []
  for t in targets:
    log(f"compiling {t.name} for {target} ...")
    compiled = compile_program(t.fn, t.args, argument_bytes=device_bytes(t.args), target=target,
                               cache_dir=cache_dir)
    log(f"  {t.name}: {compiled.compile_seconds:.1f} s{' (cached)' if compiled.cached else ''}"
        f"{', out of memory' if compiled.out_of_memory else ''}")
    bound = (costs.roofline_seconds(t.cost, mesh.size, chip.peak_flops, chip.hbm_bandwidth)
             if chip is not None else None)
    rows.append(ProgramRow(name=t.name, calls_per_step=t.calls_per_step, compiled=compiled,
                           resident_bytes=t.resident_bytes, cost=t.cost, roofline_seconds=bound, knobs=t.knobs))
  return CheckReport(run=spec.name, target=target, devices=len(devices), chip=chip, capacity_bytes=capacity,
                     mesh=dict(mesh.shape), settings=_settings(spec, mesh, platform), rows=tuple(rows),
                     max_gen_batches=spec.train.max_gen_batches if spec.train.dynamic_sampling else 1)


def _settings(spec, mesh, platform: str) -> dict:
  """The config fields that shape the programs, as the report shows them (and the attention kernel
  model.attention resolves to on the target)."""
  sampling = spec.rollout.sampling
  kernel = resolve_attention(spec.model.attention, platform=platform, dtype=spec.model.dtype).name
  return {
      "model.preset": spec.model.preset, "model.dtype": jnp.dtype(spec.model.dtype).name,
      "model.scan_layers": spec.model.scan_layers, "model.remat": spec.model.remat,
      "model.attention": spec.model.attention, "attention_kernel": kernel, "mesh.data": mesh.shape["data"],
      "mesh.fsdp": mesh.shape["fsdp"], "mesh.tensor": mesh.shape["tensor"],
      "data.max_prompt_length": spec.data.max_prompt_length, "rollout.prompts_per_step": spec.rollout.prompts_per_step,
      "rollout.gen_prompts": spec.rollout.gen_prompts, "rollout.prompts_per_call": spec.rollout.prompts_per_call,
      "rollout.num_samples": sampling.num_samples,
      "rollout.max_new_tokens": sampling.max_new_tokens, "train.mini_batches": spec.train.mini_batches,
      "train.micro_batches": spec.train.micro_batches,
      "train.ppo_epochs": spec.train.ppo_epochs,
  }
