"""Policy-update throughput: rlvr_jax's jitted update step vs an equivalent transformers + torch step.

Both sides run the same random-weight Qwen model on the same [B, P + N] batch: forward, log-probs of
the N completion tokens, a PPO clipped loss (GRPO objective), backward, AdamW step. With --group-size n
the rows are groups of n samples of one prompt (an RL batch) and a third row times rlvr_jax's update
with the prompt run once per group (`train.shared_prompt_forward`): the same gradient from less work,
which the torch reference (like verl's actor) does not do. Prints time per
step, tokens/s and, with --peak-tflops, model FLOPs utilization (6 x params x tokens / time / peak).

    python bench/train_step.py                                  # CPU: tiny preset
    python bench/train_step.py --batch 64 --prompt-len 16 --gen-len 10  # one optimizer step of the entropy study
    python bench/train_step.py --batch 64 --prompt-len 16 --gen-len 10 --group-size 8  # + prompt once per group
    python bench/train_step.py --preset qwen2.5-1.5b --batch 16 --prompt-len 512 --gen-len 1024 \\
        --peak-tflops 989 --dtype bfloat16 --remat                # H100 (dense bf16 peak)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

import host_info  # bench/, beside this script
from timing_rounds import time_rounds  # bench/, beside this script
from rlvr_jax import host_heap


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--preset", default="tiny")
  parser.add_argument("--batch", type=int, default=16)
  parser.add_argument("--prompt-len", type=int, default=64)
  parser.add_argument("--gen-len", type=int, default=64)
  parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
  parser.add_argument("--steps", type=int, default=5, help="consecutive steps per side in each round")
  parser.add_argument("--rounds", type=int, default=3,
                      help="rounds, each timing --steps steps of every side in turn (figures: the median round)")
  parser.add_argument("--remat", action="store_true")
  parser.add_argument("--peak-tflops", type=float, default=0.0, help="device peak for MFU (0: not reported)")
  parser.add_argument("--group-size", type=int, default=1,
                      help="rows per prompt (> 1: also time the update with the prompt run once per group)")
  parser.add_argument("--torch-threads", type=int, default=0, help="torch CPU threads (0: torch default)")
  parser.add_argument("--heap", default="retain", choices=host_heap.MODES,
                      help="retain: the launcher's heap settings (rlvr_jax/host_heap.py), for both sides; "
                           "default: glibc's, where XLA:CPU faults its temporaries in on every call")
  args = parser.parse_args()
  host_heap.apply_mode(args.heap)  # before jax starts its threads, as the launcher does
  print(host_info.describe(), flush=True)  # before anything runs: the load is the machine's, not ours

  import torch
  from transformers import AutoModelForCausalLM

  from rlvr_jax import models
  from rlvr_jax.objectives import build_objective
  from rlvr_jax.objectives import RolloutBatch
  from rlvr_jax.train import OptimConfig, UpdateConfig, create_train_state, make_optimizer, make_update_step

  dtype = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}[args.dtype]
  config = models.preset(args.preset)
  model = models.init(config, key=jax.random.key(0), dtype=dtype)
  num_params = models.param_count(config)
  b, p, n = args.batch, args.prompt_len, args.gen_len
  rng = np.random.default_rng(0)
  if b % args.group_size:
    parser.error(f"--batch {b} is not a multiple of --group-size {args.group_size}")
  prompt = np.repeat(rng.integers(0, config.vocab_size, (b // args.group_size, p)), args.group_size, axis=0)
  prompt = prompt.astype(np.int32)
  completion = rng.integers(0, config.vocab_size, (b, n)).astype(np.int32)
  advantages = np.repeat(rng.normal(size=(b, 1)), n, axis=1).astype(np.float32)
  old_logp = np.full((b, n), -np.log(config.vocab_size), np.float32)

  # The torch reference gets the same weights, written before the jitted step donates them.
  reference_dir = tempfile.TemporaryDirectory()
  models.save_pretrained(model, reference_dir.name)

  # rlvr_jax: the trainer's own update step (GRPO objective, AdamW, global-norm clip), state donated.
  objective = build_objective({"transforms": ()})
  tx = make_optimizer(OptimConfig(lr=1e-6))
  graphdef, state = create_train_state(model, tx, objective.init_state(), seed=0)
  batch = RolloutBatch(prompt_ids=jnp.asarray(prompt), prompt_mask=jnp.ones((b, p), jnp.int32),
                       completion_ids=jnp.asarray(completion), response_mask=jnp.ones((b, n), jnp.float32),
                       advantages=jnp.asarray(advantages), old_logp=jnp.asarray(old_logp))
  shared_state = jax.tree.map(jnp.copy, state) if args.group_size > 1 else None  # the first step donates state

  def compiled_update(state, group_size: int):
    """(a function running one update step, XLA-counted FLOPs) of the update step compiled once ahead of
    time: the timed program is the one whose FLOPs XLA counts (cost analysis)."""
    update = make_update_step(graphdef, objective, tx,
                              UpdateConfig(chunk_size=1024, remat=args.remat, prompt_group_size=group_size))
    step = jax.jit(update, donate_argnums=0).lower(state, batch, jax.random.key(0)).compile()
    holder = {"state": state}

    def jax_step():
      holder["state"], metrics = step(holder["state"], batch, jax.random.key(0))
      jax.block_until_ready(metrics["actor/loss"])

    return jax_step, step.cost_analysis()["flops"]

  jax_step, step_flops = compiled_update(state, 1)
  shared_step = compiled_update(shared_state, args.group_size)[0] if shared_state is not None else None
  # What XLA reaches on a plain matmul of the model's projection shape on the same device: how far the
  # step is from its matmuls.
  rows = b * (p + n)
  matmul = jax.jit(lambda x, w: x @ w)
  x = jnp.ones((rows, config.hidden_size), dtype)
  w = jnp.ones((config.hidden_size, config.intermediate_size), dtype)
  matmul_call = lambda: matmul(x, w).block_until_ready()  # noqa: E731
  matmul_call()  # compile
  matmul_time = statistics.median(time_rounds([matmul_call], rounds=3, calls_per_round=max(args.steps, 20))[0])
  matmul_rate = 2 * rows * config.hidden_size * config.intermediate_size / matmul_time

  # transformers + torch: the same weights, the same loss.
  if args.torch_threads:
    torch.set_num_threads(args.torch_threads)
  device = "cuda" if torch.cuda.is_available() else "cpu"
  torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
  reference = AutoModelForCausalLM.from_pretrained(reference_dir.name, dtype=torch_dtype).to(device).train()
  reference_dir.cleanup()
  if args.remat:
    reference.gradient_checkpointing_enable()
  optimizer = torch.optim.AdamW(reference.parameters(), lr=1e-6, weight_decay=0.01)
  ids = torch.as_tensor(np.concatenate([prompt, completion], 1), dtype=torch.long, device=device)
  targets = torch.as_tensor(completion, dtype=torch.long, device=device)
  adv = torch.as_tensor(advantages, device=device)
  old = torch.as_tensor(old_logp, device=device)

  def torch_step():
    logits = reference(input_ids=ids).logits[:, p - 1:-1].float()
    logp = torch.log_softmax(logits, -1).gather(-1, targets[..., None])[..., 0]
    ratio = torch.exp(logp - old)
    loss = torch.maximum(-adv * ratio, -adv * ratio.clamp(0.8, 1.2)).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(reference.parameters(), 1.0)
    optimizer.step()
    if device == "cuda":
      torch.cuda.synchronize()

  sides = [("rlvr_jax update step (jit)", jax_step), ("transformers + torch", torch_step)]
  if shared_step is not None:
    sides.insert(1, (f"rlvr_jax, prompt once per {args.group_size}", shared_step))
  for _, fn in sides:
    fn()  # compile / warm up
    fn()
  times = time_rounds([fn for _, fn in sides], rounds=args.rounds, calls_per_round=args.steps)
  torch_rounds = np.asarray(times[-1])
  torch_time = statistics.median(torch_rounds)
  jax_time = statistics.median(times[0])

  tokens = b * (p + n)
  print(f"policy update, preset {args.preset} ({num_params / 1e6:.1f}M params), batch {b} x ({p} prompt + "
        f"{n} completion) tokens, {args.dtype}, jax {jax.__version__} on {jax.devices()[0].device_kind}, "
        f"torch {torch.__version__} on {device}, heap {args.heap}")
  print(f"{'implementation':<34}{'s/step':>10}{'tokens/s':>12}{'MFU':>8}{'vs torch':>10}{'per round':>12}")
  for (name, _), rounds in zip(sides, times):
    seconds = statistics.median(rounds)
    ratios = torch_rounds / np.asarray(rounds)
    mfu = (6 * num_params * tokens / seconds / (args.peak_tflops * 1e12)) if args.peak_tflops else float("nan")
    print(f"{name:<34}{seconds:>10.4f}{tokens / seconds:>12.0f}{mfu:>8.1%}{torch_time / seconds:>9.2f}x"
          f"{ratios.min():>6.2f}-{ratios.max():<5.2f}")
  print(f"(s/step: the median of {args.rounds} rounds of {args.steps} steps per side, the sides in turn within a "
        "round; per round: the lowest and highest paired ratio to torch)")
  if not args.peak_tflops:
    print("(MFU needs --peak-tflops: the device's dense peak for the dtype)")
  print(f"rlvr_jax update step: {step_flops / 1e9:.2f} GFLOP (XLA cost analysis), {step_flops / jax_time / 1e9:.1f} "
        f"GFLOP/s; XLA matmul [{rows}, {config.hidden_size}] x [{config.hidden_size}, {config.intermediate_size}] on "
        f"the same device: {matmul_rate / 1e9:.1f} GFLOP/s; the step runs at "
        f"{step_flops / jax_time / matmul_rate:.0%} of that rate")


if __name__ == "__main__":
  main()
