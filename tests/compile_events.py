"""Counts the programs jax builds, for tests that assert nothing recompiles: XLA compiles, and hits of the
session's persistent compilation cache (tests/conftest.py), which stand in for a compile another test
already paid for (a retrace that hits the cache is still a retrace)."""

from __future__ import annotations

import jax

_EVENTS = ("backend_compile_duration", "compile_time_saved_sec")


def program_counter() -> list[str]:
  """A list that grows by one event name per program built from now on, in this process."""
  events: list[str] = []
  jax.monitoring.register_event_duration_secs_listener(
      lambda event, duration, **kw: events.append(event) if event.endswith(_EVENTS) else None)
  return events
