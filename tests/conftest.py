"""Test setup: 8 fake CPU devices so sharded code paths run for real on one host.

XLA reads the flag when jax initialises its backend, so it is set before anything imports jax.
"""

import os

# At the suite's tiny shapes compiling dominates a test's time (one trainer test: 52 of its 109 s in XLA's
# backend compile). Skipping LLVM's expensive passes compiles ~20% faster (tiny gradient 2.2 -> 1.6 s,
# sampler 7.0 -> 5.3 s) and leaves every result bitwise the same: test_xla_flags.py holds a forward, a
# gradient and sampled tokens / log-probs to XLA's defaults. (LLVM optimization level 0 compiled ~50%
# faster but moved results by ~1e-6: the suite would test numbers no user gets.)
TEST_XLA_FLAGS = "--xla_llvm_disable_expensive_passes=true"
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count=8 {TEST_XLA_FLAGS}"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", False)


def pytest_collection_modifyitems(items):
  """Tests marked slow (multi-process and launcher runs of a minute or more) run first, so that with
  `-n 2` they overlap the many short tests instead of running alone at the end."""
  items.sort(key=lambda item: item.get_closest_marker("slow") is None)
