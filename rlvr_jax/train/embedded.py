"""The embedded default: what `launch/tpu_pod.py --config configs/<method>.py` runs with no model path.

A tiny Qwen2-architecture policy with the built-in tokenizer, warm-started by a short supervised phase on
the built-in arithmetic task, written as an ordinary HF directory and cached; the RL run then loads it
exactly as it would load a real checkpoint. The built-in task's train / held-out prompts are written as
JSONL next to it, so the same data pipeline reads them.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from rlvr_jax import models
from rlvr_jax.data.arithmetic import ArithmeticTask, generate_arithmetic, write_builtin_splits
from rlvr_jax.data.templates import render_prompt
from rlvr_jax.data.tokenizer import IM_END, builtin_tokenizer
from rlvr_jax.train import warm_start
from rlvr_jax.train.text_codec import save_tokenizer

TASK = ArithmeticTask(min_digits=1, max_digits=1, operations="+-", heldout_fraction=0.25)
TRAIN_PROMPTS = 140  # of the ~150 one-digit +, - problems in the training split
HELDOUT_PROMPTS = 48  # of the ~50 held-out ones (never seen in warm start or RL)
_COMPLETE = "WARM_START_COMPLETE"


def worked_answer(answer: str) -> str:
  """The completion the warm start teaches: a short sentence ending in the boxed answer."""
  return f"The answer is \\boxed{{{answer}}}.{IM_END}"


def _settings(c: ml_collections.ConfigDict) -> dict:
  return {"task": repr(TASK), "preset": c.model.preset, "template": c.data.template,
          "steps": c.warm_start.steps, "lr": c.warm_start.lr, "batch_size": c.warm_start.batch_size,
          "seed": c.train.seed, "tokenizer": builtin_tokenizer().backend_tokenizer.to_str(), "version": 2}


def data_files(cache_dir: str | None = None) -> tuple[str, str]:
  """(train, held-out) JSONL files of the built-in task, generated once (atomically) and cached."""
  root = os.path.join(cache_dir or warm_start.default_cache_dir(), "arithmetic_data",
                      warm_start.cache_key({"task": repr(TASK), "train": TRAIN_PROMPTS, "heldout": HELDOUT_PROMPTS}))
  files = (os.path.join(root, "arithmetic_train.jsonl"), os.path.join(root, "arithmetic_heldout.jsonl"))
  if not all(os.path.isfile(f) for f in files):
    os.makedirs(os.path.dirname(root), exist_ok=True)
    staging = tempfile.mkdtemp(dir=os.path.dirname(root))
    write_builtin_splits(staging, TASK, train_count=TRAIN_PROMPTS, heldout_count=HELDOUT_PROMPTS, seed=0)
    if os.path.isdir(root):
      shutil.rmtree(root)
    os.replace(staging, root)
  return files


def ensure_policy(c: ml_collections.ConfigDict, cache_dir: str | None = None) -> str:
  """The HF directory of the warm-started tiny policy (built and cached on first use)."""
  root = cache_dir or warm_start.default_cache_dir()
  path = os.path.join(root, "embedded_policy", warm_start.cache_key(_settings(c)))
  if os.path.isfile(os.path.join(path, _COMPLETE)):
    return path
  tokenizer = builtin_tokenizer()
  config = models.preset(c.model.preset, vocab_size=max(models.PRESETS[c.model.preset].vocab_size, len(tokenizer)))
  model = models.init(config, key=jax.random.key(c.train.seed), dtype=jnp.float32)
  rows = generate_arithmetic(TASK, "train", TRAIN_PROMPTS, seed=c.train.seed + 1)
  prompts = [tokenizer(render_prompt(c.data.template, r["question"], tokenizer))["input_ids"] for r in rows]
  targets = [tokenizer(worked_answer(r["answer"]))["input_ids"] for r in rows]
  p_ids, p_mask = _pad(prompts, left=True, pad_id=tokenizer.pad_token_id)
  t_ids, t_mask = _pad(targets, left=False, pad_id=tokenizer.pad_token_id)
  print(f"warm start: {c.warm_start.steps} supervised steps of the tiny policy on the built-in task "
        f"(cached in {path})", flush=True)
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
