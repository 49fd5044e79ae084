"""The compile check's report: one row per program (per-device memory against the chip's HBM, FLOPs and
bytes per call, the roofline bound, compile seconds), the predicted time of one RL step, and the verdict
with the knobs to turn when something does not fit.

Memory per device of a program = its arguments + temporaries + outputs not aliased to a donated argument
(XLA's memory analysis) + what stays resident in HBM beside it without being an argument (the optimizer
state while the sampler runs, the reference weights, the rollout batch during the updates).

Step time = the sum over programs of calls per step x the roofline bound of a call, with every rollout
row decoding to the budget (the decode loop runs until its last row is done: at scale some row nearly
always uses the whole budget), one generation batch (dynamic sampling draws up to train.max_gen_batches),
and no time for host work (rewards, data) or for collectives beyond what the bytes model counts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rlvr_jax.scale import _costs as costs
from rlvr_jax.scale._chips import GIB, ChipSpec
from rlvr_jax.scale._compile import Compiled
from rlvr_jax.scale._targets import STATE_KNOBS, Knob


@dataclasses.dataclass(frozen=True)
class ProgramRow:
  """One program's line of the report (bytes per device)."""

  name: str
  calls_per_step: int
  compiled: Compiled
  resident_bytes: int
  cost: costs.Cost
  roofline_seconds: float | None
  knobs: tuple[Knob, ...]

  @property
  def total_bytes(self) -> int:
    return self.compiled.program_bytes + self.resident_bytes

  def fits(self, capacity: int) -> bool:
    return not self.compiled.out_of_memory and self.total_bytes <= capacity


