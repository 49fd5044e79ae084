"""Prompt buckets (left padding to a few lengths) and the string-level `generate_text` helper with a
locally built tokenizer."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax import models
from rlvr_jax.embedded import builtin_tokenizer
from rlvr_jax.sampling import bucket_length, generate_text, pad_to_bucket
from rlvr_jax.sampling._text import default_stop_token_ids


@pytest.mark.parametrize("length,kwargs,expected", [
    (1, {}, 16), (16, {}, 16), (17, {}, 32), (100, {}, 128), (129, {"min_bucket": 4}, 256),
    (3, {"min_bucket": 4}, 4), (65, {"multiple": 64}, 128), (64, {"multiple": 64}, 64),
    (300, {"max_length": 320}, 320),
])
def test_bucket_length(length, kwargs, expected):
  """Next power of two (at least min_bucket) or next multiple, capped at max_length."""
  assert bucket_length(length, **kwargs) == expected


def test_bucket_length_rejects_bad_lengths():
  """Empty prompts and prompts over max_length raise ValueError naming the problem."""
  with pytest.raises(ValueError, match="at least one token"):
    bucket_length(0)
  with pytest.raises(ValueError, match="max_length=8"):
    bucket_length(9, max_length=8)


def test_pad_to_bucket_left_pads():
  """Rows are right-aligned at the bucket width, the mask marks real tokens, pads carry pad_id."""
  ids, mask = pad_to_bucket([[5, 6, 7], [9]], pad_id=2, min_bucket=4)
  assert ids.tolist() == [[2, 5, 6, 7], [2, 2, 2, 9]]
  assert mask.tolist() == [[0, 1, 1, 1], [0, 0, 0, 1]]
  assert ids.dtype == np.int32 and mask.dtype == np.int32
  with pytest.raises(ValueError, match=r"prompts\[1\] is empty"):
    pad_to_bucket([[1], []])


@pytest.fixture(scope="module")
def tokenizer_and_model():
  tokenizer = builtin_tokenizer()
  config = dataclasses.replace(models.preset("tiny"), vocab_size=len(tokenizer), hidden_size=64,
                               intermediate_size=144, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=16)
  return tokenizer, models.init(config, key=jax.random.key(0), dtype=jnp.float32)


def test_generate_text_with_chat_template(tokenizer_and_model):
  """Prompts go through the chat template (ending with the assistant header), are left-padded to a
  bucket, and each completion string is the decode of exactly the unmasked tokens of its row."""
  tokenizer, model = tokenizer_and_model
  prompts = ["Compute 2+3.", "Compute 12*7 and put your final answer within \\boxed{}."]
  result = generate_text(model, tokenizer, prompts, chat_template=True, key=jax.random.key(0), max_new_tokens=6,
                         num_samples=2, temperature=1.0)
  header = tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
  assert result.prompt_ids.shape[1] == 32
  for row, prompt in enumerate(prompts):
    real = result.prompt_ids[row][result.prompt_mask[row] == 1].tolist()
    assert real[-len(header):] == header
    assert prompt in tokenizer.decode(real)
  tokens, mask = np.asarray(result.output.tokens), np.asarray(result.output.response_mask)
  assert len(result.completions) == 2 and all(len(c) == 2 for c in result.completions)
  for p in range(2):
    for j in range(2):
      row = p * 2 + j
      assert result.completions[p][j] == tokenizer.decode(tokens[row][mask[row]].tolist(), skip_special_tokens=True)


def test_default_stop_tokens_include_im_end(tokenizer_and_model):
  """The default stop ids are the tokenizer's EOS plus <|im_end|> / <|endoftext|> (deduplicated)."""
  tokenizer, _ = tokenizer_and_model
  vocab = tokenizer.get_vocab()
  assert default_stop_token_ids(tokenizer) == (vocab["<|im_end|>"], vocab["<|endoftext|>"])


def test_generate_text_rejects_a_bare_string(tokenizer_and_model):
  """A single string (not a list) is an error, not a batch of characters."""
  tokenizer, model = tokenizer_and_model
  with pytest.raises(ValueError, match="list of strings"):
    generate_text(model, tokenizer, "Compute 1+1.", chat_template=False, key=jax.random.key(0), max_new_tokens=2)
