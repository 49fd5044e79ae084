"""Evaluates a policy on math benchmarks: n samples per problem, avg@n, pass@k and maj@k for every k <= n.

    python launch/evaluate.py --checkpoint runs/steer --benchmarks builtin --reward builtin_arithmetic
    python launch/evaluate.py --checkpoint /ckpt/Qwen2.5-Math-7B \\
        --benchmarks math500=/data/math500.jsonl,aime24=/data/aime24.parquet \\
        --num_samples 16 --temperature 0.6 --top_p 0.95 --max_new_tokens 3072 --out results/qwen7b.json

--checkpoint is an HF directory or a run directory (its hf/final, else its newest hf/step_<N>). Writes
the JSON report to --out (default <run>/eval/<final|step_N>.json for a run) and the scalars as
TensorBoard events beside it (<out dir>/tensorboard). Benchmark names: rlvr_jax.eval.BENCHMARKS.
Single process: the mesh spans this process's devices.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
  sys.path.insert(0, _ROOT)


def _parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--checkpoint", required=True, help="HF directory, or a run directory with hf/final")
  p.add_argument("--benchmarks", default="builtin", help="comma-separated name[=path] entries")
  p.add_argument("--num_samples", type=int, default=4)
  p.add_argument("--temperature", type=float, default=0.6)
  p.add_argument("--top_p", type=float, default=0.95)
  p.add_argument("--max_new_tokens", type=int, default=1024)
  p.add_argument("--max_prompt_length", type=int, default=1024)
  p.add_argument("--prompts_per_batch", type=int, default=64, help="prompts per sampler call")
  p.add_argument("--template", default="qwen_math")
  p.add_argument("--reward", default="math_verify", help="a name in rlvr_jax.rewards.REWARDS")
  p.add_argument("--equivalence", default="math_verify", choices=("math_verify", "exact"),
                 help="when two answers are one maj@k vote")
  p.add_argument("--stop_tokens", default="<|im_end|>,<|endoftext|>")
  p.add_argument("--dtype", default="auto", help="auto (from config.json) | bfloat16 | float32")
  p.add_argument("--mesh", default="1,-1,1", help="data,fsdp,tensor axis sizes (-1: the rest)")
  p.add_argument("--num_devices", type=int, default=0, help="devices to use (0 = all)")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--bootstrap_resamples", type=int, default=1000)
  p.add_argument("--out", default="", help="JSON report path (required for a plain HF directory)")
  p.add_argument("--tensorboard_dir", default="", help="default <out dir>/tensorboard; 'none' = off")
  p.add_argument("--debug", action="store_true", help="print the traceback of an error (by default one line)")
  return p


def _inputs(args) -> dict:
  """Everything the flags name, checked before anything is loaded or compiled."""
  import jax
  import jax.numpy as jnp

  from rlvr_jax import sharding
  from rlvr_jax.eval import (EvalPrompting, EvalSampling, MathVerifyEquivalence, SummaryConfig, exact_equivalence,
                             load_benchmarks)
  from rlvr_jax.eval import checkpoint_dtype, resolve_checkpoint
  from rlvr_jax.rewards import REWARDS

  checkpoint = resolve_checkpoint(args.checkpoint)
  out = args.out
  if not out:
    if checkpoint.run_dir is None:
      raise ValueError(f"--out is required: --checkpoint={args.checkpoint!r} is not inside a run directory")
    out = os.path.join(checkpoint.run_dir, "eval", "final.json" if checkpoint.step is None
                       else f"step_{checkpoint.step}.json")
  benchmarks = load_benchmarks(args.benchmarks, field="--benchmarks")
  if not benchmarks:
    raise ValueError(f"--benchmarks={args.benchmarks!r} names no benchmark")
  REWARDS.get(args.reward, field="--reward")
  axes = args.mesh.split(",")
  if len(axes) != 3 or not all(a.strip().lstrip("-").isdigit() for a in axes):
    raise ValueError(f"--mesh={args.mesh!r} must be three comma-separated ints (data,fsdp,tensor)")
  if not 0 <= args.num_devices <= jax.device_count():
    raise ValueError(f"--num_devices={args.num_devices} must be in [0, {jax.device_count()}] (0 = all)")
  mesh = sharding.make_mesh(sharding.MeshConfig(*(int(a) for a in axes)),
                            jax.devices()[:args.num_devices] if args.num_devices else None)
  dtype = {"bfloat16": jnp.bfloat16, "float32": jnp.float32}[checkpoint_dtype(checkpoint.model_dir, args.dtype)]
  return dict(
      checkpoint=checkpoint, out=out, benchmarks=benchmarks, mesh=mesh, dtype=dtype,
      sampling=EvalSampling(num_samples=args.num_samples, temperature=args.temperature, top_p=args.top_p,
                            max_new_tokens=args.max_new_tokens, seed=args.seed),
      prompting=EvalPrompting(template=args.template, max_prompt_length=args.max_prompt_length,
                              prompts_per_batch=args.prompts_per_batch),
      equivalent=MathVerifyEquivalence() if args.equivalence == "math_verify" else exact_equivalence,
      summary=SummaryConfig(resamples=args.bootstrap_resamples, seed=args.seed),
      stop_tokens=[t for t in args.stop_tokens.split(",") if t])


def _evaluate(args, inputs: dict) -> str:
  from rlvr_jax.eval import evaluate_hf_dir
  from rlvr_jax.rewards import RewardConfig, build_reward

  checkpoint, out = inputs["checkpoint"], inputs["out"]
  with build_reward(args.reward, RewardConfig()) as reward:
    report = evaluate_hf_dir(checkpoint.model_dir, inputs["benchmarks"], sampling=inputs["sampling"],
                             prompting=inputs["prompting"], reward=reward, stop_tokens=inputs["stop_tokens"],
                             dtype=inputs["dtype"], mesh=inputs["mesh"], equivalent=inputs["equivalent"],
                             summary=inputs["summary"])
  report.write(out, step=checkpoint.step, checkpoint=os.path.abspath(checkpoint.model_dir))
  tensorboard_dir = args.tensorboard_dir or os.path.join(os.path.dirname(os.path.abspath(out)), "tensorboard")
  if tensorboard_dir != "none":
    from tensorboardX import SummaryWriter

    with SummaryWriter(tensorboard_dir) as writer:
      for key, value in report.metrics.items():
        writer.add_scalar(f"eval/{key}", value, checkpoint.step or 0)
  for name, record in report.benchmarks.items():
    n, metrics = record["num_samples"], record["metrics"]
    majority = f"maj@{n} {metrics[f'maj@{n}']:.4f}  " if f"maj@{n}" in metrics else ""  # none for code
    print(f"{name}: {record['num_problems']} problems x {n} samples  avg@{n} {metrics[f'avg@{n}']:.4f} "
          f"[{metrics[f'avg@{n}_ci_low']:.4f}, {metrics[f'avg@{n}_ci_high']:.4f}]  pass@{n} "
          f"{metrics[f'pass@{n}']:.4f}  {majority}no answer {metrics['no_answer_fraction']:.3f}", flush=True)
  return out


def main(argv: list[str] | None = None) -> int:
  """Exit codes: 0 the report is written; 1 an unexpected error; 2 a flag naming a missing file or a bad
  value, or a model directory that cannot be loaded (damaged, mis-shaped or non-finite weights); 4 a full
  disk while writing the report. Every error is one line on stderr; --debug adds the traceback."""
  args = _parser().parse_args(argv)
  try:
    inputs = _inputs(args)
    print(f"report: {_evaluate(args, inputs)}", flush=True)
    return 0
  except Exception as e:  # noqa: BLE001 - every error becomes one line and an exit code
    if args.debug:
      traceback.print_exc()
    code, message = _report(e)
    print(message, file=sys.stderr, flush=True)
    return code


def _report(error: Exception) -> tuple[int, str]:
  """(exit code, the one line to print) for an error that ended the evaluation."""
  from rlvr_jax.train import disk_full_error

  full = disk_full_error(error)
  if full is not None:
    return 4, str(full)
  if isinstance(error, (FileNotFoundError, ValueError)):  # ConfigError and the model's load errors included
    return 2, f"error: {error}"
  text = " ".join(str(error).split())
  return 1, f"error: {type(error).__name__}: {text[:800]} (an unexpected error; run with --debug for the traceback)"


if __name__ == "__main__":
  sys.exit(main())
