"""The embedded default: what `launch/tpu_pod.py --config configs/<method>.py` runs with no model path.

A tiny Qwen2-architecture policy with the built-in tokenizer, warm-started by a short supervised phase on
a built-in task (`data.builtin_task`: integer arithmetic, or tiny Python functions), written as an
ordinary HF directory and cached; the RL run then loads it exactly as it would load a real checkpoint.
The task's train / held-out prompts are written as JSONL next to it, so the same data pipeline reads them.

Each task's warm start imitates a demonstrator that is right in substance but not always verifiably
right, so the warm-started policy succeeds often enough for group advantages to be non-zero and RL has
a clear, learnable gap to close, as on real pretrained models.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from rlvr_jax import models
from rlvr_jax.data.arithmetic import ArithmeticTask, generate_arithmetic, write_builtin_splits
from rlvr_jax.data.code_task import CodeTask, generate_code_task, reference_solution, write_code_task_splits
from rlvr_jax.data.templates import render_prompt
from rlvr_jax.data.tokenizer import IM_END, builtin_tokenizer
from rlvr_jax.train import warm_start
from rlvr_jax.train.text_codec import save_tokenizer

BUILTIN_TASKS = ("arithmetic", "code")

# Arithmetic. Tuned, and every value below is part of the cache key of existing warm-started policies.
TASK = ArithmeticTask(min_digits=1, max_digits=1, operations="+-", heldout_fraction=0.25)
TRAIN_PROMPTS = 140  # of the ~150 one-digit +, - problems in the training split
HELDOUT_PROMPTS = 48  # of the ~50 held-out ones (never seen in warm start or RL)
# The warm start imitates a demonstrator that boxes its answer only this often ("The answer is 7." the
# rest of the time). The built-in verifier accepts boxed answers only, so the warm-started policy is
# right in substance far more often than it is verifiably right: RL has a clear, learnable gap to close
# (following the verifiable format, and sharpening the arithmetic), as on real pretrained models.
BOXED_FRACTION = 0.5
DEMONSTRATIONS_PER_PROBLEM = 8

# Code: one-line functions whose programs are ~25 tokens, so a rollout step takes seconds on a CPU.
CODE_TASK = CodeTask(families=("add", "minus", "times", "repeat"), max_constant=70, num_tests=5,
                     test_format="assert", heldout_fraction=0.25)
CODE_TRAIN_PROMPTS = 220  # of the 227 training problems
CODE_HELDOUT_PROMPTS = 48  # of the 53 held-out ones (never seen in warm start or RL)
# The code demonstrator fences its program in ```python only this often (the bare program the rest of
# the time, which the code reward cannot find), and slips this often: its constant is off by one (`x + 8`
# for "x plus 7"), a program that runs and fails the tests. RL has to learn the fence (format) and to
# copy the constant faithfully (correctness).
FENCED_FRACTION = 0.5
SLIP_FRACTION = 0.25
CODE_DEMONSTRATIONS_PER_PROBLEM = 8
# What the code task changes in the embedded profile (rlvr_jax.config.EMBEDDED_PROFILE, which is
# arithmetic's): the reward, a token budget for a fenced program (~15 tokens), and a longer warm start,
# as the targets are longer. The code configs apply it over that profile (configs/steer_code.py).
CODE_PROFILE = {
    "reward": {"name": "code_exec"},
    "rollout": {"max_new_tokens": 24},
    "eval": {"max_new_tokens": 24},
    "warm_start": {"steps": 400, "lr": 3e-3, "batch_size": 64},
}
_COMPLETE = "WARM_START_COMPLETE"


def worked_answer(answer: str, *, boxed: bool = True) -> str:
  """A demonstration: a short sentence ending in the (boxed, or plain) answer."""
  return f"The answer is \\boxed{{{answer}}}.{IM_END}" if boxed else f"The answer is {answer}.{IM_END}"


def demonstrations(rows: list[dict], seed: int) -> tuple[list[str], list[str]]:
  """(questions, completions): each problem DEMONSTRATIONS_PER_PROBLEM times, boxed with BOXED_FRACTION."""
  rng = np.random.default_rng([seed, 2])
  questions, completions = [], []
  for row in rows:
    for boxed in rng.random(DEMONSTRATIONS_PER_PROBLEM) < BOXED_FRACTION:
      questions.append(row["question"])
      completions.append(worked_answer(row["answer"], boxed=bool(boxed)))
  return questions, completions


def worked_program(question: str, *, fenced: bool = True, constant_offset: int = 0) -> str:
  """A code demonstration: the reference program (its constant shifted by `constant_offset`), fenced or bare."""
  program = reference_solution(question, constant_offset=constant_offset)
  return f"```python\n{program}```{IM_END}" if fenced else f"{program}{IM_END}"


def code_demonstrations(rows: list[dict], seed: int) -> tuple[list[str], list[str]]:
  """(questions, completions): each problem CODE_DEMONSTRATIONS_PER_PROBLEM times, fenced with
  FENCED_FRACTION, its constant off by one (either way) with SLIP_FRACTION."""
  rng = np.random.default_rng([seed, 3])
  questions, completions = [], []
  for row in rows:
    fenced = rng.random(CODE_DEMONSTRATIONS_PER_PROBLEM) < FENCED_FRACTION
    slips = rng.random(CODE_DEMONSTRATIONS_PER_PROBLEM) < SLIP_FRACTION
    offsets = np.where(slips, rng.choice((-1, 1), CODE_DEMONSTRATIONS_PER_PROBLEM), 0)
    for fence, offset in zip(fenced, offsets):
      questions.append(row["question"])
      completions.append(worked_program(row["question"], fenced=bool(fence), constant_offset=int(offset)))
  return questions, completions


def _settings(c: ml_collections.ConfigDict) -> dict:
  return {"task": repr(TASK), "preset": c.model.preset, "template": c.data.template,
          "steps": c.warm_start.steps, "lr": c.warm_start.lr, "batch_size": c.warm_start.batch_size,
          "seed": c.train.seed, "tokenizer": builtin_tokenizer().backend_tokenizer.to_str(),
          "boxed_fraction": BOXED_FRACTION, "demonstrations": DEMONSTRATIONS_PER_PROBLEM, "version": 3}


def _code_settings(c: ml_collections.ConfigDict) -> dict:
  return {"builtin_task": "code", "task": repr(CODE_TASK), "train_prompts": CODE_TRAIN_PROMPTS,
          "preset": c.model.preset, "template": c.data.template, "steps": c.warm_start.steps,
          "lr": c.warm_start.lr, "batch_size": c.warm_start.batch_size, "seed": c.train.seed,
          "tokenizer": builtin_tokenizer().backend_tokenizer.to_str(), "fenced_fraction": FENCED_FRACTION,
          "slip_fraction": SLIP_FRACTION, "demonstrations": CODE_DEMONSTRATIONS_PER_PROBLEM, "version": 1}


@dataclasses.dataclass(frozen=True)
class _Builtin:
  """How one built-in task is warm-started: the cache key's settings and the demonstrations."""

  settings: dict
  demonstrations: Callable[[], tuple[list[str], list[str]]]


