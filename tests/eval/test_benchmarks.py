"""Benchmark loaders on small files in each published format, the registry and 'name=path' parsing."""

import json

import pytest

from rlvr_jax.data import PromptDataConfig, load_prompts

from rlvr_jax.embedded import builtin_tokenizer
from rlvr_jax.eval._benchmarks import (BENCHMARKS, BenchmarkSpec, load_benchmark, load_benchmarks, normalize_record,
                                      parse_benchmark_specs, write_rows)


def _jsonl(path, records):
  path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
  return str(path)


def _load(name, path):
  return load_benchmark(BenchmarkSpec(name, str(path)))


def test_aime24_both_published_spellings(tmp_path):
  h4 = _load("aime24", _jsonl(tmp_path / "a.jsonl", [
      {"id": 60, "problem": "Find x.", "solution": "long", "answer": "204", "url": "u"}]))
  maxwell = _load("aime24", _jsonl(tmp_path / "b.jsonl", [
      {"ID": "2024-I-1", "Problem": "Find y.", "Solution": "s", "Answer": 204}]))
  assert [(r.question, r.answer) for r in h4.rows] == [("Find x.", "204")] and h4.ids == ("60",)
  assert [(r.question, r.answer) for r in maxwell.rows] == [("Find y.", "204")] and maxwell.ids == ("2024-I-1",)


def test_aime25_question_field_and_json_array(tmp_path):
  path = tmp_path / "aime25.json"
  path.write_text(json.dumps([{"question": "Q1", "answer": "70"}, {"question": "Q2", "answer": "588"}]))
  bench = _load("aime25", path)
  assert [r.answer for r in bench.rows] == ["70", "588"]
  assert bench.ids == ("0", "1") and [r.row_id for r in bench.rows] == [0, 1]  # no id field: row position


def test_amc23_float_answers_lose_the_spurious_decimal(tmp_path):
  bench = _load("amc23", _jsonl(tmp_path / "amc.jsonl", [
      {"id": 0, "problem": "P", "answer": 27.0}, {"id": 1, "problem": "Q", "answer": 0.25}]))
  assert [r.answer for r in bench.rows] == ["27", "0.25"]


def test_math500_answer_field_or_boxed_solution(tmp_path):
  bench = _load("math500", _jsonl(tmp_path / "math.jsonl", [
      {"problem": "P1", "solution": "so \\boxed{3}", "answer": "\\frac{14}{3}", "unique_id": "test/algebra/1.json"},
      {"problem": "P2", "solution": "thus $\\boxed{\\frac{1}{2}}$ and \\boxed{\\sqrt{2}}.", "unique_id": "u2"}]))
  assert [r.answer for r in bench.rows] == ["\\frac{14}{3}", "\\sqrt{2}"]  # the answer field wins; else last box
  assert bench.ids == ("test/algebra/1.json", "u2")


def test_minerva_math_answer_from_solution(tmp_path):
  bench = _load("minerva_math", _jsonl(tmp_path / "minerva.jsonl", [
      {"problem": "Compute the mass.", "solution": "The mass is \\boxed{6.5e-27} kg.", "type": "Physics", "idx": 4}]))
  assert bench.rows[0].answer == "6.5e-27" and bench.ids == ("4",)


def test_olympiadbench_list_answers_parquet(tmp_path):
  import pyarrow as pa
  import pyarrow.parquet as pq

  path = tmp_path / "olympiad.parquet"
  pq.write_table(pa.Table.from_pylist([
      {"id": 1606, "question": "Find all n.", "final_answer": ["$2$", "$3$"], "solution": ["..."]},
      {"id": 1607, "question": "Find m.", "final_answer": ["$\\frac{1}{2}$"], "solution": ["..."]}]), path)
  bench = _load("olympiadbench", path)
  assert [r.answer for r in bench.rows] == ["2, 3", "\\frac{1}{2}"]
  assert bench.ids == ("1606", "1607") and bench.rows[0].where.endswith("olympiad.parquet:row 0")


def test_builtin_heldout_split_is_the_default_file(tmp_path, monkeypatch):
  monkeypatch.setenv("RLVR_JAX_CACHE", str(tmp_path))
  bench = load_benchmark(BenchmarkSpec("builtin", None))
  assert bench.path.startswith(str(tmp_path)) and bench.path.endswith("arithmetic_heldout.jsonl")
  assert len(bench) == 48 and bench.rows[0].question.startswith("Compute ")
  assert int(bench.rows[0].answer) == eval(bench.rows[0].question[len("Compute "):-1])


