"""Prompt templates: exact Qwen2.5-Math text, raw, tokenizer chat template, chat-message questions."""

from __future__ import annotations

import pytest

from rlvr_jax.data import TEMPLATES, render_prompt

from rlvr_jax.embedded import builtin_tokenizer


def test_qwen_math_exact_text():
  """The Qwen2.5-Math prompt, character for character."""
  expected = ("<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}."
              "<|im_end|>\n<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n")
  assert render_prompt("qwen_math", "What is 1+1?", None) == expected


def test_raw_and_messages():
  """raw returns the question unchanged; a chat-message question uses its last user message."""
  assert render_prompt("raw", "Q: 2+2=", None) == "Q: 2+2="
  messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}]
  assert render_prompt("raw", messages, None) == "2+2?"
  assert "<|im_start|>user\n2+2?<|im_end|>" in render_prompt("qwen_math", messages, None)


def test_chat_template_keeps_all_messages():
  """chat_template renders every message through the tokenizer's template and opens the assistant turn."""
  messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
  assert render_prompt("chat_template", messages, builtin_tokenizer()) == (
      "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n")


def test_chat_template_without_template_raises():
  """A tokenizer without a chat template gives a clear error naming the setting."""
  tokenizer = builtin_tokenizer()
  tokenizer.chat_template = None
  with pytest.raises(ValueError, match="data.template='chat_template'"):
    render_prompt("chat_template", "x", tokenizer)


def test_unknown_template():
  """An unknown name raises, naming the field and listing the registered templates."""
  assert {"qwen_math", "raw", "chat_template"} <= set(TEMPLATES.names())
  with pytest.raises(ValueError, match="data.template='alpaca'.*qwen_math"):
    render_prompt("alpaca", "x", None)
