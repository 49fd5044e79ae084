"""Held-out evaluation inside training: a fixed set of prompts, n samples each (greedy by default), scored
by the run's reward; accuracy, pass@n and response length as `eval/*` metrics.

The prompts are tokenized and padded once, so every evaluation runs the same compiled sampler.
"""

from __future__ import annotations

import jax
import numpy as np

from rlvr_jax.data import PromptBatch
from rlvr_jax.train.rollout import SamplingSettings, make_generate_fn
from rlvr_jax.train.text_codec import TextCodec


class Evaluator:
  def __init__(self, graphdef, prompts: PromptBatch, codec: TextCodec, reward, mesh, *, num_samples: int,
               temperature: float, top_p: float, max_new_tokens: int, seed: int):
    self.prompts = prompts
    self.codec = codec
    self.reward = reward
    self.num_samples = num_samples
    self.key = jax.random.key(seed + 7919)  # fixed: every evaluation samples with the same randomness
    settings = SamplingSettings(num_samples=num_samples, max_new_tokens=max_new_tokens, temperature=temperature,
                                top_p=top_p if temperature > 0 else 1.0, top_k=0,
                                stop_token_ids=codec.stop_token_ids)
    self._generate = make_generate_fn(graphdef, settings, mesh)

  def run(self, params) -> dict[str, float]:
    out = self._generate(params, self.prompts.ids, self.prompts.mask, self.prompts.row_ids, self.key)
    mask = np.asarray(out.response_mask)
    texts = self.codec.decode(np.asarray(out.tokens), mask)
    answers = [a for a in self.prompts.answers for _ in range(self.num_samples)]
    result = self.reward(texts, answers)
    correct = np.asarray(result.correct).reshape(-1, self.num_samples)
    lengths = np.asarray(out.lengths, np.float32)
    return {
        "eval/accuracy": float(correct.mean()),
        f"eval/pass@{self.num_samples}": float(correct.any(axis=1).mean()),
        "eval/length_mean": float(lengths.mean()),
        "eval/no_answer_fraction": float(np.mean([e is None for e in result.extracted])),
    }
