"""The samplers' decode schedules on the host: how many decode steps and slot-steps a call takes for
given response lengths, without running a model.

Why: `rollout.slots` trades decode steps (each reads every weight once) against idle slot-steps in the
tail. With a device's cost of a decode step (a fixed part per step, a part per slot) the two counts give
a call's decode time, so a slot count can be chosen from logged response lengths before a run
(bench/slot_plan.py). This is a transcription of `rlvr_jax.sampling._continuous` (row-order admission
within each slot group, a row that ends at token 0 freeing its slot during the admission, the
`slot_phases` tail) and of the static loop; tests hold the compiled samplers' `DecodeStats` to it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rlvr_jax.sampling._continuous import slot_phases


@dataclasses.dataclass(frozen=True)
class DecodeSchedule:
  """A call's decode-loop counters, as `DecodeStats` reports them.

  Attributes:
    steps: decode iterations (token 0 of each row comes from the prefill, not from a step).
    slot_steps: slots summed over the steps.
    busy_slot_steps: slot-steps that decoded a live row.
  """

  steps: int
  slot_steps: int
  busy_slot_steps: int

  @property
  def utilization(self) -> float:
    return self.busy_slot_steps / self.slot_steps if self.slot_steps else 1.0

  def seconds(self, step_s: float, slot_s: float) -> float:
    """Decode time at `step_s` per step (what does not shrink with the slots: the weights' read) plus
    `slot_s` per slot-step."""
    return self.steps * step_s + self.slot_steps * slot_s


def _response_lengths(lengths) -> np.ndarray:
  lengths = np.asarray(lengths).reshape(-1)
  if lengths.size == 0 or lengths.min() < 1:
    raise ValueError(f"lengths must be >= 1 (token 0 included), got min {lengths.min() if lengths.size else None} "
                     f"over {lengths.size} rows")
  return lengths.astype(np.int64)


def static_schedule(lengths) -> DecodeSchedule:
  """The static sampler: every row holds its slot until the longest row ends. lengths [R] -> counts."""
  lengths = _response_lengths(lengths)
  steps = int(lengths.max()) - 1
  return DecodeSchedule(steps=steps, slot_steps=lengths.size * steps, busy_slot_steps=int((lengths - 1).sum()))


def continuous_schedule(lengths, slots: int, groups: int = 1) -> DecodeSchedule:
  """The continuous sampler with `slots` slots in `groups` slot groups (one per data-parallel shard).

  lengths [R]: each row's response length, token 0 included (`SamplerOutput.lengths`), prompt-major as
  the rows are admitted.
  """
  lengths = _response_lengths(lengths)
  rows = lengths.size
  if slots < 1 or groups < 1 or slots % groups or rows % groups:
    raise ValueError(f"slots={slots} and {rows} rows must both split into groups={groups}")
  per_group = rows // groups
  queues = lengths.reshape(groups, per_group)
  admitted = [0] * groups
  live: list[list[int]] = [[] for _ in range(groups)]  # decode tokens each live row still needs
  steps = slot_steps = busy = 0
  phases = slot_phases(slots, groups)
  for phase, current in enumerate(phases):
    following = phases[phase + 1] if phase + 1 < len(phases) else 0
    while True:
      pending = any(n < per_group for n in admitted)
      if not pending and max(map(len, live)) <= following // groups:
        break  # every group's live rows fit the next phase (or none is left)
      for group in range(groups):
        while len(live[group]) < current // groups and admitted[group] < per_group:
          length = int(queues[group, admitted[group]])
          admitted[group] += 1
          if length > 1:  # a row of one token ended at admission and freed its slot again
            live[group].append(length - 1)
      if not any(live):
        continue  # every admitted row ended at token 0: no decode step
      steps += 1
      slot_steps += current
      busy += sum(map(len, live))
      live = [[left - 1 for left in group if left > 1] for group in live]
  return DecodeSchedule(steps=steps, slot_steps=slot_steps, busy_slot_steps=busy)
