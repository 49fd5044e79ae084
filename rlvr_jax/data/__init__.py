"""Prompt data: local JSONL / Parquet datasets through a grain pipeline, prompt templates, and the
built-in arithmetic task with its tiny tokenizer (the embedded default needs nothing downloaded)."""

from rlvr_jax.data.arithmetic import (ArithmeticTask, generate_arithmetic, question_split, solve_question,
                                      write_arithmetic_jsonl, write_builtin_splits)
from rlvr_jax.data.pipeline import (PromptBatch, PromptDataConfig, PromptIterator, TokenizedPrompt,
                                    collate_prompts, load_prompts, prompt_bucket, prompt_pipeline,
                                    tokenize_prompts)
from rlvr_jax.data.sources import LoadCounts, PromptRow, load_rows
from rlvr_jax.data.templates import QWEN_MATH_SYSTEM, TEMPLATES, render_prompt
from rlvr_jax.data.tokenizer import builtin_tokenizer

__all__ = [
    "ArithmeticTask", "LoadCounts", "PromptBatch", "PromptDataConfig", "PromptIterator", "PromptRow",
    "QWEN_MATH_SYSTEM", "TEMPLATES", "TokenizedPrompt", "builtin_tokenizer",
    "collate_prompts", "generate_arithmetic", "load_prompts", "load_rows", "prompt_bucket",
    "prompt_pipeline", "question_split", "render_prompt", "solve_question", "tokenize_prompts",
    "write_arithmetic_jsonl", "write_builtin_splits",
]
