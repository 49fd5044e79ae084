"""Dynamic sampling as verl's DAPO trainer runs it: generation batches of rollout.gen_prompts prompts until
prompts_per_step groups with mixed correctness are collected, the first ones kept in generation order; at
train.max_gen_batches still short, stop (the default) or pad; data used up ends the rollout.

The rollout is driven with host fakes (no model): what is tested is the control flow and the selection.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax.data import PromptBatch
from rlvr_jax.rewards import RewardResult
from rlvr_jax.sampling import SamplerOutput, SamplingSettings
from rlvr_jax.train._rollout import RolloutConfig, collect_rollout
from rlvr_jax.train._shaping import GenerationCapReached

N, PROMPT, NEW = 2, 3, 4


def _batches(prompts_per_batch: int, correct_pattern, limit: int | None = None):
  """Prompt batches whose row ids count up; `correct_pattern(row_id) -> [n] bools` decides the verdicts."""
  counter = itertools.count()
  produced = range(limit) if limit is not None else itertools.count()
  for _ in produced:
    rows = np.asarray([next(counter) for _ in range(prompts_per_batch)], np.int32)
    yield PromptBatch(ids=np.ones((prompts_per_batch, PROMPT), np.int32), mask=np.ones((prompts_per_batch, PROMPT),
                                                                                      np.int32),
                      row_ids=rows, answers=tuple(str(r) for r in rows), questions=tuple("q" for _ in rows))


class _Fakes:
  def __init__(self, correct_pattern):
    self.correct_pattern = correct_pattern
    self.calls = 0
    self.row_ids: list[np.ndarray] = []

  def generate(self, ids, mask, row_ids, key):
    del mask, key
    self.calls += 1
    self.row_ids.append(np.asarray(row_ids))
    rows = ids.shape[0] * N
    verdicts = np.concatenate([self.correct_pattern(int(r)) for r in row_ids]).astype(np.int32)
    tokens = np.repeat(verdicts[:, None], NEW, axis=1) + 2  # 3 = correct, 2 = wrong
    return SamplerOutput(tokens=jnp.asarray(tokens), response_mask=jnp.ones((rows, NEW), bool),
                         lengths=jnp.full((rows,), NEW), finish_reason=jnp.zeros((rows,), jnp.int32),
                         logprobs=jnp.zeros((rows, NEW)))

  @staticmethod
  def decode(tokens, mask):
    del mask
    return ["right" if row[0] == 3 else "wrong" for row in tokens]

  @staticmethod
  def score(texts, answers):
    del answers
    correct = np.asarray([t == "right" for t in texts])
    # A format bonus on every response: scores differ from correctness, selection must read correctness.
    scores = correct.astype(np.float32) + 0.1 * np.arange(len(texts)) % 2
    return RewardResult(scores=scores, correct=correct, extracted=tuple(texts), metrics={"correct": int(correct.sum())})

  @staticmethod
  def scoring_fn(params, prompt_ids, prompt_mask, completion_ids, completion_mask):
    del params, prompt_ids, prompt_mask, completion_mask
    return jnp.zeros(completion_ids.shape), jnp.zeros(completion_ids.shape), None  # no sum pi^2


def _run(fakes, batches, *, prompts_per_step, max_gen_batches, gen_cap="stop"):
  config = RolloutConfig(prompts_per_step=prompts_per_step,
                         sampling=SamplingSettings(num_samples=N, max_new_tokens=NEW, temperature=1.0, top_p=1.0,
                                                   top_k=0, stop_token_ids=()),
                         advantage_estimator="grpo", advantage_hparams={}, dynamic_sampling=True,
                         max_gen_batches=max_gen_batches, gen_cap=gen_cap)
  return collect_rollout(config=config, prompt_batches=batches, generate_fn=fakes.generate, score_texts=fakes.score,
                         decode=fakes.decode, scoring_fn=fakes.scoring_fn, params=None, ref_params=None,
                         key=jax.random.key(0), place=jnp.asarray)


MIXED = lambda row: np.asarray([True, False])  # noqa: E731
ALL_RIGHT = lambda row: np.asarray([True, True])  # noqa: E731


def test_keeps_the_first_informative_groups_of_a_larger_generation_batch():
  """gen_prompts 4 > prompts_per_step 2: one generation batch, its first two informative prompts kept."""
  pattern = lambda row: MIXED(row) if row % 2 else ALL_RIGHT(row)  # noqa: E731 - rows 1, 3, 5, ... informative
  fakes = _Fakes(pattern)
  batch, metrics, _ = _run(fakes, _batches(4, pattern), prompts_per_step=2, max_gen_batches=3)
  assert fakes.calls == 1
  assert metrics["dynamic_sampling/informative_groups"] == 2 and metrics["dynamic_sampling/filled_uninformative"] == 0
  assert batch.num_rows == 2 * N
  # Rows 1 and 3 (prompt-major): each group has one right and one wrong response.
  np.testing.assert_array_equal(np.asarray(batch.completion_ids[:, 0]), [3, 2, 3, 2])


def test_draws_further_batches_until_enough_groups():
  pattern = lambda row: MIXED(row) if row >= 6 else ALL_RIGHT(row)  # noqa: E731
  fakes = _Fakes(pattern)
  _, metrics, _ = _run(fakes, _batches(2, pattern), prompts_per_step=2, max_gen_batches=0)  # 0 = unlimited
  assert fakes.calls == 4 and metrics["dynamic_sampling/gen_batches"] == 4
  assert [r.tolist() for r in fakes.row_ids] == [[0, 1], [2, 3], [4, 5], [6, 7]]


def test_stops_at_the_cap_like_verl():
  fakes = _Fakes(ALL_RIGHT)
  with pytest.raises(GenerationCapReached, match=r"train\.max_gen_batches=3 generation batches of 2 prompts and found "
                                                 r"0 prompts .* rollout\.prompts_per_step=2 .* train\.gen_cap=pad"):
    _run(fakes, _batches(2, ALL_RIGHT), prompts_per_step=2, max_gen_batches=3)
  assert fakes.calls == 3


def test_pad_fills_with_uninformative_groups_when_asked():
  fakes = _Fakes(ALL_RIGHT)
  batch, metrics, _ = _run(fakes, _batches(2, ALL_RIGHT), prompts_per_step=2, max_gen_batches=2, gen_cap="pad")
  assert fakes.calls == 2 and metrics["dynamic_sampling/filled_uninformative"] == 2
  assert batch.num_rows == 2 * N
  assert (np.asarray(batch.completion_ids) == 3).all()  # the padding groups: every response right


def test_selection_reads_correctness_not_the_shaped_score():
  """Every group's scores differ (a format bonus alternates), but a group whose responses are all right is
  uninformative: verl filters on `acc`."""
  fakes = _Fakes(ALL_RIGHT)
  with pytest.raises(GenerationCapReached):
    _run(fakes, _batches(2, ALL_RIGHT), prompts_per_step=2, max_gen_batches=1)


def test_data_used_up_ends_the_rollout():
  fakes = _Fakes(ALL_RIGHT)
  with pytest.raises(StopIteration):
    _run(fakes, _batches(2, ALL_RIGHT, limit=2), prompts_per_step=2, max_gen_batches=0)
  assert fakes.calls == 2
