"""TensorBoard event files written synchronously, in the format tensorboardX's `SummaryWriter` writes.

Why not `SummaryWriter` itself: it writes from a background thread, and a write error (a full disk, a
lost network mount) kills that thread with a traceback on stderr while the trainer goes on queueing
events into a bounded queue, until a `put` blocks it for good. Here every write happens in the caller's
thread, so the error reaches the trainer (and `rlvr_jax.train._disk_full`) at the step it happened.
"""

from __future__ import annotations

import os
import time

from tensorboardX.event_file_writer import EventsWriter
from tensorboardX.proto.event_pb2 import Event, SessionLog
from tensorboardX.summary import scalar, text


class EventFile:
  """One events file in `logdir`; `purge_step` hides the events an earlier, interrupted run logged at
  that step and after (TensorBoard drops them when it reads a SessionLog.START at that step)."""

  def __init__(self, logdir: str, *, purge_step: int | None = None):
    os.makedirs(logdir, exist_ok=True)
    # The process id keeps two writers started in the same second from sharing a file name.
    self._writer = EventsWriter(os.path.join(logdir, "events"), filename_suffix=f".{os.getpid()}")
    if purge_step is not None:
      self._writer.write_event(Event(wall_time=time.time(), step=purge_step,
                                     session_log=SessionLog(status=SessionLog.START)))
    self._writer.flush()

  def scalars(self, step: int, values: dict[str, float]) -> None:
    now = time.time()
    for tag, value in values.items():
      self._writer.write_event(Event(wall_time=now, step=step, summary=scalar(tag, value)))
    self._writer.flush()

  def text(self, tag: str, content: str, step: int) -> None:
    self._writer.write_event(Event(wall_time=time.time(), step=step, summary=text(tag, content)))
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()
