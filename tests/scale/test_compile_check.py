"""The compile check end to end: the report's fields, and the exit codes of launch/compile_check.py (0 when
everything fits, 1 with the knobs to turn when something does not).

The local-devices path (8 fake CPU devices) always runs. The TPU path compiles the tiny preset for
`v5p:2x2x1` where libtpu is installed (the `[tpu]` extra) and is skipped elsewhere; its cannot-fit case
is a real RESOURCE_EXHAUSTED from XLA's TPU compiler. Compile results go to a per-module cache directory,
so the command-line runs reuse the in-process compiles (same programs, same target).
"""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from rlvr_jax.config import method_config
from rlvr_jax.scale import GIB, run_check
from rlvr_jax.scale._compile import parse_out_of_memory
from rlvr_jax.scale.table import HEADER, row as table_row

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAUNCHER = os.path.join(ROOT, "launch", "compile_check.py")
# The embedded default, shrunk: programs compile in seconds on a CPU.
SMALL = {"rollout.prompts_per_step": 8, "rollout.num_samples": 4, "rollout.max_new_tokens": 8,
         "data.max_prompt_length": 16, "model.scan_layers": True}
HAS_LIBTPU = importlib.util.find_spec("libtpu") is not None


def _config(**fields):
  c = method_config("grpo")
  c.unlock()
  for name, value in fields.items():
    section, key = name.split(".")
    c[section][key] = value
  return c


def _launch(*args, cache_dir, overrides=SMALL):
  command = [sys.executable, LAUNCHER, "--config", os.path.join(ROOT, "configs", "grpo.py"),
             f"--cache_dir={cache_dir}", *[f"--config.{k}={v}" for k, v in overrides.items()], *args]
  env = {**os.environ, "PYTHONPATH": ROOT}
  return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("compile_cache"))


@pytest.fixture(scope="module")
def local_report(cache_dir):
  return run_check(_config(**SMALL), cache_dir=cache_dir)


def test_local_report_has_a_row_per_program_with_xla_s_figures(local_report):
  report = local_report
  assert [row.name for row in report.rows] == ["prefill", "decode", "score", "update"]
  assert report.devices == 8 and report.mesh == {"data": 1, "fsdp": 8, "tensor": 1}
  assert report.chip is None and report.step_seconds() is None  # CPU devices: no roofline
  assert report.capacity_bytes > 0 and report.fits
  update = {row.name: row for row in report.rows}["update"]
  assert update.calls_per_step == report.settings["train.mini_batches"] * report.settings["train.ppo_epochs"]
  for row in report.rows:
    c = row.compiled
    assert c.argument_bytes > 0 and c.temp_bytes >= 0 and not c.out_of_memory and c.compile_seconds > 0
    assert row.total_bytes == c.argument_bytes + c.temp_bytes + c.output_bytes - c.alias_bytes + row.resident_bytes
    assert row.cost.flops > 0 and row.cost.bytes_per_device > 0
  # The sampler runs beside the optimizer state (resident), the update step donates the whole state.
  assert {row.name: row for row in report.rows}["decode"].resident_bytes > 0
  assert update.compiled.alias_bytes > 0
  as_json = report.to_json()
  assert as_json["fits"] and [p["name"] for p in as_json["programs"]] == ["prefill", "decode", "score", "update"]
  assert "fits: every program" in report.verdict()


def test_command_line_exits_0_when_it_fits_and_1_with_the_knobs_when_not(local_report, cache_dir, tmp_path):
  out = _launch("--programs=update,decode", f"--json={tmp_path / 'r.json'}", cache_dir=cache_dir)
  assert out.returncode == 0, out.stderr[-2000:]
  assert "update" in out.stdout and "fits: every program" in out.stdout
  assert "(cached)" in out.stderr  # the in-process compiles were reused
  written = json.loads((tmp_path / "r.json").read_text())
  assert [p["name"] for p in written["programs"]] == ["decode", "update"] and written["fits"]

  small_hbm = f"--hbm_gib={local_report.rows[-1].total_bytes / GIB / 2}"  # half what the update step needs
  out = _launch("--programs=update,decode", small_hbm, cache_dir=cache_dir)
  assert out.returncode == 1, out.stderr[-2000:]
  assert "DOES NOT FIT" in out.stdout and "update does not fit" in out.stdout
  assert "train.micro_batches (now 1)" in out.stdout and "model.remat (now False)" in out.stdout


def test_command_line_exits_2_on_a_config_the_devices_cannot_run(cache_dir):
  out = _launch(cache_dir=cache_dir, overrides={**SMALL, "train.micro_batches": 3})
  assert out.returncode == 2 and "train.micro_batches" in out.stderr


