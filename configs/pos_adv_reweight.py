"""Positive-Advantage Reweighting with the entropy-guided lambda schedule (Jin et al., "Revisiting Entropy in
Reinforcement Learning for Large Reasoning Models", arXiv 2511.05993).

Tokens with A > 0 are weighted by lambda; lambda moves by +-0.05 toward keeping the entropy above 0.2
(lambda_0 = 0). Schedules: objective.pos_adv_reweight.schedule = constant | stage | epoch | entropy_guided.

Recipe (`:model=qwen2.5-math-7b`, docs/recipes.md): the paper's setup as far as it is confirmed, which is
little. The official code (cordercorder/EntropyRL) is not in the store and only the abstract of the paper
is; the model (Qwen2.5-Math-7B), data (DAPO-Math-17k, ~17.9k prompts), veRL GRPO with a token-level loss
and no KL, one on-policy update per rollout step ("GRPO (N=1)"), the lambda schedule's constants and the
Avg@64 evaluation come from third-party notes (algorithms.md §7). Every field is marked UNCONFIRMED in its
source, with what the project uses instead: batch, lengths, optimizer and sampling are STEER's run/run_exp.sh
values (the same model and data), the reward is veRL's default for DAPO-Math-17k rows (math_dapo, +1 / -1).

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/pos_adv_reweight.py
The recipe (every host of a pod runs the same command; verl-format parquet rows):
    python launch/tpu_pod.py --config configs/pos_adv_reweight.py:model=qwen2.5-math-7b \\
        --config.model.path=/path/to/Qwen2.5-Math-7B --config.data.train_files=/path/to/DAPO-Math-17k.parquet \\
        --config.data.eval_files=/path/to/heldout.parquet --config.eval.benchmarks=aime24=/path/to/aime24.jsonl
Any field can be overridden, e.g. --config.objective.pos_adv_reweight.schedule=stage.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "pos_adv_reweight"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}

_NOTES = "UNCONFIRMED: third-party notes of the paper (algorithms.md §7"
_STEER = "zz-haooo/STEER @b31df71 run/run_exp.sh"
_STEER_YAML = "zz-haooo/STEER @bfc8d2e verl/trainer/config/ppo_trainer.yaml"
_STEER_WORKERS = "zz-haooo/STEER @bfc8d2e verl/workers/fsdp_workers.py"
_NOT_GIVEN = "UNCONFIRMED: not given in what is stored of the paper; the project uses"

RECIPES = {
    "qwen2.5-math-7b": Recipe(
        paper="Revisiting Entropy in Reinforcement Learning for Large Reasoning Models (Jin et al., arXiv "
              "2511.05993; only the abstract is in the store)",
        code="cordercorder/EntropyRL (not in the store: no script read)",
        dataset="DAPO-Math-17k (~17.9k prompts), per third-party notes (UNCONFIRMED)",
        fields={
            "model.preset": ("qwen2.5-math-7b", f"{_NOTES}.4): Qwen2.5-Math-7B is the main model"),
            "model.dtype": ("bfloat16", f"{_NOT_GIVEN} veRL's FSDP mixed precision ({_STEER_WORKERS} "
                                        f"L216, L305-306)"),
            "data.template": ("chat_template", f"{_NOT_GIVEN} veRL's chat template over the parquet prompt "
                                               f"messages, as the other verl recipes"),
            "data.question_field": ("prompt", f"{_NOT_GIVEN} the verl parquet field ({_STEER_YAML} data.prompt_key)"),
            "data.answer_field": ("reward_model.ground_truth", f"{_NOT_GIVEN} the verl parquet field"),
            "data.max_prompt_length": (1024, f"{_NOT_GIVEN} STEER's value at the same model and data ({_STEER} L44)"),
            "data.epochs": (10, f"{_NOT_GIVEN} STEER's ({_STEER} L85)"),
            "rollout.prompts_per_step": (512, f"{_NOT_GIVEN} STEER's ({_STEER} L43)"),
            "rollout.gen_prompts": (0, f"{_NOT_GIVEN} no dynamic sampling (0 = rollout.prompts_per_step)"),
            "rollout.num_samples": (8, f"{_NOT_GIVEN} STEER's ({_STEER} L72)"),
            "rollout.max_new_tokens": (3072, f"{_NOT_GIVEN} STEER's ({_STEER} L45)"),
            "rollout.temperature": (1.0, f"{_NOT_GIVEN} veRL's default ({_STEER_YAML} L395)"),
            "rollout.top_p": (1.0, f"{_NOT_GIVEN} veRL's default ({_STEER_YAML} L401)"),
            "rollout.top_k": (0, f"{_NOT_GIVEN} veRL's default, off ({_STEER_YAML} L398)"),
            "reward.name": ("math_dapo", f"{_NOT_GIVEN} veRL's default scorer for DAPO-Math-17k rows (data_source "
                                         f"math_dapo: volcengine/verl @012542c verl/utils/reward_score/math_dapo.py, "
                                         f"'Answer:' match)"),
            "reward.correct": (1.0, f"{_NOT_GIVEN} math_dapo's +1 (volcengine/verl @012542c math_dapo.py L265)"),
            "reward.incorrect": (-1.0, f"{_NOT_GIVEN} math_dapo's -1 (volcengine/verl @012542c math_dapo.py L265)"),
            "advantage.estimator": ("grpo", f"{_NOTES}.1): GRPO group mean / std advantage"),
            "objective.loss_agg_mode": ("token-mean", f"{_NOTES}.1): DAPO-style token-level loss"),
            "objective.eps_low": (0.2, f"{_NOTES}.1): asymmetric clip, values not given; the project uses veRL's "
                                       f"0.2 / 0.2"),
            "objective.eps_high": (0.2, f"{_NOTES}.1): values not given; the project uses veRL's 0.2 / 0.2"),
            "objective.dual_clip_c": (3.0, f"{_NOT_GIVEN} veRL's default clip_ratio_c ({_STEER_YAML})"),
            "objective.kl.coef": (0.0, f"{_NOTES}.1): no KL"),
            "objective.pos_adv_reweight.schedule": ("entropy_guided", f"{_NOTES}.2): the recommended schedule"),
            "objective.pos_adv_reweight.positive_weight": (0.0, f"{_NOTES}.2): lambda_0 = 0"),
            "objective.pos_adv_reweight.target_entropy": (0.2, f"{_NOTES}.2): delta = 0.2"),
            "objective.pos_adv_reweight.step_size": (0.05, f"{_NOTES}.2): Delta = 0.05"),
            "train.steps": (0, f"{_NOT_GIVEN} data.epochs"),
            "train.mini_batches": (1, f"{_NOTES}.3-7.4): the 'GRPO (N=1)' row, one on-policy update per rollout "
                                      f"step"),
            "train.micro_batches": (64, f"{_NOT_GIVEN} STEER's 64 rows per micro step ({_STEER} L52 x L81) for the "
                                        f"4096-row mini-batch (a memory knob)"),
            "train.ppo_epochs": (1, f"{_NOT_GIVEN} veRL's default ({_STEER_YAML} L230)"),
            "train.dynamic_sampling": (False, f"{_NOTES}.4): veRL GRPO"),
            "train.overlong_buffer": (0, f"{_NOT_GIVEN} none"),
            "optim.lr": (1e-6, f"{_NOT_GIVEN} STEER's ({_STEER} L49)"),
            "optim.warmup_steps": (0, f"{_NOT_GIVEN} veRL's default ({_STEER_YAML} L261, L264)"),
            "optim.schedule": ("constant", f"{_NOT_GIVEN} veRL's default ({_STEER_YAML} L273)"),
            "optim.schedule_unit": ("rollout", f"{_NOT_GIVEN} veRL's ({_STEER_WORKERS} L634)"),
            "optim.weight_decay": (0.01, f"{_NOT_GIVEN} veRL's default ({_STEER_YAML} L279)"),
            "optim.b1": (0.9, f"{_NOT_GIVEN} veRL's default"),
            "optim.b2": (0.999, f"{_NOT_GIVEN} veRL's default"),
            "optim.eps": (1e-8, f"{_NOT_GIVEN} veRL's default"),
            "optim.grad_clip": (1.0, f"{_NOT_GIVEN} veRL's default ({_STEER_YAML} L176)"),
            "eval.every": (10, f"{_NOT_GIVEN} every 10 rollout steps"),
            "eval.num_samples": (64, f"{_NOTES}.4): Avg@64 / Pass@64"),
            "eval.temperature": (1.0, f"{_NOT_GIVEN} STEER's validation sampling ({_STEER_YAML} L502)"),
            "eval.top_p": (0.7, f"{_NOT_GIVEN} STEER's validation sampling ({_STEER_YAML} L499)"),
            "eval.max_new_tokens": (3072, f"{_NOT_GIVEN} rollout.max_new_tokens"),
        },
        notes=(
            "Everything in this table is UNCONFIRMED: no script and no paper text beyond the abstract was "
            "available; replace it with the paper's values when they can be read.",
            "Benchmarks of the paper (third-party notes): AIME24, AIME25, MATH500, AMC23, Minerva (in domain), "
            "LiveCodeBench, IF-Eval (out of domain), Avg@64 / Pass@64.",
            "Whether H_k of the entropy-guided schedule is the rollout batch's mean token entropy, and whether k "
            "counts rollout steps, is UNCONFIRMED (the transform reads objective.pos_adv_reweight.entropy_metric).",
        )),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
