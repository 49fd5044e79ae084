"""Removing run directories: deep, unreadable and linked trees go without recursion, links are never
followed, and a budget that runs out reports what is left instead of raising."""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

import pytest

from rlvr_jax.rewards.code._cleanup import remove_tree


@pytest.fixture
def root():
  """A scratch directory on tmpfs where there is one (thousands of rmdirs take seconds on a disk)."""
  path = tempfile.mkdtemp(prefix="rlvr_cleanup_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
  yield pathlib.Path(path)
  shutil.rmtree(path)


def _deep_tree(top: str, depth: int) -> None:
  fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
  try:
    for level in range(depth):
      os.mkdir("d" * 40, dir_fd=fd)  # 2,500 x 41 characters: far past PATH_MAX
      child = os.open("d" * 40, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
      os.close(fd)
      fd = child
      if level % 500 == 0:
        os.mkdir("locked", dir_fd=fd)
        with open(os.open("locked/file", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "w") as f:
          f.write("x")
        os.chmod("locked", 0, dir_fd=fd)
  finally:
    os.close(fd)


def test_deep_tree_with_locked_directories(root):
  """2,500 levels (shutil.rmtree raises RecursionError here) with mode-0 directories on the way."""
  top = str(root / "run")
  os.mkdir(top)
  _deep_tree(top, 2500)
  removal = remove_tree(top)
  assert removal.complete and not os.path.exists(top) and removal.steps >= 2500


def test_links_are_removed_not_followed(root):
  outside = root / "outside"
  outside.mkdir()
  (outside / "keep.txt").write_text("keep")
  top = root / "run"
  (top / "sub").mkdir(parents=True)
  os.symlink(outside, top / "link")
  os.symlink(outside, top / "sub" / "link")
  os.mkfifo(top / "fifo")
  assert remove_tree(str(top)).complete
  assert (outside / "keep.txt").read_text() == "keep" and not top.exists()


def test_budget_runs_out_without_raising(root):
  top = root / "run"
  top.mkdir()
  for i in range(50):
    (top / f"f{i}").write_text("x")
  removal = remove_tree(str(top), max_steps=10)
  assert not removal.complete and "stopped after" in removal.problem and top.exists()
  assert remove_tree(str(top)).complete and not top.exists()


def test_missing_directory_and_a_file_in_its_place(root):
  assert remove_tree(str(root / "missing")).complete
  (root / "file").write_text("x")
  removal = remove_tree(str(root / "file"))
  assert not removal.complete and "cannot open" in removal.problem
