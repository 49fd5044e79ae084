"""The pod code path on one machine: `launch/tpu_pod.py` as 2 processes of 4 fake CPU devices each,
joined by `jax.distributed` over loopback (gloo collectives), against 1 process of 8 devices.

The two processes load their own halves of each prompt batch, hold global arrays on a (2, 2, 2) mesh
that spans both, checkpoint every step from both, evaluate at steps 0 and 2 and export the policy. One
of them (process 1, which logs nothing) gets SIGTERM after step 1: both must stop at the same step with a
checkpoint and exit 0, and a relaunch of both resumes from it (a multi-host restore). The metrics of every
step and the exported parameters must then match the single-process run up to float reduction order
(measured: at most 1.8e-5 relative on metrics above 1e-3, on policy/ppo_kl ~ 3e-3, 2.4e-7 absolute on
smaller ones, and 3e-8 absolute on the parameters; the tolerances below leave a margin).
"""

import math
import os
import signal

import numpy as np
import pytest

from tests.reliability.launcher_runs import (LauncherRun, exported_params, free_port, metrics_rows, run_env,
                                             run_to_end, shared_cache_dir, small_run_args, without_timings)

STEPS = 3
RTOL, ATOL = 1e-4, 1e-5
PARAM_ATOL = 1e-5


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
  return shared_cache_dir(tmp_path_factory)


def _args(run_dir) -> list[str]:
  return small_run_args("siren", run_dir, train__steps=STEPS, mesh__data=2, mesh__fsdp=2, mesh__tensor=2,
                        eval__every=2, eval__num_samples=2, eval__temperature=1.0)


def _two_processes(run_dir, cache_dir) -> list[LauncherRun]:
  port = free_port()
  return [LauncherRun(_args(run_dir) + [f"--coordinator_address=127.0.0.1:{port}", "--num_processes=2",
                                        f"--process_id={i}"], run_env(cache_dir, devices=4)) for i in range(2)]


def _finish(hosts: list[LauncherRun]) -> None:
  codes = [host.finish(timeout=600) for host in hosts]
  assert codes == [0, 0], "\n\n".join(host.output[-3000:] for host in hosts)


@pytest.mark.slow
def test_two_processes_give_the_result_of_one(tmp_path, cache_dir):
  """SIGTERM on one host stops both at one step with a checkpoint; the relaunch resumes; steps, metric
  keys and values (allclose) and parameters (allclose) equal the single-process run's; only process 0
  logs."""
  hosts = _two_processes(tmp_path / "two", cache_dir)
  hosts[0].wait_for(r"step 1/3", timeout=600)
  hosts[1].process.send_signal(signal.SIGTERM)
  _finish(hosts)
  assert "2 process(es), 8 cpu device(s)" in hosts[0].output
  assert "step 1/3" not in hosts[1].output  # only process 0 logs
  stopped_at = int(hosts[0].wait_for(r"received a signal on another process: checkpoint written at step (\d+)",
                                     1).group(1))
  assert 1 <= stopped_at < STEPS
  assert sorted(os.listdir(tmp_path / "two" / "checkpoints"))[-1] == str(stopped_at)

  hosts = _two_processes(tmp_path / "two", cache_dir)
  _finish(hosts)
  assert f"resumed from {tmp_path / 'two' / 'checkpoints'} at step {stopped_at}" in hosts[0].output
  run_to_end(_args(tmp_path / "one"), run_env(cache_dir, devices=8))

  one, two = metrics_rows(tmp_path / "one"), metrics_rows(tmp_path / "two")
  assert [r["step"] for r in two] == [r["step"] for r in one] == [0, 1, 2, 3]
  worst_rel, worst_abs = (0.0, ""), (0.0, "")  # relative where |value| >= 1e-3, absolute below
  for row_one, row_two in zip(one, two):
    row_one, row_two = without_timings(row_one), without_timings(row_two)
    assert sorted(row_two) == sorted(row_one)
    for key, expected in row_one.items():
      got = row_two[key]
      assert (got is None) == (expected is None), (row_one["step"], key, got, expected)
      if expected is None:
        continue
      assert math.isclose(got, expected, rel_tol=RTOL, abs_tol=ATOL), (row_one["step"], key, got, expected)
      where = f"step {row_one['step']} {key}"
      if abs(expected) >= 1e-3:
        worst_rel = max(worst_rel, (abs(got - expected) / abs(expected), where))
      else:
        worst_abs = max(worst_abs, (abs(got - expected), where))
  print(f"largest metric differences: {worst_rel[0]:.1e} relative ({worst_rel[1]}), {worst_abs[0]:.1e} absolute "
        f"on values below 1e-3 ({worst_abs[1]})")

  params_one, params_two = exported_params(tmp_path / "one"), exported_params(tmp_path / "two")
  assert sorted(params_two) == sorted(params_one)
  largest = max(float(np.max(np.abs(params_two[k] - params_one[k]))) for k in params_one)
  print(f"largest absolute parameter difference: {largest:.2e}")
  for name, value in params_one.items():
    np.testing.assert_allclose(params_two[name], value, rtol=0, atol=PARAM_ATOL, err_msg=name)
  assert sorted(os.listdir(tmp_path / "two" / "checkpoints")) == ["2", "3"]
  assert sorted(os.listdir(tmp_path / "two" / "eval")) == ["step_0.json", "step_2.json"]
