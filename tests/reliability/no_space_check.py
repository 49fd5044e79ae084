"""`launch/tpu_pod.py` without the free-space checks made before a write (at the start and before each
checkpoint), so that a write really meets a full disk: what happens when another job fills the disk
between the check and the write. For tests/reliability/test_disk_full.py only."""

import os
import runpy
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from rlvr_jax.train import _checkpointing as checkpointing, _disk_full as disk_full  # noqa: E402

checkpointing.free_bytes = disk_full.free_bytes = lambda path: None  # "the filesystem reports no size"

if __name__ == "__main__":
  sys.argv[0] = os.path.join(ROOT, "launch", "tpu_pod.py")
  runpy.run_path(sys.argv[0], run_name="__main__")