def test_out_of_memory_messages_of_libtpu_parse():
  message = ("RESOURCE_EXHAUSTED: Ran out of memory on HBM, the total memory required for HLO temporaries "
             "(128.48G) exceeds available HBM (95.74G).")
  assert parse_out_of_memory(message) == (int(128.48 * GIB), int(95.74 * GIB))
  assert parse_out_of_memory("Used 120.5G of 15.75G hbm. Exceeded hbm capacity by 104.75G.") == (
      int(120.5 * GIB), int(15.75 * GIB))
  assert parse_out_of_memory("RESOURCE_EXHAUSTED: something else") is None


@pytest.mark.skipif(not HAS_LIBTPU, reason="needs libtpu (pip install -e '.[tpu]'): compiles for a TPU topology")
def test_tpu_topology_report_with_roofline(cache_dir):
  report = run_check(_config(**SMALL), topology="v5p:2x2x1", cache_dir=cache_dir)
  assert report.target == "v5p:2x2x1" and report.devices == 4 and report.chip.name == "v5p"
  assert report.capacity_bytes == report.chip.hbm_bytes and report.fits
  assert report.settings["model.attention"] == "auto"
  step = report.step_seconds()
  assert step["total"] == pytest.approx(step["rollout"] + step["scoring"] + step["updates"]) and step["total"] > 0
  for row in report.rows:
    assert row.roofline_seconds == pytest.approx(max(row.cost.flops / 4 / report.chip.peak_flops,
                                                     row.cost.bytes_per_device / report.chip.hbm_bandwidth))


@pytest.mark.skipif(not HAS_LIBTPU, reason="needs libtpu (pip install -e '.[tpu]'): compiles for a TPU topology")
def test_tpu_compiler_refusal_is_a_does_not_fit_report(cache_dir):
  """8,192 rows x 1,024 tokens in one micro-batch on 4 chips, XLA attention: the [B, N, T, S] scores
  alone are 32 GiB per layer and chip; XLA's TPU compiler refuses (RESOURCE_EXHAUSTED) and the check
  reports that, with the knobs, and the command line exits 1."""
  huge = {**SMALL, "rollout.prompts_per_step": 1024, "rollout.num_samples": 8, "data.max_prompt_length": 128,
          "rollout.max_new_tokens": 896, "train.mini_batches": 1, "model.attention": "xla"}
  report = run_check(_config(**huge), topology="v5p:2x2x1", programs=["update"], cache_dir=cache_dir)
  (row,) = report.rows
  assert row.compiled.out_of_memory.startswith("RESOURCE_EXHAUSTED")
  assert row.compiled.temp_bytes > row.compiled.available_bytes > 90 * GIB
  assert not report.fits and "the compiler refused it" in report.verdict()
  out = _launch("--topology=v5p:2x2x1", "--programs=update", cache_dir=cache_dir, overrides=huge)
  assert out.returncode == 1 and "train.micro_batches (now 1)" in out.stdout, out.stderr[-2000:]


def test_docs_table_row_of_a_report(local_report):
  """docs/scale.md's rows come from the reports' JSON (rlvr_jax/scale/table.py)."""
  cells = [c.strip() for c in table_row(local_report.to_json()).strip("|").split("|")]
  header = [c.strip() for c in HEADER.splitlines()[0].strip("|").split("|")]
  assert len(cells) == len(header)
  by_name = dict(zip(header, cells))
  assert by_name["run"] == "grpo" and by_name["fits"] == "yes" and by_name["mesh (fsdp x tensor)"] == "8 x 1"
  assert by_name["scan / remat / attention"] == "scan / no remat / xla"
  update = {r.name: r for r in local_report.rows}["update"]
  assert by_name["update"] == f"{update.total_bytes / GIB:.1f}"
  assert by_name["step s (rollout + scoring + updates)"] == "-"  # CPU devices: no roofline


def test_sampler_calls_shrink_the_cache_and_multiply_the_calls(cache_dir):
  """rollout.prompts_per_call=4 of a generation batch of 8 (static batching, whose decode arguments hold
  every row's KV cache): prefill and decode compile for 4 prompts (half the KV cache in decode's
  arguments) and run twice per RL step."""
  static = {**SMALL, "rollout.batching": "static"}
  report = run_check(_config(**static, **{"rollout.prompts_per_call": 4}), cache_dir=cache_dir,
                     programs=("prefill", "decode"))
  whole = {r.name: r for r in run_check(_config(**static), cache_dir=cache_dir, programs=("prefill", "decode")).rows}
  for row in report.rows:
    assert row.calls_per_step == 2 and whole[row.name].calls_per_step == 1
  decode = {r.name: r for r in report.rows}["decode"]
  assert decode.compiled.argument_bytes < whole["decode"].compiled.argument_bytes
  assert decode.cost.flops == pytest.approx(whole["decode"].cost.flops / 2, rel=0.05)
  assert report.settings["rollout.prompts_per_call"] == 4
