"""A tiny, fully local tokenizer for the built-in arithmetic task and the embedded tiny model.

The embedded default must run with nothing downloaded, and the tiny model preset has a 512-token vocab,
so the tokenizer is built in code: the special tokens of the Qwen chat format, a handful of whole words
the prompts use, the `\\boxed{` opener, and every printable ASCII character as a fallback, so any ASCII
text round-trips exactly (decode(encode(s)) == s). It is wrapped in `PreTrainedTokenizerFast` with a
Qwen-style chat template, so it is interchangeable with a real Qwen tokenizer everywhere (templates,
`save_pretrained` / `AutoTokenizer.from_pretrained`).
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
WORDS = (
    "system", "user", "assistant", "Please", "reason", "step", "by", "and", "put", "your", "final",
    "answer", "within", "Compute", "The", "is", "So", "Answer", "\\boxed{",
)

# Qwen2.5 chat format without the default system message (prompts bring their own).
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)


def _vocabulary() -> dict[str, int]:
  pieces = list(SPECIAL_TOKENS) + list(WORDS) + list(string.printable)
  vocab: dict[str, int] = {}
  for piece in pieces:
    vocab.setdefault(piece, len(vocab))
  return vocab


def builtin_tokenizer() -> PreTrainedTokenizerFast:
  """The built-in tokenizer (a fresh object; cheap to build). Vocabulary size: `len(tokenizer)`."""
  vocab = _vocabulary()
  # Longest words first so "answer" is not split as "an" + ...; then any single character.
  words = sorted(WORDS, key=len, reverse=True)
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
