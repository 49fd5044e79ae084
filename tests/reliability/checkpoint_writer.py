"""Child process of test_checkpoint_crash.py: saves step 1, then starts saving step 2 and is killed.

    python checkpoint_writer.py RUN_DIR MODE

MODE "mid_write": saves step 2 normally; the parent SIGKILLs this process once the step's temporary
directory holds array data, i.e. while orbax is still writing. MODE "before_commit": the process kills
itself at the moment orbax would rename the finished temporary directory to its final name, so every
byte of step 2 is on disk and only the commit is missing. Each step is announced on stdout.

The state is `STATE_MB` of random float32 (random so that compression cannot shrink the write to
nothing), which keeps the mid-write window long enough for the parent to land its kill in it.
"""

from __future__ import annotations

import os
import signal
import sys

os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

STATE_MB = 96
LEAVES = 4
KEEP = 1  # the strictest setting: step 1 is the only checkpoint, and must outlive the killed save


def state(step: int) -> dict:
  """The state saved at `step`: deterministic, so the parent can rebuild step 1's values."""
  n = STATE_MB * (1 << 20) // 4 // LEAVES
  return {f"w{i}": jnp.asarray(np.random.default_rng([step, i]).standard_normal(n, dtype=np.float32))
          for i in range(LEAVES)} | {"step": jnp.asarray(step, jnp.int32)}


def _kill_at_commit(step: int) -> None:
  """Replaces the rename that commits a checkpoint by a SIGKILL of this process, for step `step` only."""
  from orbax.checkpoint.path import atomicity

  commit = atomicity.AtomicRenameTemporaryPath.finalize

  async def finalize(self, *args, **kwargs):
    if self.get().name.startswith(f"{step}."):
      print(f"committing {step}", flush=True)
      os.kill(os.getpid(), signal.SIGKILL)
    return await commit(self, *args, **kwargs)

  atomicity.AtomicRenameTemporaryPath.finalize = finalize


def main(run_dir: str, mode: str) -> None:
  from absl import logging

  from rlvr_jax.train._checkpointing import CheckpointConfig, RunCheckpoints

  logging.set_verbosity(logging.WARNING)
  if mode not in ("mid_write", "before_commit"):
    raise SystemExit(f"unknown mode {mode!r}")
  checkpoints = RunCheckpoints(run_dir, CheckpointConfig(every=1, keep=KEEP))
  checkpoints.save(1, state(1), {"step": 1}, force=True)
  checkpoints.wait()
  second = jax.block_until_ready(state(2))
  if mode == "before_commit":
    _kill_at_commit(2)
  print("saved 1", flush=True)
  checkpoints.save(2, second, {"step": 2}, force=True)
  checkpoints.wait()
  print("saved 2", flush=True)  # reached only if the kill came too late
  checkpoints.close()


if __name__ == "__main__":
  main(*sys.argv[1:])
