"""Shared sandbox fixtures: the probed isolation of this host and direct runs for observing behaviour.

Direct runs reserve their uids (the program's and a judge's) like a pool does, so they never share a
user with a pool run.
"""

from __future__ import annotations

import pytest

from rlvr_jax.rewards.code import Sandbox, SandboxConfig, probe_isolation
from rlvr_jax.rewards.code._uids import release_uids, reserve_uids


@pytest.fixture(scope="session")
def isolation():
  return probe_isolation(SandboxConfig())


@pytest.fixture(scope="session")
def direct_uid(isolation):
  if not isolation.drop_privileges:
    yield None
    return
  uids = reserve_uids(SandboxConfig().uid_base, 2)
  yield uids[0]
  release_uids(uids)


@pytest.fixture(scope="session")
def run(direct_uid):
  """run(program, stdin=None, timeout_s=2.0, config=SandboxConfig()) -> RunResult of a stdio job, under
  the isolation the probe finds for `config`."""
  sandboxes: dict[SandboxConfig, Sandbox] = {}

  def run_stdio(program: str, stdin: str | None = None, timeout_s: float = 2.0,
                config: SandboxConfig = SandboxConfig()):
    if config not in sandboxes:
      sandboxes[config] = Sandbox(config, probe_isolation(config))
    return sandboxes[config].run(program, {"format": "stdio"}, timeout_s=timeout_s, uid=direct_uid,
                                 stdin=stdin)

  yield run_stdio
  for sandbox in sandboxes.values():
    sandbox.close()


@pytest.fixture
def dropped_privileges(isolation):
  """Skips, with the probe's reason, tests of guarantees that rest on the program having its own uid."""
  if not isolation.drop_privileges:
    pytest.skip(f"privileges not dropped on this host: {isolation.privileges_reason}")


@pytest.fixture
def network_isolated(isolation):
  """Skips, with the probe's reason, tests of the private network namespace."""
  if not isolation.network_isolated:
    pytest.skip(f"no network isolation on this host: {isolation.network_reason}")
