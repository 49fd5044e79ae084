"""The embedded default's policy: what `launch/tpu_pod.py --config configs/<method>.py` trains with no
model path.

A tiny Qwen2-architecture policy with the built-in tokenizer, warm-started by a short supervised phase on
a built-in task (`rlvr_jax.embedded._tasks`), written as an ordinary HF directory and cached; the RL run
then loads it exactly as it would load a real checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np

from rlvr_jax import models
from rlvr_jax.data._templates import render_prompt
from rlvr_jax.data._text_codec import save_tokenizer
from rlvr_jax.embedded import _warm_start as warm_start
from rlvr_jax.embedded._tasks import BUILTIN_TASKS
from rlvr_jax.embedded._tokenizer import builtin_tokenizer

_COMPLETE = "WARM_START_COMPLETE"


@dataclasses.dataclass(frozen=True)
class EmbeddedPolicy:
  """What determines the warm-started tiny policy (all of it is in its cache key).

  Attributes:
    task: the built-in task (`data.builtin_task`).
    preset: the architecture (`model.preset`, "tiny").
    template: the prompt template the demonstrations are rendered with (`data.template`).
    steps, lr, batch_size: the supervised phase (`warm_start.*`).
    seed: initialization and demonstration draws (`train.seed`).
  """

  task: str
  preset: str
  template: str
  steps: int
  lr: float
  batch_size: int
  seed: int

  def cache_settings(self) -> dict:
    return {**BUILTIN_TASKS.get(self.task, field="data.builtin_task").policy_key, "preset": self.preset,
            "template": self.template, "steps": self.steps, "lr": self.lr, "batch_size": self.batch_size,
            "seed": self.seed, "tokenizer": builtin_tokenizer().backend_tokenizer.to_str()}


def ensure_policy(spec: EmbeddedPolicy, cache_dir: str | None = None) -> str:
  """The HF directory of the tiny policy warm-started on `spec.task` (built and cached on first use)."""
  task = BUILTIN_TASKS.get(spec.task, field="data.builtin_task")
  root = cache_dir or warm_start.default_cache_dir()
  path = os.path.join(root, "embedded_policy", warm_start.cache_key(spec.cache_settings()))
  if os.path.isfile(os.path.join(path, _COMPLETE)):
    return path
  tokenizer = builtin_tokenizer()
  config = models.preset(spec.preset, vocab_size=max(models.PRESETS[spec.preset].vocab_size, len(tokenizer)))
  model = models.init(config, key=jax.random.key(spec.seed), dtype=jnp.float32)
  questions, completions = task.demonstrations(spec.seed)
  prompts = [tokenizer(render_prompt(spec.template, q, tokenizer))["input_ids"] for q in questions]
  targets = [tokenizer(text)["input_ids"] for text in completions]
  p_ids, p_mask = _pad(prompts, left=True, pad_id=tokenizer.pad_token_id)
  t_ids, t_mask = _pad(targets, left=False, pad_id=tokenizer.pad_token_id)
  print(f"warm start: {spec.steps} supervised steps of the tiny policy on the built-in {spec.task} task "
        f"(cached in {path})", flush=True)
  model, _ = warm_start.supervised_warm_start(
      model, p_ids, p_mask, t_ids, t_mask, steps=spec.steps, lr=spec.lr, batch_size=spec.batch_size,
      seed=spec.seed, log_every=max(spec.steps // 5, 1), **task.warm_start_optimizer)
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