@dataclasses.dataclass(frozen=True)
class CheckReport:
  """Attributes:
    run: the run's name; target: the topology or local devices compiled for; chip: its spec (None when
    unknown, e.g. CPU devices: no roofline); capacity_bytes: HBM a program may use per device;
    mesh: the mesh's axis sizes; settings: the config fields that shape the programs; rows: per program.
  """

  run: str
  target: str
  devices: int
  chip: ChipSpec | None
  capacity_bytes: int
  mesh: dict[str, int]
  settings: dict[str, Any]
  rows: tuple[ProgramRow, ...]
  max_gen_batches: int = 1

  @property
  def fits(self) -> bool:
    return all(row.fits(self.capacity_bytes) for row in self.rows)

  def step_seconds(self) -> dict[str, float] | None:
    """The roofline-bound time of one RL step by stage (rollout, scoring, updates) and in total; None
    without a chip spec or when some of the step's programs were not compiled."""
    if self.chip is None or self._missing():
      return None
    stage = {"prefill": "rollout", "decode": "rollout", "score": "scoring", "score_reference": "scoring",
             "update": "updates"}
    out = {"rollout": 0.0, "scoring": 0.0, "updates": 0.0}
    for row in self.rows:
      out[stage[row.name]] += row.calls_per_step * row.roofline_seconds
    out["total"] = sum(out.values())
    return out

  def table(self) -> str:
    chip = (f"{self.chip.name}: {self.chip.peak_flops / 1e12:.0f} TFLOP/s bf16, "
            f"{self.chip.hbm_bandwidth / 1e9:.0f} GB/s" if self.chip is not None else "no chip spec: no roofline")
    lines = [f"{self.run} on {self.target}: {self.devices} devices, mesh {self.mesh}, {chip}, "
             f"HBM {self.capacity_bytes / GIB:.2f} GiB per device",
             "  " + ", ".join(f"{k}={v}" for k, v in self.settings.items()),
             f"{'program':<16}{'calls':>6}{'args':>8}{'temp':>8}{'out':>8}{'resident':>9}{'total':>8}  {'fits':<5}"
             f"{'FLOP':>10}{'B/dev':>10}{'bound s':>10}{'compile s':>11}"]
    for row in self.rows:
      c = row.compiled
      gib = lambda n: f"{n / GIB:8.2f}"  # noqa: E731
      bound = f"{row.roofline_seconds:10.4g}" if row.roofline_seconds is not None else f"{'-':>10}"
      total = f"{'>' if c.out_of_memory else ' '}{row.total_bytes / GIB:7.2f}"
      lines.append(f"{row.name:<16}{row.calls_per_step:>6}{gib(c.argument_bytes)}{gib(c.temp_bytes)}"
                   f"{gib(c.output_bytes - c.alias_bytes)}{row.resident_bytes / GIB:9.2f}{total}  "
                   f"{'yes' if row.fits(self.capacity_bytes) else 'NO':<5}{row.cost.flops:10.3g}"
                   f"{row.cost.bytes_per_device:10.3g}{bound}{c.compile_seconds:10.1f}"
                   f"{'*' if c.cached else ' '}")
    lines.append("GiB per device; out = outputs not aliased to donated arguments; resident = held in HBM beside "
                 "the program; FLOP over all devices per call; * = compile time from the cache")
    step = self.step_seconds()
    if self.chip is not None and self._missing():
      lines.append(f"one RL step: not predicted ({', '.join(self._missing())} not compiled)")
    elif step is not None:
      dynamic = (f"; dynamic sampling: up to {self.max_gen_batches} generation batches, rollout up to "
                 f"{self.max_gen_batches * step['rollout']:.0f} s" if self.max_gen_batches > 1 else "")
      lines.append(f"one RL step, roofline bound: {step['total']:.3g} s = rollout {step['rollout']:.3g} s (every row "
                   f"to the token budget) + scoring {step['scoring']:.3g} s + updates {step['updates']:.3g} s"
                   f"{dynamic}")
    return "\n".join(lines)

  def _missing(self) -> list[str]:
    return sorted({"prefill", "decode", "score", "update"} - {row.name for row in self.rows})

  def verdict(self) -> str:
    """'fits' or what does not fit and the knobs to turn."""
    if self.fits:
      return f"fits: every program within {self.capacity_bytes / GIB:.2f} GiB per device"
    lines = []
    for row in self.rows:
      if row.fits(self.capacity_bytes):
        continue
      c = row.compiled
      if c.out_of_memory:
        need = (f"the compiler refused it: {c.temp_bytes / GIB:.2f} GiB of temporaries needed, "
                f"{c.available_bytes / GIB:.2f} GiB available")
      else:
        need = (f"{row.total_bytes / GIB:.2f} GiB per device (program {c.program_bytes / GIB:.2f} + resident "
                f"{row.resident_bytes / GIB:.2f}) > {self.capacity_bytes / GIB:.2f} GiB")
      knobs = row.knobs
      if row.resident_bytes + c.argument_bytes > self.capacity_bytes:  # the state alone is too big
        knobs = STATE_KNOBS + knobs
      turn = "; ".join(f"{field} (now {self.settings[field]}): {why}" if field in self.settings else
                       (f"{field}: {why}" if field else why) for field, why in knobs)
      lines.append(f"{row.name} does not fit: {need}. Turn: {turn}")
    return "DOES NOT FIT\n" + "\n".join(lines)

  def to_json(self) -> dict:
    return {
        "run": self.run, "target": self.target, "devices": self.devices, "mesh": self.mesh,
        "chip": dataclasses.asdict(self.chip) if self.chip is not None else None,
        "capacity_bytes": self.capacity_bytes, "settings": self.settings, "fits": self.fits,
        "step_seconds": self.step_seconds(), "max_gen_batches": self.max_gen_batches,
        "programs": [{"name": r.name, "calls_per_step": r.calls_per_step, **dataclasses.asdict(r.compiled),
                      "resident_bytes": r.resident_bytes, "total_bytes": r.total_bytes,
                      "fits": r.fits(self.capacity_bytes), "flops": r.cost.flops,
                      "bytes_per_device": r.cost.bytes_per_device, "roofline_seconds": r.roofline_seconds}
                     for r in self.rows],
    }