def _builtin(c: ml_collections.ConfigDict) -> _Builtin:
  task, seed = c.data.builtin_task, c.train.seed
  if task == "arithmetic":
    return _Builtin(_settings(c), lambda: demonstrations(
        generate_arithmetic(TASK, "train", TRAIN_PROMPTS, seed=seed + 1), seed))
  if task == "code":
    return _Builtin(_code_settings(c), lambda: code_demonstrations(
        generate_code_task(CODE_TASK, "train", CODE_TRAIN_PROMPTS, seed=seed + 1), seed))
  raise ValueError(f"data.builtin_task={task!r}; known: {', '.join(BUILTIN_TASKS)}")


def data_files(cache_dir: str | None = None, *, task: str = "arithmetic") -> tuple[str, str]:
  """(train, held-out) JSONL files of built-in task `task`, generated once (atomically) and cached."""
  if task == "arithmetic":
    name, key = "arithmetic", {"task": repr(TASK), "train": TRAIN_PROMPTS, "heldout": HELDOUT_PROMPTS}
    write = lambda d: write_builtin_splits(d, TASK, train_count=TRAIN_PROMPTS,  # noqa: E731
                                           heldout_count=HELDOUT_PROMPTS, seed=0)
  elif task == "code":
    name, key = "code", {"task": repr(CODE_TASK), "train": CODE_TRAIN_PROMPTS, "heldout": CODE_HELDOUT_PROMPTS}
    write = lambda d: write_code_task_splits(d, CODE_TASK, train_count=CODE_TRAIN_PROMPTS,  # noqa: E731
                                             heldout_count=CODE_HELDOUT_PROMPTS, seed=0)
  else:
    raise ValueError(f"data.builtin_task={task!r}; known: {', '.join(BUILTIN_TASKS)}")
  root = os.path.join(cache_dir or warm_start.default_cache_dir(), f"{name}_data", warm_start.cache_key(key))
  files = (os.path.join(root, f"{name}_train.jsonl"), os.path.join(root, f"{name}_heldout.jsonl"))
  if not all(os.path.isfile(f) for f in files):
    os.makedirs(os.path.dirname(root), exist_ok=True)
    staging = tempfile.mkdtemp(dir=os.path.dirname(root))
    write(staging)
    if os.path.isdir(root):
      shutil.rmtree(root)
    os.replace(staging, root)
  return files


