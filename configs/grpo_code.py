"""GRPO on code, the baseline of configs/steer_code.py: programs graded by running the row's tests in a
sandbox (`code_exec`, docs/security.md), prompts in the `qwen_code` template. The embedded default is
verl's GRPO (std-normalized group advantage, PPO clip 0.2 / 0.2, token-mean).

Recipe (`:model=qwen2.5-7b`, docs/recipes.md): STEER's code recipe is not released, so every field is
UNCONFIRMED: the RL fields are those of its math recipe with the vanilla loss (zz-haooo/STEER run/run_exp.sh
@b31df71, as configs/clip_higher.py:model=qwen2.5-math-7b), which keeps that script's clip 0.2 / 0.28 and
c = 10, so that this baseline differs from configs/steer_code.py in the STEER weights only. 10 epochs of
512 prompts x 8, 16 optimizer steps per rollout step, lr 1e-6, rewards +1 / -1, validation every step
with 32 samples at T 1.0 / top-p 0.7; 2048 prompt tokens and 32 sandbox workers per host. The model is
Qwen2.5-7B base, whose context holds 2048 + 3072 tokens (the Qwen2.5-Math models hold 4096 positions).
The training set is user-given (rows {"question", "answer": test spec}).

Launch (embedded default: tiny policy warm-started on the built-in code task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/grpo_code.py
A real checkpoint on a real code set (rows {"question", "answer": test spec}, e.g. written by
rlvr_jax.data.write_code_benchmark_jsonl), with code benchmarks evaluated during training:
    python launch/tpu_pod.py --config configs/grpo_code.py:model=qwen2.5-7b \\
        --config.model.path=/path/to/Qwen2.5-7B --config.data.train_files=/path/to/code_train.jsonl \\
        --config.data.eval_files=/path/to/code_heldout.jsonl \\
        --config.eval.benchmarks=humaneval=/path/to/HumanEvalPlus.jsonl,livecodebench=/path/to/lcb.jsonl
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.reward.timeout_s=20.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "grpo"
# The method's own settings, at every scale.
OWN = {"data": {"builtin_task": "code"}, "reward": {"name": "code_exec"}}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}

_NO_CODE = "UNCONFIRMED: STEER's code recipe is not released; its math recipe's"
_RUN = "zz-haooo/STEER @b31df71 run/run_exp.sh"
_YAML = "zz-haooo/STEER @bfc8d2e verl/trainer/config/ppo_trainer.yaml"
_WORKERS = "zz-haooo/STEER @bfc8d2e verl/workers/fsdp_workers.py"
_PROJECT = "UNCONFIRMED: STEER's code recipe is not released; the project's"

RECIPES = {
    "qwen2.5-7b": Recipe(
        paper="STEER (Hao et al., arXiv 2510.10150), the GRPO baseline of its code experiments (no released "
              "script)",
        code="none released; the RL fields are zz-haooo/STEER @b31df71 run/run_exp.sh (math) with the vanilla loss",
        dataset="user-given code problems with tests (rows {question, answer: test spec}); STEER's code training "
                "data is UNCONFIRMED",
        fields={
            "model.preset": ("qwen2.5-7b", f"{_PROJECT} choice: Qwen2.5-7B base (131072 positions hold 2048 + "
                                           f"3072; STEER's Qwen2.5-Math-7B holds 4096)"),
            "model.dtype": ("bfloat16", f"{_NO_CODE} ({_WORKERS} L216, L305-306)"),
            "data.template": ("qwen_code", f"{_PROJECT} code prompt (rlvr_jax/data/_templates.py qwen_code)"),
            "data.question_field": ("question", f"{_PROJECT} code rows (write_code_benchmark_jsonl)"),
            "data.answer_field": ("answer", f"{_PROJECT} code rows: the test spec"),
            "data.max_prompt_length": (2048, f"{_PROJECT} room for long problem statements (math: {_RUN} L44)"),
            "data.epochs": (10, f"{_NO_CODE} ({_RUN} L85)"),
            "rollout.prompts_per_step": (512, f"{_NO_CODE} ({_RUN} L43)"),
            "rollout.gen_prompts": (0, f"{_NO_CODE} ({_RUN} L39 main_ppo; 0 = rollout.prompts_per_step)"),
            "rollout.num_samples": (8, f"{_NO_CODE} ({_RUN} L72)"),
            "rollout.max_new_tokens": (3072, f"{_NO_CODE} ({_RUN} L45)"),
            "rollout.temperature": (1.0, f"{_NO_CODE} ({_YAML} L395)"),
            "rollout.top_p": (1.0, f"{_NO_CODE} ({_YAML} L401)"),
            "rollout.top_k": (0, f"{_NO_CODE} ({_YAML} L398, off)"),
            "reward.name": ("code_exec", f"{_PROJECT} sandboxed all-tests-pass reward (docs/security.md)"),
            "reward.correct": (1.0, f"{_NO_CODE} +1 (zz-haooo/STEER @b31df71 verl/utils/reward_score/math_dapo.py "
                                    f"L259)"),
            "reward.incorrect": (-1.0, f"{_NO_CODE} -1 (zz-haooo/STEER @b31df71 "
                                       f"verl/utils/reward_score/math_dapo.py L259)"),
            "reward.workers": (32, f"{_PROJECT} sandbox processes per host"),
            "advantage.estimator": ("grpo", f"{_NO_CODE} ({_RUN} L40)"),
            "objective.loss_agg_mode": ("token-mean", f"{_NO_CODE} ({_YAML} L212)"),
            "objective.eps_low": (0.2, f"{_NO_CODE} ({_RUN} L58; its vanilla-loss baseline keeps the clip)"),
            "objective.eps_high": (0.28, f"{_NO_CODE} ({_RUN} L57; its vanilla-loss baseline keeps the clip)"),
            "objective.dual_clip_c": (10.0, f"{_NO_CODE} ({_RUN} L59)"),
            "objective.kl.coef": (0.0, f"{_NO_CODE} ({_RUN} L53, L75)"),
            "train.steps": (0, f"{_NO_CODE} ({_RUN} L85 epochs)"),
            "train.mini_batches": (16, f"{_NO_CODE} ({_RUN} L51: 512 / 32)"),
            "train.micro_batches": (4, f"{_NO_CODE} ({_RUN} L52 x L81: 64 rows per micro step; a memory knob)"),
            "train.ppo_epochs": (1, f"{_NO_CODE} ({_YAML} L230)"),
            "train.dynamic_sampling": (False, f"{_NO_CODE} ({_RUN} L39 main_ppo)"),
            "train.overlong_buffer": (0, f"{_NO_CODE} ({_YAML} L823 reward_manager naive)"),
            "optim.lr": (1e-6, f"{_NO_CODE} ({_RUN} L49)"),
            "optim.warmup_steps": (0, f"{_NO_CODE} ({_YAML} L261, L264)"),
            "optim.schedule": ("constant", f"{_NO_CODE} ({_YAML} L273)"),
            "optim.schedule_unit": ("rollout", f"{_NO_CODE} ({_WORKERS} L634)"),
            "optim.weight_decay": (0.01, f"{_NO_CODE} ({_YAML} L279)"),
            "optim.b1": (0.9, f"{_NO_CODE} ({_WORKERS} L374-378)"),
            "optim.b2": (0.999, f"{_NO_CODE} ({_WORKERS} L374-378)"),
            "optim.eps": (1e-8, f"{_NO_CODE} ({_WORKERS} L374-378)"),
            "optim.grad_clip": (1.0, f"{_NO_CODE} ({_YAML} L176)"),
            "eval.every": (1, f"{_NO_CODE} ({_RUN} L84)"),
            "eval.num_samples": (32, f"{_NO_CODE} (AIME24 x 32, {_RUN} L20)"),
            "eval.temperature": (1.0, f"{_NO_CODE} ({_YAML} L502)"),
            "eval.top_p": (0.7, f"{_NO_CODE} ({_YAML} L499)"),
            "eval.max_new_tokens": (3072, f"{_NO_CODE} ({_RUN} L45)"),
        },
        notes=(
            "Every value is UNCONFIRMED for code: STEER released no code script; these are its math recipe's "
            "RL fields with the vanilla loss (configs/clip_higher.py:model=qwen2.5-math-7b) at a model whose "
            "context fits the code prompts. run_exp.sh sets the clip 0.2 / 0.28 and c = 10 for every loss, so "
            "this baseline keeps them; --config.objective.eps_high=0.2 --config.objective.dual_clip_c=3.0 gives "
            "verl's symmetric GRPO.",
            "Validating every rollout step with 32 samples per problem is costly with sandboxed tests; "
            "--config.eval.every=10 is a cheaper choice that the math recipe does not make.",
        )),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
