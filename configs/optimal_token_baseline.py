"""verl's optimal token baseline (verl-project/verl 018f23b5 compute_optimal_token_baseline_advantage).

A per-position baseline weighted by path variance, W_t = cumsum(1 - 2 pi_t + sum_v pi(v)^2); the
rollout's old-log-prob pass also returns sum_v pi(v)^2 (same vocabulary pass), and the advantages are
computed after it.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/optimal_token_baseline.py
No published recipe is registered here yet (RECIPES is empty): with a real checkpoint, give the model and
data and set the scale on the command line, e.g.
    python launch/tpu_pod.py --config configs/optimal_token_baseline.py --config.model.path=/path/to/Qwen2.5-Math-7B \
        --config.model.dtype=bfloat16 --config.data.train_files=/path/to/train.parquet \
        --config.rollout.prompts_per_step=512 --config.rollout.max_new_tokens=3072 --config.optim.lr=1e-6
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "optimal_token_baseline"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}
RECIPES: dict[str, Recipe] = {}  # the embedded default only


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
