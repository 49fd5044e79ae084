"""The prompt pipeline: padding and buckets, over-long drops, shuffling over epochs, host sharding and
iterator-state round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rlvr_jax.data import PromptDataConfig, prompt_bucket, prompt_pipeline

from rlvr_jax.embedded import builtin_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
  return builtin_tokenizer()


@pytest.fixture
def data_file(tmp_path):
  """10 rows; question i is 'Compute i+' followed by i ones, so lengths differ."""
  path = tmp_path / "d.jsonl"
  path.write_text("".join(json.dumps({"question": f"Compute {i}+{'1' * i}.", "answer": str(i)}) + "\n"
                          for i in range(10)))
  return str(path)


def _config(path, **kw):
  kw.setdefault("template", "raw")
  kw.setdefault("prompts_per_step", 4)
  return PromptDataConfig(files=(path,), **kw)


def _answers(batches):
  return [a for b in batches for a in b.answers]


@pytest.mark.parametrize("length, max_len, expected", [(1, 512, 16), (16, 512, 16), (17, 512, 32),
                                                       (300, 512, 512), (300, 400, 400), (5, 8, 8)])
def test_prompt_bucket(length, max_len, expected):
  """Next power of two >= length, at least min_bucket=16, capped at max_prompt_length."""
  assert prompt_bucket(length, max_prompt_length=max_len, min_bucket=16) == expected


def test_batch_is_left_padded(data_file, tokenizer):
  """ids end with each prompt's tokens, pads on the left, mask marks the prompt, row ids match answers."""
  it = prompt_pipeline(_config(data_file, shuffle=False), tokenizer)
  batch = next(it)
  assert batch.ids.dtype == np.int32 and batch.mask.dtype == np.int32 and batch.ids.shape == (4, 16)
  for row in range(4):
    text = f"Compute {row}+{'1' * row}."
    tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert batch.ids[row, 16 - len(tokens):].tolist() == tokens
    assert set(batch.ids[row, :16 - len(tokens)].tolist()) <= {tokenizer.pad_token_id}
    assert batch.mask[row].tolist() == [0] * (16 - len(tokens)) + [1] * len(tokens)
  assert batch.row_ids.tolist() == [0, 1, 2, 3] and batch.answers == ("0", "1", "2", "3")


def test_over_long_prompts_dropped_and_counted(data_file, tokenizer):
  """Prompts longer than max_prompt_length are dropped and counted; buckets never exceed the cap."""
  # 'Compute i+' + i ones + '.' tokenizes to 1 + 1 + 1 + 1 + i + 1 = i + 5 tokens.
  it = prompt_pipeline(_config(data_file, max_prompt_length=10, shuffle=False, prompts_per_step=5), tokenizer)
  assert (it.counts.records, it.counts.too_long, it.counts.kept) == (10, 4, 6)
  batch = next(it)
  assert batch.ids.shape == (5, 10) and batch.answers == ("0", "1", "2", "3", "4")


def test_epochs_reshuffle_and_cover_all(data_file, tokenizer):
  """Each epoch is a permutation of the rows; epochs are ordered differently; the seed fixes the order."""
  it = prompt_pipeline(_config(data_file, epochs=2, prompts_per_step=5, seed=7), tokenizer)
  assert it.num_batches == 4
  answers = _answers(list(it))
  first, second = answers[:10], answers[10:]
  assert sorted(first, key=int) == sorted(second, key=int) == [str(i) for i in range(10)]
  assert first != second and first != [str(i) for i in range(10)]
  again = _answers(prompt_pipeline(_config(data_file, epochs=2, prompts_per_step=5, seed=7), tokenizer))
  other = _answers(prompt_pipeline(_config(data_file, epochs=2, prompts_per_step=5, seed=8), tokenizer))
  assert again == answers and other != answers


@pytest.mark.parametrize("consumed", [1, 3, 4])  # mid-epoch, across the epoch boundary, exact boundary
def test_state_round_trip(data_file, tokenizer, consumed):
  """A state saved after n batches (through JSON) restores into a new iterator that continues exactly."""
  config = _config(data_file, epochs=3, prompts_per_step=3, seed=1)
  reference = list(prompt_pipeline(config, tokenizer))
  it = prompt_pipeline(config, tokenizer)
  for _ in range(consumed):
    next(it)
  state = json.loads(json.dumps(it.state()))
  resumed = prompt_pipeline(config, tokenizer)
  resumed.restore(state)
  rest = list(resumed)
  assert len(rest) == len(reference) - consumed
  for got, want in zip(rest, reference[consumed:]):
    np.testing.assert_array_equal(got.ids, want.ids)
    assert got.answers == want.answers and got.row_ids.tolist() == want.row_ids.tolist()


def test_restore_rejects_other_data(data_file, tokenizer):
  """A state from a different seed (or a non-state) raises instead of replaying other data."""
  state = prompt_pipeline(_config(data_file, seed=1), tokenizer).state()
  with pytest.raises(ValueError, match="different data or settings"):
    prompt_pipeline(_config(data_file, seed=2), tokenizer).restore(state)
  with pytest.raises(ValueError, match="not a prompt iterator state"):
    prompt_pipeline(_config(data_file), tokenizer).restore({"next_index": 3})


