"""The embedded default: a tiny Qwen policy, its built-in tokenizer, the built-in verifiable tasks and
their supervised warm start, so `launch/tpu_pod.py` runs end to end with nothing downloaded.

Public API:
  BUILTIN_TASKS, BuiltinTask, data_files     the built-in tasks (`data.builtin_task`) and their JSONL splits
  EmbeddedPolicy, ensure_policy              the warm-started tiny policy as a cached HF directory
  default_cache_dir                          where it is cached (RLVR_JAX_CACHE, else ~/.cache/rlvr_jax)
  builtin_tokenizer                          the local tokenizer (Qwen chat format)
  ArithmeticTask, generate_arithmetic, ...   the arithmetic generator; CodeTask, generate_code_task, ...
"""

from rlvr_jax.embedded._arithmetic import (ArithmeticTask, generate_arithmetic, question_split, solve_question,
                                          write_arithmetic_jsonl, write_builtin_splits)
from rlvr_jax.embedded._code_task import (CodeTask, generate_code_task, reference_solution, write_code_task_jsonl,
                                         write_code_task_splits)
from rlvr_jax.embedded._policy import EmbeddedPolicy, ensure_policy
from rlvr_jax.embedded._tasks import BUILTIN_TASKS, BuiltinTask, data_files
from rlvr_jax.embedded._tokenizer import builtin_tokenizer
from rlvr_jax.embedded._warm_start import default_cache_dir

__all__ = [
    "ArithmeticTask", "BUILTIN_TASKS", "BuiltinTask", "CodeTask", "EmbeddedPolicy", "builtin_tokenizer",
    "data_files", "default_cache_dir", "ensure_policy", "generate_arithmetic", "generate_code_task",
    "question_split", "reference_solution", "solve_question", "write_arithmetic_jsonl", "write_builtin_splits",
    "write_code_task_jsonl", "write_code_task_splits",
]
