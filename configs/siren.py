"""SIREN: selective, self-anchored entropy regularization (Jiang et al., arXiv 2509.25133).

Official exp_scripts/siren.sh: top-p (0.8) nucleus entropy, per-response peak mask (0.8 quantile),
beta (Hbar - H_anchor)^2 with beta 0.005 and the anchor taken from the first batch; Dr.GRPO advantages,
seq-mean-token-sum-norm over 3072 tokens, effective clip 0.2 / 0.2, c = 3, no log-ratio clamp.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/siren.py
A real checkpoint at the published scale (every host of a pod runs the same command):
    python launch/tpu_pod.py --config configs/siren.py:model=qwen2.5-math-7b \
        --config.model.path=/path/to/Qwen2.5-Math-7B --config.data.train_files=/path/to/train.parquet
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "siren"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}
# Published recipes by model variant (`:model=...`): the official script's fields with their sources.
RECIPES = {
    "qwen2.5-math-7b": Recipe(
        paper="interim", code="interim", dataset="interim", fields={
            "data.max_prompt_length": (1024, "interim: value before issue #12"),
            "data.epochs": (2, "interim: value before issue #12"),
            "rollout.prompts_per_step": (128, "interim: value before issue #12"),
            "rollout.num_samples": (8, "interim: value before issue #12"),
            "rollout.max_new_tokens": (3072, "interim: value before issue #12"),
            "reward.name": ('math_verify', "interim: value before issue #12"),
            "objective.norm_constant": (3072.0, "interim: value before issue #12"),
            "train.mini_batches": (16, "interim: value before issue #12"),
            "train.micro_batches": (2, "interim: value before issue #12"),
            "optim.lr": (1e-06, "interim: value before issue #12"),
            "optim.warmup_steps": (5, "interim: value before issue #12"),
            "optim.weight_decay": (0.1, "interim: value before issue #12"),
            "eval.temperature": (0.6, "interim: value before issue #12"),
            "eval.num_samples": (16, "interim: value before issue #12")
        }),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
