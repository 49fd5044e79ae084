"""The built-in tokenizer: small vocabulary, lossless on ASCII, Qwen chat format, save/load round trip."""

from __future__ import annotations

from transformers import AutoTokenizer

from rlvr_jax.data import render_prompt

from rlvr_jax.embedded import builtin_tokenizer


def test_vocabulary_fits_the_tiny_model():
  """Well under the tiny preset's 512 entries, with distinct pad / eos / chat-marker ids."""
  tokenizer = builtin_tokenizer()
  assert len(tokenizer) < 256
  special = [tokenizer.convert_tokens_to_ids(t) for t in ("<|pad|>", "<|im_start|>", "<|im_end|>",
                                                           "<|endoftext|>")]
  assert len(set(special)) == 4 and max(special) < len(tokenizer)
  assert tokenizer.pad_token_id == special[0] and tokenizer.eos_token_id == special[2]


def test_round_trip_and_special_tokens_are_single_ids():
  """decode(encode(s)) == s for prompt-like ASCII text; chat markers and \\boxed{ are one token each."""
  tokenizer = builtin_tokenizer()
  text = render_prompt("qwen_math", "Compute 37+85.", tokenizer) + "So 37+85=122.\n\\boxed{122}<|im_end|>"
  ids = tokenizer(text, add_special_tokens=False)["input_ids"]
  assert tokenizer.decode(ids) == text
  tokens = tokenizer.convert_ids_to_tokens(ids)
  assert tokens[0] == "<|im_start|>" and tokens[-1] == "<|im_end|>"
  assert "\\boxed{" in tokens and "Compute" in tokens
  odd = "Zebra ~ quux {}[]|`?"  # unknown words fall back to characters
  assert tokenizer.decode(tokenizer(odd, add_special_tokens=False)["input_ids"]) == odd


def test_chat_template_matches_qwen_format():
  """apply_chat_template with a system + user message equals the explicit qwen_math prompt text."""
  tokenizer = builtin_tokenizer()
  messages = [{"role": "system",
               "content": "Please reason step by step, and put your final answer within \\boxed{}."},
              {"role": "user", "content": "Compute 1+2."}]
  rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
  assert rendered == render_prompt("qwen_math", "Compute 1+2.", tokenizer)


def test_save_and_load_with_auto_tokenizer(tmp_path):
  """save_pretrained + AutoTokenizer.from_pretrained gives the same ids, specials and template."""
  tokenizer = builtin_tokenizer()
  tokenizer.save_pretrained(tmp_path)
  loaded = AutoTokenizer.from_pretrained(tmp_path)
  text = render_prompt("qwen_math", "Compute 9*9.", tokenizer)
  encode = lambda tok: tok(text, add_special_tokens=False)["input_ids"]  # noqa: E731
  assert encode(loaded) == encode(tokenizer)
  assert (loaded.pad_token, loaded.eos_token) == ("<|pad|>", "<|im_end|>")
  assert render_prompt("chat_template", "Compute 9*9.", loaded) == (
      "<|im_start|>user\nCompute 9*9.<|im_end|>\n<|im_start|>assistant\n")


def _arithmetic_texts() -> list[str]:
  """Every text the arithmetic embedded default tokenizes: all 200 one-digit +/- problems (147 train, 53
  held-out) and two-digit ones with *, under both templates the configs use, both demonstration forms."""
  from rlvr_jax.embedded import ArithmeticTask, generate_arithmetic
  from rlvr_jax.embedded import _tasks as embedded

  rows = [row for split, count in (("train", 147), ("heldout", 53))
          for row in generate_arithmetic(embedded.TASK, split, count)]
  rows += generate_arithmetic(ArithmeticTask(max_digits=2, operations="+-*"), "train", 200)
  tokenizer = builtin_tokenizer()
  texts = []
  for row in rows:
    texts += [render_prompt(template, row["question"], tokenizer) for template in ("qwen_math", "raw")]
    texts += [embedded.worked_answer(row["answer"], boxed=boxed) for boxed in (True, False)]
  return texts + ["So 37+85=122.\n\\boxed{122}<|im_end|>", "Answer: 5"]


def test_code_words_leave_arithmetic_tokenization_unchanged():
  """The code words are appended after every id the arithmetic task used, and never match inside its
  text: arithmetic ids are those of the tokenizer its embedded default was tuned with."""
  from rlvr_jax.embedded._tokenizer import ARITHMETIC_WORDS, CODE_WORDS, _tokenizer

  arithmetic, tokenizer = _tokenizer(ARITHMETIC_WORDS), builtin_tokenizer()
  assert len(arithmetic) == 124 and len(tokenizer) == 124 + len(CODE_WORDS)
  vocab = tokenizer.get_vocab()
  assert {t: i for t, i in vocab.items() if i < len(arithmetic)} == arithmetic.get_vocab()
  assert sorted(vocab[w] for w in CODE_WORDS) == list(range(len(arithmetic), len(tokenizer)))
  texts = _arithmetic_texts()
  encode = lambda tok: [tok(t, add_special_tokens=False)["input_ids"] for t in texts]  # noqa: E731
  assert encode(tokenizer) == encode(arithmetic)


def test_code_task_prompts_and_programs_are_short():
  """A built-in code prompt and its fenced program are ~15 tokens each (what keeps code RL on a CPU
  as fast as arithmetic), and both round-trip exactly."""
  from rlvr_jax.embedded._code_task import generate_code_task
  from rlvr_jax.embedded import _tasks as embedded

  tokenizer = builtin_tokenizer()
  for row in generate_code_task(embedded.CODE_TASK, "train", 40):
    for text, limit in ((row["question"], 16), (embedded.worked_program(row["question"]), 16),
                        (embedded.worked_program(row["question"], fenced=False, constant_offset=1), 15)):
      ids = tokenizer(text, add_special_tokens=False)["input_ids"]
      assert len(ids) <= limit and tokenizer.decode(ids) == text, text