def test_bad_rows_name_file_line_and_fields(tmp_path):
  with pytest.raises(ValueError, match=r"x\.jsonl:2: row has none of the answer fields answer / Answer"):
    _load("aime24", _jsonl(tmp_path / "x.jsonl", [{"problem": "P", "answer": 1}, {"problem": "Q"}]))
  with pytest.raises(ValueError, match=r"y\.jsonl:1: row has no non-empty text field problem / question"):
    _load("amc23", _jsonl(tmp_path / "y.jsonl", [{"prompt": "P", "answer": 1}]))
  with pytest.raises(ValueError, match=r"has no \\boxed\{\} answer"):
    _load("math500", _jsonl(tmp_path / "z.jsonl", [{"problem": "P", "solution": "no box"}]))
  with pytest.raises(ValueError, match=r"repeats problem id\(s\) \['7'\]"):
    _load("aime24", _jsonl(tmp_path / "d.jsonl", [{"id": 7, "problem": "P", "answer": 1},
                                                  {"id": 7, "problem": "Q", "answer": 2}]))
  with pytest.raises(ValueError, match=r"field 'answer' holds True"):
    normalize_record({"problem": "P", "answer": True}, BENCHMARKS.get("aime24"), where="w")
  with pytest.raises(FileNotFoundError, match=r"benchmark file '/nonexistent.jsonl' does not exist"):
    _load("aime24", "/nonexistent.jsonl")


def test_parse_benchmark_specs():
  specs = parse_benchmark_specs(" builtin, math500=/d/math500.jsonl ,aime24=/d/a.parquet", field="eval.benchmarks")
  assert specs == (BenchmarkSpec("builtin", None), BenchmarkSpec("math500", "/d/math500.jsonl"),
                   BenchmarkSpec("aime24", "/d/a.parquet"))
  assert parse_benchmark_specs("", field="eval.benchmarks") == ()
  with pytest.raises(ValueError, match=r"unknown benchmark eval.benchmarks='gsm9k'; known: aime24"):
    parse_benchmark_specs("gsm9k=/x.jsonl", field="eval.benchmarks")
  with pytest.raises(ValueError, match=r"--benchmarks='math500': benchmark 'math500' has no built-in file"):
    parse_benchmark_specs("math500", field="--benchmarks")
  with pytest.raises(ValueError, match=r"'aime24' is listed twice"):
    parse_benchmark_specs("aime24=/a,aime24=/b", field="--benchmarks")
  with pytest.raises(ValueError, match=r"entry 'aime24=' has an empty path"):
    parse_benchmark_specs("aime24=", field="--benchmarks")


def test_written_rows_feed_the_standard_prompt_pipeline(tmp_path):
  bench = _load("olympiadbench", _jsonl(tmp_path / "o.jsonl", [
      {"id": 5, "question": "Compute 2+3.", "final_answer": ["$5$"]},
      {"id": 6, "question": "Compute 4-1.", "final_answer": ["3"]}]))
  write_rows(bench, str(tmp_path / "normalized" / "o.jsonl"))
  prompts, counts = load_prompts(PromptDataConfig(files=(str(tmp_path / "normalized" / "o.jsonl"),), template="raw",
                                                  max_prompt_length=64, prompts_per_step=1), builtin_tokenizer())
  assert [p.answer for p in prompts] == ["5", "3"] and counts.kept == 2
  assert builtin_tokenizer().decode(prompts[0].ids) == "Compute 2+3."


def test_load_benchmarks_errors_name_the_field_and_its_value(tmp_path):
  good = _jsonl(tmp_path / "g.jsonl", [{"problem": "P", "answer": 1}])
  assert [b.name for b in load_benchmarks(f"aime24={good}", field="--benchmarks")] == ["aime24"]
  with pytest.raises(FileNotFoundError, match=r"--benchmarks='aime24=/missing.jsonl': benchmark file "
                                              r"'/missing.jsonl' does not exist"):
    load_benchmarks("aime24=/missing.jsonl", field="--benchmarks")
  bad = _jsonl(tmp_path / "b.jsonl", [{"problem": "P"}])
  with pytest.raises(ValueError, match=r"eval.benchmarks='amc23=.*b.jsonl': .*b.jsonl:1: row has none of the answer"):
    load_benchmarks(f"amc23={bad}", field="eval.benchmarks")


def test_olympiadbench_empty_answer_list_is_an_error():
  with pytest.raises(ValueError, match=r"w: field 'final_answer' is an empty list"):
    normalize_record({"question": "Q", "final_answer": []}, BENCHMARKS.get("olympiadbench"), where="w")
