"""GRPO on code (verl defaults: std-normalized group advantage, PPO clip 0.2/0.2, token-mean), the
baseline of configs/steer_code.py: programs graded by running the row's tests in a sandbox
(`code_exec`, docs/security.md), prompts in the `qwen_code` template.

Launch (embedded default: tiny policy warm-started on the built-in code task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/grpo_code.py
A real checkpoint on a real code set (rows {"question", "answer": test spec}, e.g. written by
rlvr_jax.data.code_benchmarks.write_code_benchmark_jsonl), with code benchmarks evaluated during training:
    python launch/tpu_pod.py --config configs/grpo_code.py:model=qwen3-8b \
        --config.model.path=/path/to/Qwen3-8B --config.data.train_files=/path/to/code_train.jsonl \
        --config.data.eval_files=/path/to/code_heldout.jsonl \
        --config.eval.benchmarks=humaneval=/path/to/HumanEvalPlus.jsonl,livecodebench=/path/to/lcb.jsonl
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.reward.timeout_s=20.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "grpo"
# The method's own settings, at every scale.
OWN = {"data": {"builtin_task": "code"}, "reward": {"name": "code_exec"}}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}
# Published recipes by model variant (`:model=...`): the official script's fields with their sources.
RECIPES = {
    "qwen2.5-math-7b": Recipe(
        paper="interim", code="interim", dataset="interim", fields={
            "data.max_prompt_length": (2048, "interim: value before issue #12"),
            "data.epochs": (10, "interim: value before issue #12"),
            "data.template": ('qwen_code', "interim: value before issue #12"),
            "rollout.prompts_per_step": (512, "interim: value before issue #12"),
            "rollout.num_samples": (8, "interim: value before issue #12"),
            "rollout.max_new_tokens": (3072, "interim: value before issue #12"),
            "reward.incorrect": (-1.0, "interim: value before issue #12"),
            "reward.workers": (32, "interim: value before issue #12"),
            "train.mini_batches": (16, "interim: value before issue #12"),
            "train.micro_batches": (4, "interim: value before issue #12"),
            "optim.lr": (1e-06, "interim: value before issue #12"),
            "eval.max_new_tokens": (3072, "interim: value before issue #12")
        }),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
