"""Test setup: 8 fake CPU devices so sharded code paths run for real on one host.

XLA reads the flag when jax initialises its backend, so it is set before anything imports jax.
"""

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", False)


def pytest_collection_modifyitems(items):
  """Tests marked slow (multi-process and launcher runs of a minute or more) run first, so that with
  `-n 2` they overlap the many short tests instead of running alone at the end."""
  items.sort(key=lambda item: item.get_closest_marker("slow") is None)
