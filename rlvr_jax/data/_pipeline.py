"""The prompt pipeline: files -> validated rows -> templated, tokenized prompts -> shuffled, repeated,
host-sharded batches of left-padded token arrays, with a checkpointable iterator.

Prompts are tokenized once, eagerly, so over-long prompts are dropped (and counted) before the
dataset's length is fixed; after that everything is index arithmetic in a grain `MapDataset`, which is
what makes the iterator state a single integer that restores exactly.

Before any tokenizing, a question is measured in bytes: one longer than data.max_prompt_length x twice the
tokenizer's longest token (in UTF-8 bytes) cannot fit, so it is dropped and counted as too long without
being tokenized (a 5 MB question used to cost the tokenizer 2 GB); rows longer than that plus
`ROW_EXTRA_BYTES` are never even read whole, and are malformed rows (`row_limits`).

Host sharding: global batch k holds elements [k P, (k + 1) P) of the shuffled, repeated stream
(P = prompts_per_step); host h of n takes the ones with index = h (mod n), so position i of its local
batch is position h + n i of the global batch. The saved state (the batch counter) is therefore the same
on every host and independent of the host count. With drop_remainder every host yields the same number
of batches; without it (evaluation) the last local batches may differ in size by one between hosts.
Every host tokenizes the whole prompt table (prompts are small), so `collate_rows` can rebuild any
batch, the global one included, from row ids alone (`rlvr_jax.train._global_prompts`).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from typing import Any, Sequence

import grain
import numpy as np

from rlvr_jax.data._record_readers import DataFileError, RowLimit, utf8_size
from rlvr_jax.data._sources import LoadCounts, PromptRow, load_rows
from rlvr_jax.data._templates import TEMPLATES, Question, render_prompt

# Bytes a row may hold besides its prompt: the answer (a code reward's test cases run to megabytes), ids
# and metadata fields. A row over the prompt's bound plus this is an oversized row (`row_limits`).
ROW_EXTRA_BYTES = 16 << 20

_STATE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class PromptDataConfig:
  """Where prompts come from and how they are ordered and batched; validated on construction, so a
  bad setting fails before any file is read or anything is compiled.

  Attributes:
    files: JSONL / Parquet files, read in order.
    question_field: field name (dotted for nested values), or names tried in order.
    answer_field: field holding the reference answer.
    template: a name in `rlvr_jax.data._templates.TEMPLATES` (qwen_math | raw | chat_template).
    max_prompt_length: prompts with more tokens are dropped and counted; also the largest bucket.
    skip_malformed: False raises on the first malformed row (file:line); True skips and counts.
    shuffle: reshuffle every epoch with `seed` (False for evaluation: file order).
    seed: shuffle seed.
    epochs: passes over the data; None repeats forever.
    prompts_per_step: global batch size in prompts (across all hosts).
    drop_remainder: drop a final partial batch (training keeps shapes fixed; evaluation wants all rows).
    min_bucket: smallest padded length; lengths are powers of two from here up to max_prompt_length.
  """

  files: tuple[str, ...]
  question_field: str | tuple[str, ...] = "question"
  answer_field: str = "answer"
  template: str = "qwen_math"
  max_prompt_length: int = 512
  skip_malformed: bool = False
  shuffle: bool = True
  seed: int = 0
  epochs: int | None = 1
  prompts_per_step: int = 8
  drop_remainder: bool = True
  min_bucket: int = 16

  def __post_init__(self):
    if isinstance(self.files, str):
      object.__setattr__(self, "files", tuple(f for f in self.files.split(",") if f))
    if isinstance(self.question_field, str) and "," in self.question_field:  # "problem,prompt" from a CLI
      object.__setattr__(self, "question_field", tuple(f for f in self.question_field.split(",") if f))
    if not self.files:
      raise ValueError("data.files is empty; name at least one JSONL / Parquet file")
    TEMPLATES.get(self.template, field="data.template")
    for name in ("max_prompt_length", "prompts_per_step", "min_bucket"):
      value = getattr(self, name)
      if not isinstance(value, int) or value < 1:
        raise ValueError(f"data.{name}={value!r} must be an int >= 1")
    if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
      raise ValueError(f"data.epochs={self.epochs!r} must be an int >= 1 or None (forever)")


@dataclasses.dataclass(frozen=True)
class TokenizedPrompt:
  """A prompt after templating and tokenizing once up front; batches are built from these by index."""

  ids: np.ndarray  # [L] int32
  answer: str
  row_id: int
  question: Question


@dataclasses.dataclass(frozen=True)
class PromptBatch:
  """One host's prompts for a rollout step.

  Attributes:
    ids: [P, L] int32 token ids, left-padded with the tokenizer's pad id; L is a power-of-two bucket.
    mask: [P, L] int32, 1 on prompt tokens.
    row_ids: [P] int32 stable dataset row ids (fold them into PRNG keys for per-prompt randomness).
    answers: P reference answers.
    questions: P questions (for logging).
  """

  ids: np.ndarray
  mask: np.ndarray
  row_ids: np.ndarray
  answers: tuple[str, ...]
  questions: tuple[Question, ...]

  def __len__(self) -> int:
    return self.ids.shape[0]


def prompt_bucket(length: int, *, max_prompt_length: int, min_bucket: int = 16) -> int:
  """Padded length for a batch whose longest prompt has `length` tokens: the next power of two
  (at least `min_bucket`), capped at `max_prompt_length`. Few distinct shapes -> few recompiles."""
  bucket = max(min_bucket, 1 << max(length - 1, 0).bit_length())
  return min(bucket, max_prompt_length)


def token_byte_bound(tokenizer: Any) -> int:
  """Bytes one token can stand for, at most: twice the tokenizer's longest vocabulary entry in UTF-8 (a
  byte-level BPE entry spells each byte as one character of up to 2 bytes, so the entry itself already
  bounds the text; the factor 2 leaves room for Unicode normalization)."""
  return 2 * max((len(token.encode("utf-8")) for token in tokenizer.get_vocab()), default=1)


def row_limits(max_prompt_length: int, tokenizer: Any) -> tuple[int, RowLimit]:
  """(prompt bytes, row limit): a question over `prompt bytes` has more than max_prompt_length tokens
  whatever its text; a row over the limit is an oversized row (an error naming it, or skipped and
  counted under data.skip_malformed)."""
  per_token = token_byte_bound(tokenizer)
  prompt_bytes = max_prompt_length * per_token
  return prompt_bytes, RowLimit(prompt_bytes + ROW_EXTRA_BYTES, (
      f"data.max_prompt_length={max_prompt_length} tokens x {per_token} bytes, twice the tokenizer's longest "
      f"token, + {ROW_EXTRA_BYTES >> 20} MiB for the answer and other fields"))


def question_bytes(question: Question) -> int:
  """The UTF-8 size of a question's text (of every message's content for chat messages)."""
  if isinstance(question, str):
    return utf8_size(question)
  return sum(utf8_size(str(m.get("content", ""))) for m in question)


def tokenize_prompts(rows: Sequence[PromptRow], tokenizer: Any, *, template: str, max_prompt_length: int,
                     counts: LoadCounts | None = None, prompt_bytes: int | None = None) -> list[TokenizedPrompt]:
  """Templates and tokenizes `rows`; drops (and counts in `counts.too_long`) prompts over the limit.

  `prompt_bytes` (default: from `row_limits`): questions longer than this in bytes are dropped as too
  long before they are templated or tokenized.
  """
  counts = counts if counts is not None else LoadCounts()
  if prompt_bytes is None:
    prompt_bytes, _ = row_limits(max_prompt_length, tokenizer)
  fitting = []
  for row in rows:
    if question_bytes(row.question) > prompt_bytes:
      counts.too_long += 1
    else:
      fitting.append(row)
  texts = [render_prompt(template, row.question, tokenizer) for row in fitting]
  token_lists = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
  prompts = []
  for row, tokens in zip(fitting, token_lists):
    if len(tokens) > max_prompt_length:
      counts.too_long += 1
      continue
    prompts.append(TokenizedPrompt(np.asarray(tokens, np.int32), row.answer, row.row_id, row.question))
  counts.kept = len(prompts)
  return prompts


def collate_prompts(prompts: Sequence[TokenizedPrompt], *, pad_id: int, max_prompt_length: int,
                    min_bucket: int = 16) -> PromptBatch:
  """Left-pads prompts to the batch's bucket (generation appends on the right of every row)."""
  length = prompt_bucket(max(len(p.ids) for p in prompts), max_prompt_length=max_prompt_length,
                         min_bucket=min_bucket)
  ids = np.full((len(prompts), length), pad_id, np.int32)  # [P, L]
  mask = np.zeros((len(prompts), length), np.int32)  # [P, L]
  for i, prompt in enumerate(prompts):
    ids[i, length - len(prompt.ids):] = prompt.ids
    mask[i, length - len(prompt.ids):] = 1
  return PromptBatch(ids=ids, mask=mask, row_ids=np.asarray([p.row_id for p in prompts], np.int32),
                     answers=tuple(p.answer for p in prompts), questions=tuple(p.question for p in prompts))


