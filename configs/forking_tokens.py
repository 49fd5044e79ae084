"""80/20 forking tokens (Wang et al., arXiv 2506.01939): the policy gradient only on the top-20%
highest-entropy tokens, with DAPO clip-higher and dynamic sampling.

Official recipe run_only_top20_high_entropy_tokens_dapo_qwen3_14b.sh (n 16, lr 1e-6).

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/forking_tokens.py
A real checkpoint at the published scale (every host of a pod runs the same command):
    python launch/tpu_pod.py --config configs/forking_tokens.py:model=qwen3-8b \
        --config.model.path=/path/to/Qwen3-8B --config.data.train_files=/path/to/train.parquet
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "fork_tokens"
# The method's own settings, at every scale.
OWN = {"train": {"dynamic_sampling": True}}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {"train": {"max_gen_batches": 3, "gen_cap": "pad"}}
# Published recipes by model variant (`:model=...`): the official script's fields with their sources.
RECIPES = {
    "qwen2.5-math-7b": Recipe(
        paper="interim", code="interim", dataset="interim", fields={
            "data.max_prompt_length": (1024, "interim: value before issue #12"),
            "data.epochs": (10, "interim: value before issue #12"),
            "rollout.prompts_per_step": (512, "interim: value before issue #12"),
            "rollout.num_samples": (16, "interim: value before issue #12"),
            "rollout.max_new_tokens": (8192, "interim: value before issue #12"),
            "reward.name": ('math_verify', "interim: value before issue #12"),
            "reward.incorrect": (-1.0, "interim: value before issue #12"),
            "train.mini_batches": (16, "interim: value before issue #12"),
            "train.micro_batches": (16, "interim: value before issue #12"),
            "train.overlong_buffer": (1024, "interim: value before issue #12"),
            "optim.lr": (1e-06, "interim: value before issue #12")
        }),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
