"""STEER: token reweighting by the estimated first-order entropy change (Hao et al., arXiv 2510.10150).

Each token's PPO loss is weighted by a map of its estimated entropy change (exponential mapping, weights
in [w_min, w_max] = [0.8, 1.0]) on top of DAPO's decoupled clip (0.2 / 0.28, dual clip c = 10) and GRPO
advantages. Variants of the objective: objective.steer.mapping=linear with w_max 1.2 (run/run_linear.sh),
objective.steer.omega_form=theorem.

Published recipe (`:model=qwen2.5-math-7b`): zz-haooo/STEER run/run_exp.sh @b31df71, field by field
(docs/recipes.md). Qwen2.5-Math-7B base on DAPO-Math-17k (the repo's datasets/DAPO-Math-17k.parquet;
~17.9k unique prompts, the row count of the shipped file UNCONFIRMED), 10 epochs of 512 prompts x 8
responses, 16 optimizer steps per rollout step, lr 1e-6 constant, rewards +1 / -1 from the strict
last-\\boxed{} check (STEER's math_dapo default), validated every rollout step on AIME24 (32 samples at
T 1.0, top-p 0.7). The paper's other models (Qwen2.5-14B math, code models) have no released script.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/steer.py
The published recipe (every host of a pod runs the same command; verl-format parquet rows: chat messages
in "prompt", the answer in "reward_model.ground_truth"; AIME24 as a plain problem / answer file):
    python launch/tpu_pod.py --config configs/steer.py:model=qwen2.5-math-7b \\
        --config.model.path=/path/to/Qwen2.5-Math-7B --config.data.train_files=/path/to/DAPO-Math-17k.parquet \\
        --config.data.eval_files=/path/to/heldout.parquet --config.eval.benchmarks=aime24=/path/to/aime24.jsonl
Any field can be overridden, e.g. --config.objective.steer.mapping=linear --config.objective.steer.w_max=1.2.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "steer"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}

_RUN = "zz-haooo/STEER @b31df71 run/run_exp.sh"
_YAML = "zz-haooo/STEER @bfc8d2e verl/trainer/config/ppo_trainer.yaml"
_WORKERS = "zz-haooo/STEER @bfc8d2e verl/workers/fsdp_workers.py"
_SCORE = "zz-haooo/STEER @b31df71 verl/utils/reward_score"
_DATASET = "zz-haooo/STEER @bfc8d2e verl/utils/dataset/rl_dataset.py RLHFDataset.__getitem__"

# Published recipes by model variant (`:model=...`): the official script's fields with their sources.
RECIPES = {
    "qwen2.5-math-7b": Recipe(
        paper="STEER: Stabilizing Token-level Entropy-changE via Reweighting (Hao et al., arXiv 2510.10150)",
        code="zz-haooo/STEER @b31df71 run/run_exp.sh (verl 0.4.1 fork)",
        dataset="DAPO-Math-17k (datasets/DAPO-Math-17k.parquet in the STEER repo; ~17.9k unique prompts, the "
                "shipped file's row count and prompt format UNCONFIRMED)",
        fields={
            "model.preset": ("qwen2.5-math-7b", f"{_RUN} L21 (MODEL_PATH Qwen/Qwen2.5-Math-7B)"),
            "model.dtype": ("bfloat16", f"{_WORKERS} L216, L305-306 (float32 master weights, bfloat16 compute)"),
            "data.template": ("chat_template", f"{_DATASET} (tokenizer.apply_chat_template on the prompt messages)"),
            "data.question_field": ("prompt", f"{_YAML} data.prompt_key 'prompt' (not overridden)"),
            "data.answer_field": ("reward_model.ground_truth", f"{_SCORE}/__init__.py L69 (ground_truth)"),
            "data.max_prompt_length": (1024, f"{_RUN} L44 (filter_overlong_prompts L46)"),
            "data.epochs": (10, f"{_RUN} L85 total_epochs"),
            "rollout.prompts_per_step": (512, f"{_RUN} L43 train_batch_size"),
            "rollout.gen_prompts": (0, f"{_RUN} L43: verl.trainer.main_ppo draws one batch of train_batch_size "
                                       f"(0 = rollout.prompts_per_step)"),
            "rollout.num_samples": (8, f"{_RUN} L72 rollout.n"),
            "rollout.max_new_tokens": (3072, f"{_RUN} L45 max_response_length"),
            "rollout.temperature": (1.0, f"{_YAML} L395"),
            "rollout.top_p": (1.0, f"{_YAML} L401"),
            "rollout.top_k": (0, f"{_YAML} L398 top_k -1 (off; 0 here)"),
            "reward.name": ("math_dapo_strict", f"{_SCORE}/__init__.py L62, L69 -> math_dapo.py L239 "
                                                f"(strict_box_verify=True by default)"),
            "reward.correct": (1.0, f"{_SCORE}/math_dapo.py L259"),
            "reward.incorrect": (-1.0, f"{_SCORE}/math_dapo.py L259"),
            "advantage.estimator": ("grpo", f"{_RUN} L40; {_YAML} L875 norm_adv_by_std_in_grpo True"),
            "objective.loss_agg_mode": ("token-mean", f"{_YAML} L212 (not overridden)"),
            "objective.clip_higher.eps_low": (0.2, f"{_RUN} L58 clip_ratio_low"),
            "objective.clip_higher.eps_high": (0.28, f"{_RUN} L57 clip_ratio_high"),
            "objective.dual_clip_c": (10.0, f"{_RUN} L59 clip_ratio_c"),
            "objective.kl.coef": (0.0, f"{_RUN} L53 use_kl_loss=False, L75 use_kl_in_reward=False"),
            "objective.steer.w_min": (0.8, f"{_RUN} L61 token_weight_min"),
            "objective.steer.w_max": (1.0, f"{_RUN} L62 token_weight_max"),
            "objective.steer.mapping": ("exponential", f"{_RUN} L63 linear=False"),
            "train.steps": (0, f"{_RUN} L85: the run ends when its 10 epochs are used up"),
            "train.mini_batches": (16, f"{_RUN} L51 ppo_mini_batch_size 32 prompts = 512 / 32"),
            "train.micro_batches": (4, f"{_RUN} L52 8 sequences per GPU x L81 8 GPUs = 64 of the 256 "
                                       f"mini-batch rows per micro step (a memory knob; any value gives the same "
                                       f"gradient)"),
            "train.ppo_epochs": (1, f"{_YAML} L230"),
            "train.dynamic_sampling": (False, f"{_RUN} L39 verl.trainer.main_ppo (no DAPO group filter)"),
            "train.overlong_buffer": (0, f"{_YAML} L823 reward_manager naive (no overlong shaping)"),
            "optim.lr": (1e-6, f"{_RUN} L49"),
            "optim.warmup_steps": (0, f"{_YAML} L261 lr_warmup_steps -1, L264 ratio 0.0"),
            "optim.schedule": ("constant", f"{_YAML} L273 warmup_style constant"),
            "optim.schedule_unit": ("rollout", f"{_WORKERS} L634 (scheduler stepped once per update_actor)"),
            "optim.weight_decay": (0.01, f"{_YAML} L279; {_WORKERS} L374-378"),
            "optim.b1": (0.9, f"{_WORKERS} L374-378 betas (0.9, 0.999)"),
            "optim.b2": (0.999, f"{_WORKERS} L374-378 betas (0.9, 0.999)"),
            "optim.eps": (1e-8, f"{_WORKERS} L374-378 (torch AdamW default eps)"),
            "optim.grad_clip": (1.0, f"{_YAML} L176"),
            "eval.every": (1, f"{_RUN} L84 test_freq=1"),
            "eval.num_samples": (32, f"{_RUN} L20 aime24.parquet: 32 rows per problem at n=1 ({_YAML} "
                                     f"L505-506), i.e. mean@32"),
            "eval.temperature": (1.0, f"{_YAML} L502 val_kwargs.temperature"),
            "eval.top_p": (0.7, f"{_YAML} L499 val_kwargs.top_p"),
            "eval.max_new_tokens": (3072, f"{_RUN} L45 (validation generates to max_response_length)"),
        },
        notes=(
            "Hardware of the script: 8 GPUs (H20), 1 node (L81-82); seeds PYTHONHASHSEED / PYTORCH_SEED 42 (L3-4).",
            "entropy_coeff 0 (L56): no entropy term. Over-long prompts are dropped (filter_overlong_prompts L46).",
            "Length: 10 x floor(N / 512) rollout steps (drop_last); N = 17,917 unique prompts gives 340.",
            "STEER's weight normalization runs per micro-batch of 8 sequences per GPU in the reference; the preset "
            "normalizes over the mini-batch (objective.steer.norm_scope).",
            "Evaluation scorer of run/eval.sh: strict box OR the Qwen-math grader on the last 300 characters "
            "(multi_datasets_eval, eval_method='both'), not the training reward; see docs/recipes.md.",
        )),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