def _pad_id(tokenizer: Any) -> int:
  pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
  if pad is None:
    raise ValueError("the tokenizer has neither a pad nor an eos token to left-pad prompts with")
  return int(pad)


class PromptIterator:
  """Iterator over `PromptBatch`es with a JSON-serializable, restorable state.

  `state()` after n batches, restored into a new iterator over the same data and config, continues with
  batch n + 1 exactly. The state also carries a fingerprint of the data and the settings that define the
  order, so restoring into a different pipeline fails loudly instead of silently replaying other data.
  """

  def __init__(self, prompts: Sequence[TokenizedPrompt], config: PromptDataConfig, *, pad_id: int,
               process_index: int = 0, process_count: int = 1, counts: LoadCounts | None = None,
               read_threads: int = 0):
    if not 0 <= process_index < process_count:
      raise ValueError(f"process_index={process_index} must be in [0, process_count={process_count})")
    if config.prompts_per_step % process_count:
      raise ValueError(f"data.prompts_per_step={config.prompts_per_step} is not divisible by "
                       f"process_count={process_count} (each host loads an equal share)")
    if not prompts:
      raise DataFileError(f"no prompts left in {', '.join(config.files)} (counts: "
                       f"{(counts or LoadCounts()).as_dict()}); check the fields and data.max_prompt_length="
                       f"{config.max_prompt_length}")
    total = len(prompts) * config.epochs if config.epochs is not None else None
    if config.drop_remainder and total is not None and total < config.prompts_per_step:
      raise DataFileError(f"{len(prompts)} prompts x data.epochs={config.epochs} do not fill one batch of "
                       f"data.prompts_per_step={config.prompts_per_step}")
    self.config = config
    self.counts = counts if counts is not None else LoadCounts(kept=len(prompts))
    self.num_prompts = len(prompts)
    self.process_count = process_count
    self._by_row = {p.row_id: p for p in prompts}
    self._collate = functools.partial(collate_prompts, pad_id=pad_id, max_prompt_length=config.max_prompt_length,
                                      min_bucket=config.min_bucket)
    self.local_batch_size = config.prompts_per_step // process_count
    self._fingerprint = {
        "num_prompts": len(prompts),
        "row_ids_sum": int(sum(p.row_id for p in prompts)),
        "shuffle": config.shuffle,
        "seed": config.seed,
        "epochs": config.epochs,
        "prompts_per_step": config.prompts_per_step,
    }
    dataset = grain.MapDataset.source(list(prompts))
    if config.shuffle:
      dataset = dataset.shuffle(seed=config.seed)
    dataset = dataset.repeat(config.epochs)  # reshuffles each epoch
    if config.drop_remainder and config.epochs is not None:
      # Cut the stream to whole global batches before sharding: otherwise, with a partial last global
      # batch, lower-index hosts could fill one more local batch than the others and the hosts would
      # disagree on the number of steps.
      dataset = dataset[:len(dataset) // config.prompts_per_step * config.prompts_per_step]
    dataset = dataset[process_index::process_count]
    dataset = dataset.batch(self.local_batch_size, drop_remainder=config.drop_remainder, batch_fn=self._collate)
    self.num_batches = len(dataset) if config.epochs is not None else sys.maxsize
    self._iterator = iter(dataset.to_iter_dataset(
        grain.ReadOptions(num_threads=read_threads, prefetch_buffer_size=max(read_threads, 0) * 2)))

  def __iter__(self) -> PromptIterator:
    return self

  def __next__(self) -> PromptBatch:
    return next(self._iterator)

  def collate_rows(self, row_ids: Sequence[int]) -> PromptBatch:
    """The batch of the prompts with these dataset row ids, in this order, padded exactly as the iterator
    pads a batch of the same prompts (the bucket depends only on the prompts in it)."""
    missing = [int(r) for r in row_ids if int(r) not in self._by_row]
    if missing:
      raise ValueError(f"row ids {missing[:8]} are not prompts of {', '.join(self.config.files)} (after "
                       f"dropping malformed and over-long rows); the hosts loaded different data")
    return self._collate([self._by_row[int(r)] for r in row_ids])

  def state(self) -> dict:
    """JSON-serializable position: restoring it continues with the next unseen batch."""
    return {"version": _STATE_VERSION, "grain": dict(self._iterator.get_state()),
            "fingerprint": dict(self._fingerprint)}

  def restore(self, state: dict) -> None:
    if not isinstance(state, dict) or state.get("version") != _STATE_VERSION or "grain" not in state:
      raise ValueError(f"not a prompt iterator state (version {_STATE_VERSION}): {state!r}")
    if state.get("fingerprint") != self._fingerprint:
      raise DataFileError(f"data iterator state was saved for different data or settings: saved "
                       f"{state.get('fingerprint')}, now {self._fingerprint}")
    self._iterator.set_state(state["grain"])


def load_prompts(config: PromptDataConfig, tokenizer: Any) -> tuple[list[TokenizedPrompt], LoadCounts]:
  """Reads, validates, templates and tokenizes the prompts of `config.files`."""
  counts = LoadCounts()
  prompt_bytes, row_limit = row_limits(config.max_prompt_length, tokenizer)
  rows = load_rows(config.files, question_field=config.question_field, answer_field=config.answer_field,
                   skip_malformed=config.skip_malformed, counts=counts, row_limit=row_limit)
  prompts = tokenize_prompts(rows, tokenizer, template=config.template,
                             max_prompt_length=config.max_prompt_length, counts=counts, prompt_bytes=prompt_bytes)
  return prompts, counts


def prompt_pipeline(config: PromptDataConfig, tokenizer: Any, *, process_index: int = 0,
                    process_count: int = 1, read_threads: int = 0) -> PromptIterator:
  """The entry point: a checkpointable iterator of this host's prompt batches.

  Pass `jax.process_index()` / `jax.process_count()` for a multi-host run; they are arguments so the
  pipeline itself never initialises a jax backend. `iterator.counts` reports malformed / dropped rows.
  """
  prompts, counts = load_prompts(config, tokenizer)
  return PromptIterator(prompts, config, pad_id=_pad_id(tokenizer), process_index=process_index,
                        process_count=process_count, counts=counts, read_threads=read_threads)