def test_two_hosts_split_each_global_batch(data_file, tokenizer):
  """Simulated 2 hosts: each gets half of every global batch, disjoint, together the 1-host batch;
  their states are identical, and a 1-host state restores on 2 hosts at the same global step."""
  config = _config(data_file, epochs=2, prompts_per_step=4, seed=3)
  single = list(prompt_pipeline(config, tokenizer))
  hosts = [prompt_pipeline(config, tokenizer, process_index=h, process_count=2) for h in range(2)]
  for step, global_batch in enumerate(single):
    parts = [next(h) for h in hosts]
    assert all(len(p) == 2 for p in parts)
    ids = set(parts[0].row_ids.tolist()) | set(parts[1].row_ids.tolist())
    assert not set(parts[0].row_ids.tolist()) & set(parts[1].row_ids.tolist())
    assert ids == set(global_batch.row_ids.tolist()), step
  assert hosts[0].state() == hosts[1].state()
  one = prompt_pipeline(config, tokenizer)
  next(one)
  host1 = prompt_pipeline(config, tokenizer, process_index=1, process_count=2)
  host1.restore(one.state())
  assert set(next(host1).row_ids.tolist()) < set(single[1].row_ids.tolist())


def test_hosts_agree_on_step_count_with_a_partial_last_batch(tmp_path, tokenizer):
  """11 rows, 4 prompts a step, 2 hosts: the partial third global batch is dropped on both hosts (host 0
  alone could otherwise fill one more local batch and desynchronise the hosts)."""
  path = tmp_path / "odd.jsonl"
  path.write_text("".join(json.dumps({"question": f"Compute {i}+1.", "answer": str(i + 1)}) + "\n"
                          for i in range(11)))
  config = _config(str(path), prompts_per_step=4, seed=5)
  single = list(prompt_pipeline(config, tokenizer))
  hosts = [list(prompt_pipeline(config, tokenizer, process_index=h, process_count=2)) for h in range(2)]
  assert len(single) == len(hosts[0]) == len(hosts[1]) == 2
  for step in range(2):
    assert sorted(hosts[0][step].row_ids.tolist() + hosts[1][step].row_ids.tolist()) == sorted(
        single[step].row_ids.tolist())


def test_evaluation_mode_keeps_every_row(data_file, tokenizer):
  """shuffle=False, one epoch, drop_remainder=False: all rows once in file order, last batch partial."""
  it = prompt_pipeline(_config(data_file, shuffle=False, drop_remainder=False, prompts_per_step=4), tokenizer)
  batches = list(it)
  assert [len(b) for b in batches] == [4, 4, 2]
  assert _answers(batches) == [str(i) for i in range(10)]


def test_qwen_math_template_in_batch(data_file, tokenizer):
  """The default template wraps the question in the Qwen2.5-Math chat prompt."""
  batch = next(prompt_pipeline(_config(data_file, template="qwen_math", shuffle=False), tokenizer))
  text = tokenizer.decode(batch.ids[1][batch.mask[1] == 1])
  assert text.startswith("<|im_start|>system\nPlease reason") and text.endswith(
      "Compute 1+1.<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.parametrize("kwargs, message", [
    (dict(template="alpaca"), "data.template='alpaca'"),
    (dict(max_prompt_length=0), "data.max_prompt_length=0"),
    (dict(prompts_per_step=0), "data.prompts_per_step=0"),
    (dict(epochs=0), "data.epochs=0"),
])
def test_bad_config(data_file, kwargs, message):
  """Invalid settings raise ValueError naming the field and value before any data is read."""
  with pytest.raises(ValueError, match=message):
    _config(data_file, **kwargs)


def test_bad_sharding_and_too_little_data(data_file, tokenizer):
  """Uneven host split, out-of-range host index, no full batch, or all prompts dropped raise."""
  with pytest.raises(ValueError, match="not divisible by process_count=3"):
    prompt_pipeline(_config(data_file), tokenizer, process_index=0, process_count=3)
  with pytest.raises(ValueError, match="process_index=2"):
    prompt_pipeline(_config(data_file), tokenizer, process_index=2, process_count=2)
  with pytest.raises(ValueError, match="do not fill one batch"):
    prompt_pipeline(_config(data_file, prompts_per_step=16), tokenizer)
  with pytest.raises(ValueError, match="no prompts left"):
    prompt_pipeline(_config(data_file, max_prompt_length=2), tokenizer)


def test_forever_when_epochs_is_none(data_file, tokenizer):
  """epochs=None keeps producing batches past the end of the data."""
  it = prompt_pipeline(_config(data_file, epochs=None, prompts_per_step=4), tokenizer)
  answers = _answers(next(it) for _ in range(8))
  assert len(answers) == 32 and set(answers) == {str(i) for i in range(10)}
