"""A tiny, fully local tokenizer for the built-in tasks (arithmetic, code) and the embedded tiny model.

The embedded default must run with nothing downloaded, and the tiny model preset has a 512-token vocab,
so the tokenizer is built in code: the special tokens of the Qwen chat format, a handful of whole words
the prompts use, the `\\boxed{` opener, every printable ASCII character as a fallback, so any ASCII
text round-trips exactly (decode(encode(s)) == s), then the words of the built-in code task. It is
wrapped in `PreTrainedTokenizerFast` with a Qwen-style chat template, so it is interchangeable with a
real Qwen tokenizer everywhere (templates, `save_pretrained` / `AutoTokenizer.from_pretrained`).
"""

from __future__ import annotations

import re
import string

import tokenizers
from tokenizers import decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

PAD = "<|pad|>"
END_OF_TEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
UNKNOWN = "<|unk|>"
SPECIAL_TOKENS = (PAD, END_OF_TEXT, IM_START, IM_END, UNKNOWN)

# Whole-word tokens: the chat roles, the qwen_math system prompt, the arithmetic question and a typical
# answer sentence. Everything else falls back to single characters.
ARITHMETIC_WORDS = (
    "system", "user", "assistant", "Please", "reason", "step", "by", "and", "put", "your", "final",
    "answer", "within", "Compute", "The", "is", "So", "Answer", "\\boxed{",
)
# The built-in code task's fixed phrases (rlvr_jax.data.code_task), merged as a BPE tokenizer would merge
# frequent strings: a prompt is ~15 tokens and a program ~13, so the warm start and every rollout cost
# about what arithmetic's do on a CPU, and the program's choices (fence or not, name, operator, constant)
# are one or two tokens each. They come after the character fallback, so every id the arithmetic task
# had is unchanged, and none of them matches where arithmetic text had a single character
# (tests/data/test_builtin_tokenizer.py), so arithmetic text tokenizes exactly as before.
CODE_WORDS = (
    "Write a Python function `", "` that returns ", "the string ", " plus ", " minus ", " multiplied by ",
    " repeated ", " times.", "\n\nPut your solution in a ```python code block.", "add", "minus", "times",
    "repeat", "```python\n", "def ", "):\n  return ", " + ", " - ", " * ", "\n```",
)
WORDS = ARITHMETIC_WORDS + CODE_WORDS

# Qwen2.5 chat format without the default system message (prompts bring their own).
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)


def _vocabulary(words: tuple[str, ...]) -> dict[str, int]:
  pieces = list(SPECIAL_TOKENS) + list(ARITHMETIC_WORDS) + list(string.printable)
  pieces += [w for w in words if w not in ARITHMETIC_WORDS]
  vocab: dict[str, int] = {}
  for piece in pieces:
    vocab.setdefault(piece, len(vocab))
  return vocab


def builtin_tokenizer() -> PreTrainedTokenizerFast:
  """The built-in tokenizer (a fresh object; cheap to build). Vocabulary size: `len(tokenizer)`."""
  return _tokenizer(WORDS)


def _tokenizer(words: tuple[str, ...]) -> PreTrainedTokenizerFast:
  """The tokenizer with these whole words; `_tokenizer(ARITHMETIC_WORDS)` is the one the arithmetic task
  was tuned with, which tests compare against."""
  if not set(ARITHMETIC_WORDS) <= set(words):
    raise ValueError(f"words={words!r} must include every ARITHMETIC_WORDS entry")
  vocab = _vocabulary(words)
  # Longest words first so "answer" is not split as "an" + ...; then any single character.
  words = sorted(words, key=len, reverse=True)
  pattern = "|".join(re.escape(w) for w in words) + r"|[\s\S]"
  backend = tokenizers.Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNKNOWN))
  backend.pre_tokenizer = pre_tokenizers.Split(tokenizers.Regex(pattern), behavior="isolated")
  backend.decoder = decoders.Fuse()  # concatenate pieces; whitespace is carried by its own tokens
  backend.add_special_tokens(list(SPECIAL_TOKENS))
  return PreTrainedTokenizerFast(
      tokenizer_object=backend,
      pad_token=PAD,
      eos_token=IM_END,
      unk_token=UNKNOWN,
      additional_special_tokens=[END_OF_TEXT, IM_START],
      chat_template=CHAT_TEMPLATE,
      padding_side="left",
      clean_up_tokenization_spaces=False,
  )