def ensure_policy(c: ml_collections.ConfigDict, cache_dir: str | None = None) -> str:
  """The HF directory of the tiny policy warm-started on `c.data.builtin_task` (built and cached on first use)."""
  builtin = _builtin(c)
  root = cache_dir or warm_start.default_cache_dir()
  path = os.path.join(root, "embedded_policy", warm_start.cache_key(builtin.settings))
  if os.path.isfile(os.path.join(path, _COMPLETE)):
    return path
  tokenizer = builtin_tokenizer()
  config = models.preset(c.model.preset, vocab_size=max(models.PRESETS[c.model.preset].vocab_size, len(tokenizer)))
  model = models.init(config, key=jax.random.key(c.train.seed), dtype=jnp.float32)
  questions, completions = builtin.demonstrations()
  prompts = [tokenizer(render_prompt(c.data.template, q, tokenizer))["input_ids"] for q in questions]
  targets = [tokenizer(text)["input_ids"] for text in completions]
  p_ids, p_mask = _pad(prompts, left=True, pad_id=tokenizer.pad_token_id)
  t_ids, t_mask = _pad(targets, left=False, pad_id=tokenizer.pad_token_id)
  print(f"warm start: {c.warm_start.steps} supervised steps of the tiny policy on the built-in "
        f"{c.data.builtin_task} task (cached in {path})", flush=True)
  model, _ = warm_start.supervised_warm_start(
      model, p_ids, p_mask, t_ids, t_mask, steps=c.warm_start.steps, lr=c.warm_start.lr,
      batch_size=c.warm_start.batch_size, seed=c.train.seed, log_every=max(c.warm_start.steps // 5, 1))
  os.makedirs(os.path.dirname(path), exist_ok=True)
  staging = tempfile.mkdtemp(dir=os.path.dirname(path))
  models.save_pretrained(model, staging)
  save_tokenizer(tokenizer, staging)
  open(os.path.join(staging, _COMPLETE), "w").close()
  if os.path.isdir(path):
    shutil.rmtree(path)
  os.replace(staging, path)
  return path


def _pad(sequences: list[list[int]], *, left: bool, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
  length = max(len(s) for s in sequences)
  ids = np.full((len(sequences), length), pad_id, np.int32)
  mask = np.zeros((len(sequences), length), np.int32)
  for i, s in enumerate(sequences):
    if left:
      ids[i, length - len(s):], mask[i, length - len(s):] = s, 1
    else:
      ids[i, :len(s)], mask[i, :len(s)] = s, 1
  return ids, mask
