"""Prompt data: local JSONL / Parquet datasets through a grain pipeline, prompt templates, and the text
codec (tokenizer + stop tokens) of a run. The built-in tasks of the embedded default live in
`rlvr_jax.embedded`."""

from rlvr_jax.data._pipeline import (PromptBatch, PromptDataConfig, PromptIterator, TokenizedPrompt,
                                    collate_prompts, load_prompts, prompt_bucket, prompt_pipeline,
                                    tokenize_prompts)
from rlvr_jax.data._code_benchmarks import humaneval_rows, write_code_benchmark_jsonl
from rlvr_jax.data._record_readers import DataFileError
from rlvr_jax.data._sources import LoadCounts, PromptRow, load_rows
from rlvr_jax.data._templates import QWEN_MATH_SYSTEM, TEMPLATES, render_prompt
from rlvr_jax.data._text_codec import TextCodec, load_tokenizer, save_tokenizer

__all__ = [
    "DataFileError", "humaneval_rows", "write_code_benchmark_jsonl",
    "LoadCounts", "PromptBatch", "PromptDataConfig", "PromptIterator", "PromptRow", "QWEN_MATH_SYSTEM",
    "TEMPLATES", "TextCodec", "TokenizedPrompt", "collate_prompts", "load_prompts", "load_rows",
    "load_tokenizer", "prompt_bucket", "prompt_pipeline", "render_prompt", "save_tokenizer",
    "tokenize_prompts",
]
