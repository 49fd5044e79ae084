"""Dose-response study of the entropy-control methods on the countdown testbed, several seeds each.

Each method's strength knob is run at "off" (the value that turns the method into its plain base
objective) plus three strengths, for every seed, at one budget, on the built-in countdown task
(`data.builtin_task=countdown`: several correct answers per problem, so entropy and pass@k mean
something). Every run is `launch/tpu_pod.py` in a subprocess, up to --jobs at a time; a run whose
summary.json exists is skipped, and an interrupted run resumes from its last checkpoint, so rerunning
the same command finishes a study. The seed also seeds the warm start: the seeds are independent
replicates of the whole pipeline, and one warm-started policy per seed is shared by every method.

Per (method, strength): final rollout entropy (mean of the last 5 steps), held-out pass@1 and pass@k at
the end, each as the mean over seeds with a 95% t-interval, and the paired change of final entropy from
"off" within each seed. Seeds are blocks: every method of a seed starts from the same warm-started
policy, and the spread between seeds (different warm starts) is larger than most effects, so the trend
is judged within seeds: Page's trend test (scipy.stats.page_trend_test, exact) of "final entropy grows
with strength in every seed", one-sided in the paper's direction and in the opposite one, with the mean
within-seed Spearman correlation as the effect size. Figures: dose-response panels (this script) and
the training curves of each method's strengths via `python -m rlvr_jax.report`.

    python bench/entropy_study.py --quick                  # 2 methods x off + 1 strength x 1 seed, smoke
    python bench/entropy_study.py                          # 8 methods x 4 levels x 3 seeds
    python bench/entropy_study.py --methods steer,siren --seeds 0,1,2,3 --out runs/study
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import math
import os
import subprocess
import sys
import time

import matplotlib
import ml_collections
import numpy as np
import scipy.stats

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, _ROOT)

from rlvr_jax.config.recipe_table import load_config_file  # noqa: E402
from rlvr_jax.diagnostics import spearman  # noqa: E402
from rlvr_jax.embedded import BUILTIN_TASKS, EmbeddedPolicy, ensure_policy  # noqa: E402

TASK = "countdown"


@dataclasses.dataclass(frozen=True)
class Knob:
  """One method's strength knob.

  Attributes:
    config: the config file (configs/<config>.py).
    field: the config field the strength sets.
    levels: "off" first, then increasing strength (the knob's values).
    strength: the knob's values mapped to "how strong" (same order as levels; e.g. 1 - w_min).
    predicts: +1 where the paper says entropy rises with strength (all of them: they are entropy-
      preserving controls).
    fixed: further overrides shared by every level of the method.
  """

  config: str
  field: str
  levels: tuple[float, ...]
  strength: tuple[float, ...]
  predicts: int = 1
  fixed: tuple[tuple[str, str], ...] = ()


# A group has ~50 response tokens here: the covariance methods' published ratios (0.0002, 0.002) select
# the minimum of one token per group, so their levels here are larger; the other knobs span their
# papers' values and beyond.
KNOBS = {
    "steer": Knob("steer", "objective.steer.w_min", (1.0, 0.8, 0.5, 0.2), (0.0, 0.2, 0.5, 0.8)),
    "siren": Knob("siren", "objective.siren.coef", (0.0, 0.01, 0.05, 0.2), (0.0, 0.01, 0.05, 0.2)),
    "pos_adv_reweight": Knob("pos_adv_reweight", "objective.pos_adv_reweight.positive_weight",
                             (1.0, 0.6, 0.3, 0.1), (0.0, 0.4, 0.7, 0.9),
                             fixed=(("objective.pos_adv_reweight.schedule", "constant"),)),
    # Clip-Cov cannot be switched off (ratio > 0, and the reference's count rule clips >= 1 token per
    # group): its "off" is the smallest budget, one token per group.
    "clip_cov": Knob("clip_cov", "objective.clip_cov.ratio", (1e-6, 0.05, 0.2, 0.5), (0.0, 0.05, 0.2, 0.5)),
    "kl_cov": Knob("kl_cov", "objective.kl_cov.coef", (0.0, 0.5, 2.0, 8.0), (0.0, 0.5, 2.0, 8.0),
                   fixed=(("objective.kl_cov.ratio", 0.2),)),
    "clip_higher": Knob("clip_higher", "objective.clip_higher.eps_high", (0.2, 0.28, 0.4, 0.6),
                        (0.0, 0.08, 0.2, 0.4)),
    "entropy_bonus": Knob("entropy_reg", "objective.entropy_bonus.coef", (0.0, 0.005, 0.02, 0.05),
                          (0.0, 0.005, 0.02, 0.05)),
    "fork_tokens": Knob("forking_tokens", "objective.fork_tokens.top_ratio", (1.0, 0.5, 0.2, 0.1),
                        (0.0, 0.5, 0.8, 0.9)),
}
ENTROPY_TAIL = 5  # final entropy = mean rollout entropy of the last steps (one step is noisy)
# The verdict is on final entropy (the primary measure, fixed before the runs); the mean over the whole run
# is reported beside it, since a method can delay the collapse without changing where it ends.
SIGNIFICANCE = 0.05  # a trend is called in either direction only at this one-sided p-value


@dataclasses.dataclass(frozen=True)
class Budget:
  """What every run of a study shares.

  Attributes:
    steps: rollout steps.
    eval_samples: held-out samples per prompt (pass@k with k = eval_samples).
    prompts_per_step: prompts per rollout step (x rollout.num_samples responses).
    eval_prompts: held-out prompts (0 = the task's profile).
    warm_start_steps: supervised warm-start steps (0 = the profile's; tests shrink it).
    shared_prompt_forward: the update and scoring passes run each group's prompt once (the same
      function, ~2.2x fewer positions here: 16 prompt tokens next to 10 response tokens per row); False
      runs every row's prompt, as the study's first 96 runs (docs/results.md) did.
  """

  steps: int
  eval_samples: int
  prompts_per_step: int
  eval_prompts: int = 0
  warm_start_steps: int = 0
  shared_prompt_forward: bool = True


# 120 steps: plain GRPO's entropy on countdown falls by about half in that many (docs/results.md
# section 2), the collapse the methods are meant to prevent; a run is ~4 minutes on one core.
FULL = Budget(steps=120, eval_samples=16, prompts_per_step=16)
QUICK = Budget(steps=8, eval_samples=8, prompts_per_step=8)


def _flatten(values: dict, prefix: str = "") -> list[tuple[str, object]]:
  out = []
  for key, value in values.items():
    out += _flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else [(f"{prefix}{key}", value)]
  return out


def _set(config: ml_collections.ConfigDict, field: str, value) -> None:
  """config.<field> = value; an int where the field is a float is widened (ml_collections would refuse
  it), any other type mismatch is ml_collections' error naming the field."""
  *sections, key = field.split(".")
  node = config
  for section in sections:
    node = node[section]
  if isinstance(node[key], float) and isinstance(value, int) and not isinstance(value, bool):
    value = float(value)
  node[key] = value


def run_config(method: str, level: float, seed: int, budget: Budget, run_dir: str) -> ml_collections.ConfigDict:
  """The config of one run: the method's config file at the embedded default, switched to the countdown
  task (with the task's profile: a config file's built-in task cannot be switched from the command line
  with it), the study's budget, and the knob at `level`."""
  knob = KNOBS[method]
  config = load_config_file(os.path.join(_ROOT, "configs", f"{knob.config}.py")).get_config()
  config.unlock()
  changes = [("data.builtin_task", TASK), *_flatten(BUILTIN_TASKS.get(TASK, field="data.builtin_task").profile),
             ("train.run_dir", run_dir), ("train.steps", budget.steps), ("train.seed", seed),
             ("rollout.prompts_per_step", budget.prompts_per_step), ("eval.every", budget.steps),
             ("eval.num_samples", budget.eval_samples), ("checkpoint.every", max(budget.steps // 4, 1)),
             ("diagnostics.every", 0), ("log.tensorboard", False),
             ("train.shared_prompt_forward", budget.shared_prompt_forward), (knob.field, level), *knob.fixed]
  if budget.eval_prompts:
    changes.append(("eval.num_prompts", budget.eval_prompts))
  if budget.warm_start_steps:
    changes.append(("warm_start.steps", budget.warm_start_steps))
  for field, value in changes:
    _set(config, field, value)
  config.lock()
  return config


def run_dir_of(out: str, method: str, level: float, seed: int) -> str:
  return os.path.join(out, "runs", f"{method}_{level:g}_seed{seed}")


def summarize(run_dir: str, eval_samples: int) -> dict[str, float]:
  """Start and end values of one finished run, from its metrics.jsonl."""
  with open(os.path.join(run_dir, "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  entropy = [r["rollout/entropy"] for r in rows if r.get("rollout/entropy") is not None]
  evals = [r for r in rows if r.get("eval/heldout/pass@1") is not None]
  if not entropy or len(evals) < 2:
    raise ValueError(f"{run_dir}: metrics.jsonl has no rollout entropy or fewer than two held-out evaluations")
  k = f"eval/heldout/pass@{eval_samples}"
  return {"entropy_first": entropy[0], "entropy_final": float(np.mean(entropy[-ENTROPY_TAIL:])),
          "entropy_mean": float(np.mean(entropy)),
          "pass1_first": evals[0]["eval/heldout/pass@1"], "pass1_final": evals[-1]["eval/heldout/pass@1"],
          "passk_first": evals[0][k], "passk_final": evals[-1][k],
          "train_acc_final": float(np.mean([r["reward/accuracy"] for r in rows
                                            if r.get("reward/accuracy") is not None][-ENTROPY_TAIL:]))}


def run_one(method: str, level: float, seed: int, budget: Budget, out: str) -> dict:
  """Runs (or skips, if finished) one training run; returns its summary."""
  run_dir = run_dir_of(out, method, level, seed)
  done = os.path.join(run_dir, "summary.json")
  if os.path.isfile(done):
    with open(done) as f:  # the measured figures are re-read from the run's metrics (cheap), so a summary
      return {**json.load(f), **summarize(run_dir, budget.eval_samples)}  # field added later covers old runs
  os.makedirs(run_dir, exist_ok=True)
  # The launcher reads the run's config as a saved config (`--config X.json`), so what runs is exactly
  # `run_config`; an interrupted run resumes from its checkpoint when the study is rerun.
  config_path = f"{run_dir}.json"
  with open(config_path, "w") as f:
    json.dump(run_config(method, level, seed, budget, run_dir).to_dict(), f, indent=1)
  start = time.monotonic()
  with open(os.path.join(run_dir, "stdout.log"), "a") as log:
    subprocess.run([sys.executable, os.path.join(_ROOT, "launch", "tpu_pod.py"), f"--config={config_path}"],
                   check=True, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": _ROOT})
  summary = {"method": method, "level": level, "seed": seed, "wall_s": time.monotonic() - start,
             **summarize(run_dir, budget.eval_samples)}
  with open(done + ".tmp", "w") as f:
    json.dump(summary, f)
  os.replace(done + ".tmp", done)
  print(f"{method} {KNOBS[method].field}={level:g} seed {seed}: {summary['wall_s']:.0f} s, entropy "
        f"{summary['entropy_first']:.3f} -> {summary['entropy_final']:.3f}, pass@1 {summary['pass1_first']:.3f} -> "
        f"{summary['pass1_final']:.3f}", flush=True)
  return summary


def warm_start(seed: int, budget: Budget) -> str:
  """The seed's warm-started countdown policy, built once before the runs that share it."""
  config = run_config("steer", 1.0, seed, budget, "")
  return ensure_policy(EmbeddedPolicy(task=TASK, preset=config.model.preset, template=config.data.template,
                                      steps=config.warm_start.steps, lr=config.warm_start.lr,
                                      batch_size=config.warm_start.batch_size, seed=seed))


def mean_ci(values: list[float]) -> tuple[float, float]:
  """Mean and the half-width of its 95% t-interval (nan with one value)."""
  x = np.asarray(values, float)
  if len(x) < 2:
    return float(x.mean()), float("nan")
  return float(x.mean()), float(scipy.stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))


def seed_blocks(runs: list[dict], levels: tuple[float, ...], key: str) -> tuple[list[int], np.ndarray]:
  """(seeds, [S, L] values of `key`): one row per seed that ran every level, columns in `levels` order."""
  by_seed: dict[int, dict[float, float]] = {}
  for s in runs:
    by_seed.setdefault(s["seed"], {})[s["level"]] = s[key]
  seeds = sorted(seed for seed, cells in by_seed.items() if all(level in cells for level in levels))
  return seeds, np.asarray([[by_seed[seed][level] for level in levels] for seed in seeds], float).reshape(
      len(seeds), len(levels))


def paired_change(runs: list[dict], knob: Knob, level: float, key: str = "entropy_final") -> tuple[float, float]:
  """Mean and 95% half-width over seeds of (value at `level`) - (value at off), both from the same seed."""
  off = {s["seed"]: s[key] for s in runs if s["level"] == knob.levels[0]}
  diffs = [s[key] - off[s["seed"]] for s in runs if s["level"] == level and s["seed"] in off]
  return mean_ci(diffs) if diffs else (float("nan"), float("nan"))


@dataclasses.dataclass(frozen=True)
class Trend:
  """Whether final entropy moves with a knob's strength, judged within seeds.

  Attributes:
    seeds: the seeds that ran every level (the blocks of the test).
    mean_spearman: mean over those seeds of Spearman(strength, final entropy): +1 = rises in every seed.
    p_rises / p_falls: Page's trend test (exact), one-sided, for entropy rising / falling with strength.
    verdict: "as predicted", "opposite" (either at p < SIGNIFICANCE) or "no significant trend"; "not
      judged" with fewer than 3 levels or 2 complete seeds (the test's minimum).
  """

  seeds: tuple[int, ...]
  mean_spearman: float
  p_rises: float
  p_falls: float
  verdict: str


def trend(runs: list[dict], knob: Knob, key: str = "entropy_final") -> Trend:
  """Page's trend test of `key` over the knob's levels (ordered by strength), seeds as blocks."""
  order = sorted(range(len(knob.levels)), key=lambda i: knob.strength[i])
  levels = tuple(knob.levels[i] for i in order if any(s["level"] == knob.levels[i] for s in runs))
  seeds, values = seed_blocks(runs, levels, key)  # [S, L], weakest level first
  if len(levels) < 3 or len(seeds) < 2:
    return Trend(tuple(seeds), float("nan"), float("nan"), float("nan"),
                 f"not judged: {len(levels)} level(s) x {len(seeds)} complete seed(s) (needs >= 3 x >= 2)")
  strength = np.arange(len(levels), dtype=float)
  rho = float(np.mean([spearman(strength, row) for row in values]))
  p_rises = float(scipy.stats.page_trend_test(values, method="exact").pvalue)
  p_falls = float(scipy.stats.page_trend_test(values[:, ::-1], method="exact").pvalue)
  p_predicted, p_opposite = (p_rises, p_falls) if knob.predicts > 0 else (p_falls, p_rises)
  verdict = ("as predicted" if p_predicted < SIGNIFICANCE else "opposite" if p_opposite < SIGNIFICANCE
             else "no significant trend")
  return Trend(tuple(seeds), rho, p_rises, p_falls, verdict)


def _cell(mean: float, half: float) -> str:
  return f"{mean:+.3f}" + (f" ± {half:.3f}" if math.isfinite(half) else "")


def tables(summaries: list[dict], methods: list[str], eval_samples: int) -> str:
  """The dose-response table (mean ± 95% half-width over seeds per method and level, and the paired change
  of final entropy from off) and the per-method trend verdicts."""
  lines = [f"| method | knob | value | seeds | final entropy | change from off (same seed) | held-out pass@1 | "
           f"held-out pass@{eval_samples} | wall s (mean) |", "|---|---|---|---|---|---|---|---|---|"]
  verdicts = ["", "| method | within-seed Spearman(strength, final entropy) | Page p (rises) | Page p (falls) | "
              "predicted | verdict | run-mean entropy: Spearman, p (rises), p (falls) |", "|---|---|---|---|---|---|---|"]
  for method in methods:
    knob, runs = KNOBS[method], [s for s in summaries if s["method"] == method]
    if not runs:
      continue
    for level in knob.levels:
      cell = [s for s in runs if s["level"] == level]
      if not cell:
        continue
      stats = [mean_ci([s[key] for s in cell]) for key in ("entropy_final", "pass1_final", "passk_final")]
      cells = [f"{m:.3f}" + (f" ± {h:.3f}" if math.isfinite(h) else "") for m, h in stats]
      change = "-" if level == knob.levels[0] else _cell(*paired_change(runs, knob, level))
      value = f"{level:g}{' (off)' if level == knob.levels[0] else ''}"
      lines.append(f"| {method} | {knob.field.split('.', 1)[1]} | {value} | {len(cell)} | {cells[0]} | {change} | "
                   f"{cells[1]} | {cells[2]} | {np.mean([s['wall_s'] for s in cell]):.0f} |")
    result = trend(runs, knob)
    predicted = "entropy rises" if knob.predicts > 0 else "entropy falls"
    rho, p_rises, p_falls = ((f"{result.mean_spearman:+.2f} ({len(result.seeds)} seeds)", f"{result.p_rises:.3g}",
                              f"{result.p_falls:.3g}") if math.isfinite(result.mean_spearman) else ("-", "-", "-"))
    over_run = trend(runs, knob, key="entropy_mean")
    secondary = (f"{over_run.mean_spearman:+.2f}, {over_run.p_rises:.3g}, {over_run.p_falls:.3g}"
                 if math.isfinite(over_run.mean_spearman) else "-")
    verdicts.append(f"| {method} | {rho} | {p_rises} | {p_falls} | {predicted} | {result.verdict} | {secondary} |")
  return "\n".join(lines + verdicts)


def seed_table(summaries: list[dict], method: str) -> str:
  """Per seed and level: final entropy and held-out pass@1 (the raw data behind a method's verdict)."""
  knob, runs = KNOBS[method], [s for s in summaries if s["method"] == method]
  seeds = sorted({s["seed"] for s in runs})
  starts = {s["seed"]: (s["entropy_first"], s["pass1_first"]) for s in runs}
  lines = [f"| {knob.field.split('.')[-1]} | " + " | ".join(f"seed {seed}" for seed in seeds) + " |",
           "|---|" + "---|" * len(seeds),
           "| start | " + " | ".join(f"{starts[seed][0]:.3f}, {starts[seed][1]:.3f}" for seed in seeds) + " |"]
  for level in knob.levels:
    cells = {s["seed"]: f"{s['entropy_final']:.3f}, {s['pass1_final']:.3f}" for s in runs if s["level"] == level}
    if cells:
      lines.append(f"| {level:g}{' (off)' if level == knob.levels[0] else ''} | "
                   + " | ".join(cells.get(seed, "-") for seed in seeds) + " |")
  return "\n".join(lines)


def figure(summaries: list[dict], methods: list[str], eval_samples: int, path: str) -> None:
  """One row per method: final entropy, its change from off within each seed, pass@1 and pass@k against the
  knob's levels (mean over seeds, 95% t-interval; the dots are the seeds)."""
  keys = (("entropy_final", "final entropy"), ("entropy_change", "final entropy - off (same seed)"),
          ("pass1_final", "held-out pass@1"), ("passk_final", f"held-out pass@{eval_samples}"))
  methods = [m for m in methods if any(s["method"] == m for s in summaries)]
  fig, axes = plt.subplots(len(methods), len(keys), figsize=(16, 2.6 * len(methods)), squeeze=False)
  for row, method in zip(axes, methods):
    knob = KNOBS[method]
    runs = [s for s in summaries if s["method"] == method]
    off = {s["seed"]: s["entropy_final"] for s in runs if s["level"] == knob.levels[0]}
    runs = [{**s, "entropy_change": s["entropy_final"] - off.get(s["seed"], float("nan"))} for s in runs]
    levels = [level for level in knob.levels if any(s["level"] == level for s in runs)]
    for ax, (key, label) in zip(row, keys):
      for x, level in enumerate(levels):
        values = [s[key] for s in runs if s["level"] == level and math.isfinite(s[key])]
        if not values:
          continue
        mean, half = mean_ci(values)
        ax.errorbar([x], [mean], yerr=[np.nan_to_num(half)], marker="o", capsize=3, color="C0")
        ax.plot([x] * len(values), values, ".", color="C1", alpha=0.6)
      ax.set_xticks(range(len(levels)), [f"{level:g}" + (" (off)" if level == knob.levels[0] else "") for level in levels])
      ax.set_title(f"{method}: {label}", fontsize=9)
      ax.grid(alpha=0.3)
      if key == "entropy_change":
        ax.axhline(0.0, color="black", lw=0.8)
    row[0].set_xlabel(knob.field.split(".", 1)[1], fontsize=8)
  fig.suptitle("Dose-response on the countdown testbed (mean over seeds with 95% t-interval; dots: seeds)")
  fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # room for the title above the first row
  fig.savefig(path, dpi=100)
  plt.close(fig)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--methods", default=",".join(KNOBS), help=f"comma-separated, of {', '.join(KNOBS)}")
  parser.add_argument("--levels", default="", help="indices into each method's levels (0 = off), e.g. 0,3; "
                                                   "default all four")
  parser.add_argument("--seeds", default="0,1,2")
  parser.add_argument("--steps", type=int, default=0, help=f"rollout steps per run (default {FULL.steps}; "
                                                           f"--quick {QUICK.steps})")
  parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs in parallel")
  parser.add_argument("--quick", action="store_true",
                      help="smoke check: steer and entropy_bonus at off and their strongest level, seed 0, "
                           f"{QUICK.steps} steps of {QUICK.prompts_per_step} prompts")
  parser.add_argument("--out", default=os.path.join("runs", "entropy_study"))
  parser.add_argument("--per-row-forward", action="store_true",
                      help="run every row's prompt in the update and scoring passes (train.shared_prompt_forward="
                           "False), as the first 96 runs of docs/results.md did")
  parser.add_argument("--no-report", action="store_true", help="skip the figures (tests)")
  args = parser.parse_args()
  budget = QUICK if args.quick else FULL
  if args.steps:
    budget = dataclasses.replace(budget, steps=args.steps)
  if args.per_row_forward:
    budget = dataclasses.replace(budget, shared_prompt_forward=False)
  methods = [m for m in (("steer", "entropy_bonus") if args.quick else args.methods.split(",")) if m]
  unknown = [m for m in methods if m not in KNOBS]
  if unknown:
    parser.error(f"--methods: unknown {', '.join(unknown)}; known: {', '.join(KNOBS)}")
  seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",") if s]
  level_idx = [0, 3] if args.quick else [int(i) for i in args.levels.split(",") if i] or [0, 1, 2, 3]
  jobs = [(m, KNOBS[m].levels[i], s) for s in seeds for m in methods for i in level_idx]
  start = time.monotonic()
  print(f"entropy study: {len(methods)} method(s) x {len(level_idx)} level(s) x {len(seeds)} seed(s) = "
        f"{len(jobs)} runs of {budget.steps} steps, {args.jobs} at a time, in {args.out}", flush=True)
  with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
    # Warm starts first (one per seed, shared by every run of that seed), then the runs.
    list(pool.map(lambda seed: warm_start(seed, budget), seeds))
    summaries = list(pool.map(lambda job: run_one(*job, budget, args.out), jobs))
  os.makedirs(args.out, exist_ok=True)
  text = "\n\n".join([tables(summaries, methods, budget.eval_samples)]
                     + [f"{method}: final entropy, held-out pass@1 per seed\n\n{seed_table(summaries, method)}"
                        for method in methods if any(s["method"] == method for s in summaries)])
  with open(os.path.join(args.out, "tables.md"), "w") as f:
    f.write(text + "\n")
  with open(os.path.join(args.out, "summaries.json"), "w") as f:
    json.dump(summaries, f, indent=1)
  print(text)
  if not args.no_report:
    figure(summaries, methods, budget.eval_samples, os.path.join(args.out, "dose_response.png"))
    for method in methods:  # training curves of each strength, seed of the first run
      dirs = [run_dir_of(args.out, method, KNOBS[method].levels[i], seeds[0]) for i in level_idx]
      subprocess.run([sys.executable, "-m", "rlvr_jax.report", *dirs, "--out",
                      os.path.join(args.out, "report", method)], check=True, env={**os.environ, "PYTHONPATH": _ROOT})
  print(f"{len(jobs)} runs in {time.monotonic() - start:.0f} s wall; load average {os.getloadavg()[0]:.2f} "
        f"(1 min) at the end; tables in {os.path.join(args.out, 'tables.md')}", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
