"""docs/scale.md's compile-check tables are reproducible from the reports kept in docs/scale_reports/.

The tables were compiled for TPU slices on a CPU (launch/compile_check.py with libtpu), which takes hours
for all of them; the reports are kept so that a table can be re-rendered and checked without compiling.
"""

import json
from pathlib import Path

import pytest

from rlvr_jax.scale.table import row

ROOT = Path(__file__).resolve().parents[2]
REPORTS = sorted((ROOT / "docs/scale_reports").glob("*.json"))
SCALE_DOC = ROOT / "docs/scale.md"


def _load(path: Path) -> dict:
  return json.loads(path.read_text(encoding="utf-8"))


def test_reports_are_kept():
  assert len(REPORTS) >= 72, f"{len(REPORTS)} reports in docs/scale_reports"


@pytest.mark.parametrize("path", REPORTS, ids=[p.stem for p in REPORTS])
def test_report_fits_exactly_when_every_program_fits(path):
  report = _load(path)
  programs = report["programs"]
  assert programs, path.name
  assert report["fits"] == all(p["fits"] for p in programs), path.name
  for p in programs:
    assert p["fits"] == (not p["out_of_memory"] and p["total_bytes"] <= report["capacity_bytes"]), (path.name, p["name"])


def test_every_table_row_of_the_doc_renders_from_a_kept_report():
  rendered = {row(_load(p)) for p in REPORTS}
  doc_rows = [line for line in SCALE_DOC.read_text(encoding="utf-8").splitlines()
              if line.startswith("| ") and (" | v5" in line or " | v6" in line)]
  assert len(doc_rows) >= 72
  missing = [line for line in doc_rows if line not in rendered]
  assert not missing, "rows of docs/scale.md no kept report renders:\n" + "\n".join(missing)


def test_every_recipe_is_reported_on_every_documented_slice():
  stems = {p.stem for p in REPORTS}
  recipes = sorted({s.rsplit("-", 1)[0] for s in stems if s.endswith("-v5p128")})
  assert len(recipes) >= 18, recipes
  for slice_name in ("v5p128", "v5p64", "v6e64", "v5e64"):
    missing = [r for r in recipes if f"{r}-{slice_name}" not in stems]
    assert not missing, (slice_name, missing)
