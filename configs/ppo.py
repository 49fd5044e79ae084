"""PPO with a critic (verl examples/ppo_trainer): GAE advantages from a learned value model.

The value model is the policy's backbone (or critic.path) with a scalar head; it is trained with the
clipped value loss on the GAE returns (critic.cliprange_value 0.5, gamma = lam = 1 as verl's defaults),
with its own optimizer (critic.lr, critic.warmup_steps, critic.weight_decay, critic.grad_clip), and
alone for the first critic.critic_warmup rollout steps. Logged: critic/value_loss,
critic/explained_variance, critic/vf_clipfrac, critic/values_mean, critic/lr. KL in the reward
(kl_in_reward.enabled, verl algorithm.use_kl_in_reward) is off by default, as in verl.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/ppo.py
No published recipe is registered here yet (RECIPES is empty): with a real checkpoint, give the model and
data and set the scale on the command line, e.g.
    python launch/tpu_pod.py --config configs/ppo.py --config.model.path=/path/to/Qwen2.5-Math-7B \
        --config.model.dtype=bfloat16 --config.data.train_files=/path/to/train.parquet \
        --config.rollout.prompts_per_step=512 --config.rollout.max_new_tokens=3072 --config.optim.lr=1e-6
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "ppo"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE. The critic's lr
# is 10x the actor's (1e-4 here), verl's ratio (critic 1e-5, actor 1e-6); ten critic-only steps let the
# value model fit the warm-started policy's returns before the actor moves (explained variance ~0.15
# after them on the built-in task; it settles lower once the policy's format errors, the part of the
# return a critic can see coming, are trained away).
EMBEDDED = {"critic": {"lr": 1e-3, "critic_warmup": 10}}
RECIPES: dict[str, Recipe] = {}  # the embedded default only


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
