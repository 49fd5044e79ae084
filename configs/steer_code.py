"""STEER on code: programs graded by running the row's tests in a sandbox (`code_exec`, docs/security.md).

The objective is configs/steer.py's (exponential weight mapping, w_min 0.8, clip 0.2 / 0.28, c = 10);
only the task changes: prompts ask for a ```python block, the reward is all-tests-pass, and the prompt
template is `qwen_code` (a `\\boxed{}` system message would contradict the task). There is no
published STEER code run, so the published scale is the math one's, with room for long problem
statements and more sandbox workers per host.

Launch (embedded default: tiny policy warm-started on the built-in code task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/steer_code.py
A real checkpoint on a real code set (rows {"question", "answer": test spec}, e.g. written by
rlvr_jax.data.code_benchmarks.write_code_benchmark_jsonl), with code benchmarks evaluated during training:
    python launch/tpu_pod.py --config configs/steer_code.py:model=qwen3-8b \
        --config.model.path=/path/to/Qwen3-8B --config.data.train_files=/path/to/code_train.jsonl \
        --config.data.eval_files=/path/to/code_heldout.jsonl \
        --config.eval.benchmarks=humaneval=/path/to/HumanEvalPlus.jsonl,mbpp=/path/to/MbppPlus.jsonl
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.reward.sandbox.memory_mb=2048.
"""

from rlvr_jax.config import method_config
from rlvr_jax.train.embedded import CODE_PROFILE

CODE = {
    "data": {"builtin_task": "code", "template": "qwen_code"},
    "reward": {"name": "code_exec"},
    "train": {"run_dir": "runs/steer_code"},  # not runs/<method>: the math run of the same method lives there
}

PAPER_SCALE = {
    "data": {"max_prompt_length": 2048, "epochs": 10},
    "rollout": {"prompts_per_step": 512, "num_samples": 8, "max_new_tokens": 3072},
    "reward": {"incorrect": -1.0, "workers": 32},
    "train": {"mini_batches": 16, "micro_batches": 4},
    "optim": {"lr": 1e-6},
    "eval": {"max_new_tokens": 3072},
}


def get_config(arg: str | None = None):
  config = method_config("steer", arg, paper_scale=PAPER_SCALE, overrides=CODE)
  if config.model.preset == "tiny":  # the embedded profile (arithmetic's) applied: adapt it to code
    config.update(CODE_PROFILE)
  return config
