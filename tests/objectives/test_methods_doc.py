"""docs/methods.md against the registries: one row per entry, documented defaults = dataclass defaults,
the composition matrix = what build_objective accepts, preset rows = registry entries."""

from __future__ import annotations

import math
import pathlib
import re

import pytest

from rlvr_jax.objectives import (ADVANTAGE_ESTIMATORS, METHODS, POLICY_LOSSES, TRANSFORMS, KLLossConfig,
                                 ObjectiveConfig, build_objective, method_advantage, method_preset)
from rlvr_jax.objectives._kl_reward import KL_CONTROLLERS, KLInRewardConfig
from rlvr_jax.objectives._methods import thaw
from rlvr_jax.objectives._presets import dataclass_defaults

DOC = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "methods.md").read_text()


def _table(heading: str, index: int = 0) -> tuple[list[str], dict[str, list[str]]]:
  """(header cells, first-cell name -> cells) of the index-th table under `## heading`."""
  section = DOC.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
  tables, current = [], []
  for line in section.splitlines():
    if line.startswith("|"):
      current.append(line)
    elif current:
      tables.append(current)
      current = []
  if current:
    tables.append(current)
  lines = tables[index]
  split = lambda line: [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
  header, rows = split(lines[0]), {}
  for line in lines[2:]:
    cells = split(line)
    name = re.fullmatch(r"`([\w.]+)`", cells[0])
    assert name, f"first cell of a row must be one `name`: {line}"
    assert name.group(1) not in rows, f"duplicate row {name.group(1)} under {heading}"
    rows[name.group(1)] = cells
  return header, rows


def _parse(text: str):
  if text == "None":
    return None
  if text in ("True", "False"):
    return text == "True"
  try:
    return float(text)
  except ValueError:
    return text


def _pairs(cell: str) -> dict[str, object]:
  """key=value pairs inside the backtick spans of a cell."""
  pairs = {}
  for span in re.findall(r"`([^`]*)`", cell):
    for key, value in re.findall(r"([\w.]+)=([^,\s]+)", span):
      pairs[key] = _parse(value)
  return pairs


def _same(documented, actual) -> bool:
  if isinstance(documented, float) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
    return math.isclose(documented, float(actual), rel_tol=1e-9)
  return documented == actual


def _check_defaults(kind: str, name: str, cell: str, defaults: dict[str, object], *, complete: bool,
                    extra: dict[str, object] | None = None) -> None:
  documented = _pairs(cell)
  allowed = {**(extra or {}), **defaults}
  for key, value in documented.items():
    assert key in allowed, f"{kind} {name}: docs list {key}={value}, which is not a field"
    assert _same(value, allowed[key]), f"{kind} {name}: docs say {key}={value}, the default is {allowed[key]!r}"
  if complete:
    missing = sorted(set(defaults) - set(documented))
    assert not missing, f"{kind} {name}: defaults column misses {missing}"


def test_every_policy_loss_has_a_row_with_its_defaults():
  header, rows = _table("Policy losses")
  assert header[:5] == ["name", "formula", "source", "config keys", "defaults"]
  assert set(rows) == set(POLICY_LOSSES.names())
  top_level = {k: v for k, v in dataclass_defaults(ObjectiveConfig).items()}
  for name, cells in rows.items():
    _check_defaults("policy loss", name, cells[4], dataclass_defaults(POLICY_LOSSES.get(name)), complete=True,
                    extra=top_level)


def test_every_estimator_has_a_row_with_its_inputs_and_defaults():
  header, rows = _table("Advantage estimators")
  assert header[:5] == ["name", "formula", "source", "inputs", "defaults"]
  assert set(rows) == set(ADVANTAGE_ESTIMATORS.names())
  for name, cells in rows.items():
    spec = ADVANTAGE_ESTIMATORS.get(name)
    _check_defaults("estimator", name, cells[4], spec.defaults, complete=True)
    documented_inputs = set(re.findall(r"`(\w+)`", cells[3]))
    assert documented_inputs == set(spec.inputs + spec.optional_inputs), name


def test_every_transform_has_a_row_with_its_defaults():
  header, rows = _table("Entropy-control transforms")
  assert header[:5] == ["name", "formula", "source", "config keys", "defaults"]
  assert set(rows) == set(TRANSFORMS.names())
  for name, cells in rows.items():
    _check_defaults("transform", name, cells[4], dataclass_defaults(TRANSFORMS.get(name)), complete=True)


def test_every_kl_controller_has_a_row_with_its_defaults():
  _, rows = _table("Critic and KL in the reward")
  assert set(rows) == set(KL_CONTROLLERS.names())
  for name, cells in rows.items():
    _check_defaults("KL controller", name, cells[4], dataclass_defaults(KLInRewardConfig), complete=False)


def test_composition_matrix_is_what_build_objective_accepts():
  """Each cell: `yes` iff build_objective accepts the transform (default options) with the loss."""
  header, rows = _table("Composition: policy loss × transform")
  losses = [re.fullmatch(r"`(\w+)`", cell).group(1) for cell in header[1:]]
  assert set(losses) == set(POLICY_LOSSES.names())
  assert set(rows) == set(TRANSFORMS.names())
  for transform, cells in rows.items():
    for loss, cell in zip(losses, cells[1:]):
      assert cell in ("yes", "no"), f"{transform} x {loss}: {cell!r}"
      config = {"policy_loss": loss, "transforms": (transform,)}
      if POLICY_LOSSES.get(loss).loss_agg_mode:
        config["loss_agg_mode"] = POLICY_LOSSES.get(loss).loss_agg_mode
      if TRANSFORMS.get(transform).needs_kl_loss:
        config["kl"] = {}
      try:
        build_objective(config)
        accepted = True
      except ValueError:
        accepted = False
      assert accepted == (cell == "yes"), f"docs say {transform} x {loss} = {cell}, build_objective: {accepted}"


def test_every_method_preset_has_a_row_matching_the_registry():
  header, rows = _table("Method presets")
  assert header[:5] == ["method", "policy loss", "transforms", "estimator", "settings"]
  assert set(rows) == set(METHODS.names())
  for name, cells in rows.items():
    full = method_preset(name)
    assert cells[1] == f"`{full['policy_loss']}`", name
    assert tuple(re.findall(r"`(\w+)`", cells[2])) == full["transforms"], name
    assert cells[3] == f"`{method_advantage(name)[0]}`", name
    raw = thaw(METHODS.get(name).objective)
    for key, value in _pairs(cells[4]).items():
      section, _, field = key.rpartition(".")
      actual = full[section][field] if section else full[field]
      assert _same(value, actual), f"preset {name}: docs say {key}={value}, resolved {actual!r}"
    deviations = {k for k, v in raw.items() if not isinstance(v, dict) and k not in ("transforms", "policy_loss")}
    deviations |= {f"{k}.{f}" for k, v in raw.items() if isinstance(v, dict) and k != "kl" for f in v}
    documented = set(_pairs(cells[4])) | ({"kl"} if "`kl`" in cells[4] else set())
    assert deviations <= documented, f"preset {name}: docs row misses settings {sorted(deviations - documented)}"
    if "kl" in raw:
      assert "`kl`" in cells[4], f"preset {name} turns on the KL loss; the docs row must say so"


@pytest.mark.parametrize("name", sorted(METHODS.names()))
def test_presets_state_only_what_differs_from_the_defaults(name):
  """Defaults live in the dataclasses: a registered preset never repeats one (STEER's 0.8 included)."""
  raw = thaw(METHODS.get(name).objective)
  top = dataclass_defaults(ObjectiveConfig)
  for key, value in raw.items():
    if key == "transforms" or key == "kl":
      continue
    if isinstance(value, dict):
      cls = TRANSFORMS.get(key) if key in TRANSFORMS else POLICY_LOSSES.get(key)
      defaults = dataclass_defaults(cls)
      repeated = sorted(f for f, v in value.items() if f in defaults and v == defaults[f])
      assert not repeated, f"preset {name} repeats {key} defaults {repeated}"
    else:
      assert key in top and value != top[key], f"preset {name} repeats the default {key}={value!r}"
  kl_defaults = dataclass_defaults(KLLossConfig)
  repeated = sorted(k for k, v in (raw.get("kl") or {}).items() if v == kl_defaults[k])
  assert not repeated, f"preset {name} repeats kl defaults {repeated}"
