"""Test setup: 8 fake CPU devices so sharded code paths run for real on one host, and XLA:CPU's backend
compiled without LLVM's optimization passes.

Why the second: compiling is most of the suite's time (the tiny trainer's update step takes ~3 s to
compile and ~0.1 s to run), and LLVM's passes are a third of it (the update step compiles in ~2 s
without them). They change how fast the compiled code runs; the operations and their order are XLA's
either way (fast math stays off; at most LLVM's default level contracts a multiply and an add into one
rounding, an ulp, inside every tolerance here). Launcher subprocesses (`tests/reliability/launcher_runs.py`)
get their own XLA_FLAGS and compile as a user's run does.

XLA reads the flags when jax initialises its backend, so they are set before anything imports jax.
"""

import os

os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0"
).strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402
from jax.experimental.compilation_cache import compilation_cache as jax_compilation_cache  # noqa: E402

jax.config.update("jax_enable_x64", False)

_CACHE_SETTINGS = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs",
                   "jax_persistent_cache_min_entry_size_bytes")


@pytest.fixture(scope="session", autouse=True)
def xla_compilation_cache(tmp_path_factory):
  """A persistent XLA cache for the session (one per `-n 2` worker): many tests build the same program
  afresh (new closures, a new model object, another method's sampler and scoring pass), and compiling is
  most of the suite's time. Per worker, because jax locks a shared cache directory only when it also
  evicts, and its eviction rescans every entry on every write."""
  path = tmp_path_factory.mktemp("xla_cache")
  previous = {name: getattr(jax.config, name) for name in _CACHE_SETTINGS}
  jax.config.update("jax_compilation_cache_dir", str(path))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
  jax_compilation_cache.reset_cache()  # jax decides at its first compile whether a cache is used: decide again
  yield path
  for name, value in previous.items():
    jax.config.update(name, value)
  jax_compilation_cache.reset_cache()


def pytest_collection_modifyitems(items):
  """Tests marked slow (multi-process and launcher runs of a minute or more) run first, so that with
  `-n 2` they overlap the many short tests instead of running alone at the end."""
  items.sort(key=lambda item: item.get_closest_marker("slow") is None)
