"""CISPO (MiniMax-M1, arXiv 2506.13585): a clipped, stop-gradient importance weight on every token.

Every token keeps its gradient (-sg(clip(r)) A log p); objective.cispo.eps_high = 0.2 and a
low_var_kl loss of 0.001, as verl's examples/cispo_trainer/run_qwen3_8b_fsdp.sh; GRPO advantages.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/cispo.py
No published recipe is registered here yet (RECIPES is empty): with a real checkpoint, give the model and
data and set the scale on the command line, e.g.
    python launch/tpu_pod.py --config configs/cispo.py --config.model.path=/path/to/Qwen2.5-Math-7B \
        --config.model.dtype=bfloat16 --config.data.train_files=/path/to/train.parquet \
        --config.rollout.prompts_per_step=512 --config.rollout.max_new_tokens=3072 --config.optim.lr=1e-6
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "cispo"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}
RECIPES: dict[str, Recipe] = {}  # the embedded default only


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
