"""What a run's pipes carried, read in the trainer by parsers that are total: any bytes at all give a
result, never an exception.

Four channels come back from a run: stdout and stderr of the candidate (compared as text for stdio
tests, otherwise only kept for diagnostics), the launcher's status lines (_zygote.py) and the result
channel -- the judge's event lines for assert / call runs (_judge.py), or the candidate's one-byte
note for stdio runs (_candidate.py). Only the launcher and the judge write the lines parsed here, but
a run can be cut at any byte (a timeout, the output cap, a kill), so every line is parsed defensively:
JSON that does not decode (including huge numbers and deep nesting), records of the wrong shape and
fields of the wrong type are dropped, and what is kept is normalised into small typed records.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

MESSAGE_CHARS = 300
_JUDGE_EVENTS = ("load", "test", "case", "error", "candidate_gone", "protocol_error", "judge_error", "finished")
_STATUSES = ("passed", "failed", "error", "ok", "syntax_error")
_NOTES = {ord("S"): "syntax_error", ord("E"): "raised", ord("X"): "exited", ord("D"): "done"}


@dataclasses.dataclass(frozen=True)
class Ending:
  """How a process ended: an exit code or a signal (exactly one set)."""

  code: int | None = None
  signal: int | None = None


@dataclasses.dataclass(frozen=True)
class LauncherStatus:
  """The launcher's report of one run.

  Attributes:
    errors: setup failures before any program ran (the sandbox is broken: the trainer raises).
    started: the run's processes were started (pids of the launcher, candidate and judge).
    exited: the launcher finished its cleanup and reported (False if it was killed or lost).
    candidate, judge: how each ended on its own (None: still running at the end, then killed).
    timed_out: the wall-clock limit was hit.
    oom_kills: processes the run's memory cgroup killed.
    survivors: processes still alive when the cleanup rounds ran out (0 normally).
  """

  errors: tuple[str, ...] = ()
  started: bool = False
  pids: tuple[int, ...] = ()
  exited: bool = False
  candidate: Ending | None = None
  judge: Ending | None = None
  timed_out: bool = False
  oom_kills: int = 0
  survivors: int = 0


@dataclasses.dataclass(frozen=True)
class JudgeEvent:
  """One judge record: event in _JUDGE_EVENTS; index only for test / case; status "" where none."""

  event: str
  index: int = -1
  status: str = ""
  stage: str = ""
  message: str = ""


def json_lines(data: bytes, max_line: int = 1 << 16) -> list[Any]:
  """The JSON values of the lines of `data`; lines that do not decode (or are too long) are skipped."""
  values = []
  for line in data.split(b"\n"):
    if not line.strip() or len(line) > max_line:
      continue
    try:
      values.append(json.loads(line.decode("utf-8", errors="replace")))
    except (ValueError, RecursionError, MemoryError):  # JSONDecodeError, ints past the digit limit
      continue
  return values


def _int(value: Any, low: int = 0, high: int = 1 << 62) -> int | None:
  return value if type(value) is int and low <= value <= high else None


def _text(value: Any) -> str:
  return value[:MESSAGE_CHARS] if type(value) is str else ""


def _ending(value: Any) -> Ending | None:
  if type(value) is not dict:
    return None
  code, signal = _int(value.get("code"), -255, 255), _int(value.get("signal"), 1, 128)
  if code is not None:
    return Ending(code=code)
  return Ending(signal=signal) if signal is not None else None


def parse_status(data: bytes) -> LauncherStatus:
  """The launcher's records, normalised; the first "started" and "exit" records count."""
  errors, started, exited = [], None, None
  for record in json_lines(data):
    if type(record) is not dict:
      continue
    event = record.get("event")
    if event == "error":
      errors.append(_text(record.get("message")) or "unknown sandbox error")
    elif event == "started" and started is None:
      started = record
    elif event == "exit" and exited is None:
      exited = record
  pids = ()
  if started is not None:
    pids = tuple(pid for pid in (_int(started.get(k), 2, 1 << 22) for k in ("candidate", "judge", "launcher"))
                 if pid is not None)
  if exited is None:
    return LauncherStatus(errors=tuple(errors), started=started is not None, pids=pids)
  return LauncherStatus(errors=tuple(errors), started=started is not None, pids=pids, exited=True,
                        candidate=_ending(exited.get("candidate")), judge=_ending(exited.get("judge")),
                        timed_out=exited.get("timed_out") is True,
                        oom_kills=_int(exited.get("oom_kills")) or 0, survivors=_int(exited.get("survivors")) or 0)


def parse_judge(data: bytes, num_tests: int) -> tuple[JudgeEvent, ...]:
  """The judge's events, normalised; test / case records need an index in [0, num_tests)."""
  events = []
  for record in json_lines(data):
    if type(record) is not dict or record.get("event") not in _JUDGE_EVENTS:
      continue
    event = record["event"]
    status = record.get("status") if record.get("status") in _STATUSES else ""
    index = -1
    if event in ("test", "case"):
      index = _int(record.get("index"), 0, max(num_tests - 1, 0))
      if index is None or not status or num_tests == 0:
        continue
    events.append(JudgeEvent(event=event, index=index, status=status, stage=_text(record.get("stage")),
                             message=_text(record.get("message"))))
  return tuple(events)


def parse_note(data: bytes) -> str:
  """How a stdio script ended by its own account: the last known note byte ("" if none)."""
  return next((_NOTES[byte] for byte in reversed(data) if byte in _NOTES), "")
