"""A verifier for the reward pool's workers that hangs on its first task and kills its process on its
second (across all workers: each fault is claimed once by creating a marker file), then compares
answers as strings. Kept apart from the test module so a replaced worker starts without importing jax."""

from __future__ import annotations

import os
import time


def _claim(marker_dir: str, name: str) -> bool:
  try:
    os.close(os.open(os.path.join(marker_dir, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
  except FileExistsError:
    return False
  return True


def hang_then_crash(marker_dir: str, task: tuple[str, str]) -> bool:
  predicted, reference = task
  if _claim(marker_dir, "hang"):
    time.sleep(600)
  if _claim(marker_dir, "crash"):
    os._exit(7)
  return predicted.strip() == reference.strip()
