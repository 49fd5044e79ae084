"""Paper scale without the hardware: compile a run's programs for a TPU slice (or the local devices) and
measure them (issue #14; `launch/compile_check.py` is the command line, docs/scale.md the results).

Public API:
  run_check(config, topology=, hbm_bytes=, programs=, cache_dir=) -> CheckReport   the check
  CheckReport (.table(), .verdict(), .fits, .step_seconds(), .to_json())           its report
  CHIPS, SLICES, ChipSpec, topology_name                                          chip specs, slice names
  run_targets(spec, mesh) -> [Target]                                             the step's programs, abstract
  abstract_run_spec(config, num_devices=, num_processes=, platform=) -> RunSpec   validation without weights
  costs                                                                           analytic FLOPs and bytes
"""

from rlvr_jax.scale import _costs as costs
from rlvr_jax.scale._check import PROGRAMS, run_check
from rlvr_jax.scale._chips import CHIPS, GIB, SLICES, ChipSpec, topology_name
from rlvr_jax.scale._report import CheckReport, ProgramRow
from rlvr_jax.scale._run_spec import abstract_run_spec
from rlvr_jax.scale._targets import Target, run_targets

__all__ = ["CHIPS", "GIB", "PROGRAMS", "SLICES", "ChipSpec", "CheckReport", "ProgramRow", "Target", "abstract_run_spec",
           "costs", "run_check", "run_targets", "topology_name"]
