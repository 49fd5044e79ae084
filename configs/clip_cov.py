"""Clip-Cov (Cui et al., arXiv 2505.22617): detach a random 2e-4 of the tokens whose covariance of
log-prob and advantage lies in (1, 5), on single-clip PPO with the clip range [0, 2] (eps 1 / 1).

Published recipe (`:model=qwen2.5-7b`, docs/recipes.md): PRIME's recipe/dapo/7b_clip_cov.sh @745b3010,
read at the mirror LiyuanLucasLiu/Entropy-Mechanism-of-RL (the official PRIME-RL repository is not in the
store; its version read earlier at @8850579, algorithms.md, agrees on lr 5e-7 and no weight decay).
Qwen2.5-7B base on the authors' DAPO-Math based set (data/dapo-math-modified.parquet; size UNCONFIRMED),
256 prompts x 8 with dynamic sampling (<= 10 generation batches of 256, the run stops at the cap), 2048 /
8192 tokens, 8 optimizer steps per rollout step, lr 5e-7 constant, no weight decay, no overlong shaping,
rewards 1 / 0 (entropy_math, last \\boxed{}), greedy validation every 4 rollout steps.
The authors' later port into verl (recipe/entropy/7b_clip_cov.sh) uses lr 1e-6 and generation batches of
768 (3 x 256): --config.optim.lr=1e-6 --config.rollout.gen_prompts=768 gives that version. Where the
paper and the code disagree the code wins; the paper's training length and evaluation sampling are
UNCONFIRMED. The paper's 32B runs (Qwen2.5-32B, k 2e-4 ...) are not provided.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/clip_cov.py
The published recipe (every host of a pod runs the same command; verl-format parquet rows):
    python launch/tpu_pod.py --config configs/clip_cov.py:model=qwen2.5-7b \\
        --config.model.path=/path/to/Qwen2.5-7B --config.data.train_files=/path/to/dapo-math-modified.parquet \\
        --config.data.eval_files=/path/to/heldout.parquet --config.eval.benchmarks=aime24=/path/to/aime24.jsonl
Any field can be overridden, e.g. --config.objective.clip_cov.ratio=1e-3.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "clip_cov"
# The method's own settings, at every scale.
OWN = {"train": {"dynamic_sampling": True}}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {"train": {"max_gen_batches": 3, "gen_cap": "pad"}}

_PRIME = "LiyuanLucasLiu/Entropy-Mechanism-of-RL"
_SH = f"{_PRIME} @745b301 recipe/dapo/7b_clip_cov.sh"
_ALGOS = f"{_PRIME} @6e45694 verl/trainer/ppo/core_algos.py compute_policy_loss_clip_cov"
_DAPO_TRAINER = f"{_PRIME} @999ebc9 recipe/dapo/dapo_ray_trainer.py"
_PORT = "Tialo/verl @132d3f0 recipe/entropy/7b_clip_cov.sh"
_WORKERS = "zz-haooo/STEER @bfc8d2e verl/workers/fsdp_workers.py"
_DATASET = "zz-haooo/STEER @bfc8d2e verl/utils/dataset/rl_dataset.py RLHFDataset.__getitem__"
_VERL_DEFAULT = ("UNCONFIRMED: not set by the script and this repo's verl yaml / fsdp_workers were not read; "
                 "verl's default")

RECIPES = {
    "qwen2.5-7b": Recipe(
        paper="The Entropy Mechanism of Reinforcement Learning for Reasoning Language Models (Cui et al., "
              "arXiv 2505.22617)",
        code="PRIME-RL/Entropy-Mechanism-of-RL recipe/dapo/7b_clip_cov.sh, read at the mirror "
             "LiyuanLucasLiu/Entropy-Mechanism-of-RL @745b301 (the official repository is not in the store)",
        dataset="the authors' DAPO-Math based set (data/dapo-math-modified.parquet in the repo; README: 'Our "
                "training data is built from DAPO-MATH'; size and prompt format UNCONFIRMED)",
        fields={
            "model.preset": ("qwen2.5-7b", f"{_SH} L7 project_name 'Qwen2.5-7B' (MODEL_PATH L47 is a placeholder)"),
            "model.dtype": ("bfloat16", f"{_VERL_DEFAULT}: FSDP float32 master weights, bfloat16 compute "
                                        f"({_WORKERS} L216, L305-306)"),
            "data.template": ("chat_template", f"{_SH} L68 prompt_key=prompt, L75 return_raw_chat=True; verl "
                                               f"applies the tokenizer's chat template ({_DATASET})"),
            "data.question_field": ("prompt", f"{_SH} L68 data.prompt_key=prompt"),
            "data.answer_field": ("reward_model.ground_truth", f"{_PRIME} @999ebc9 "
                                                               f"verl/workers/reward_manager/dapo.py (ground_truth)"),
            "data.max_prompt_length": (2048, f"{_SH} L23 (truncation left L69, filter_overlong_prompts=False L70)"),
            "data.epochs": (1000, f"{_SH} L145 total_epochs=1000 (runs until stopped; the paper's length "
                                  f"UNCONFIRMED)"),
            "rollout.prompts_per_step": (256, f"{_SH} L34 train_prompt_bsz"),
            "rollout.gen_prompts": (256, f"{_SH} L35 gen_prompt_bsz = train_prompt_bsz * 1 (verl port: x 3, "
                                         f"{_PORT} L35)"),
            "rollout.num_samples": (8, f"{_SH} L37 n_resp_per_prompt"),
            "rollout.max_new_tokens": (8192, f"{_SH} L24 max_response_length"),
            "rollout.temperature": (1.0, f"{_SH} L53, L121"),
            "rollout.top_p": (1.0, f"{_SH} L54, L122"),
            "rollout.top_k": (0, f"{_SH} L55, L123 top_k -1 (off; 0 here)"),
            "reward.name": ("entropy_math", f"UNCONFIRMED for this repo: reward_manager dapo (L133) with "
                                            f"{_PRIME} @999ebc9 verl/utils/reward_score/__init__.py L71 routing to "
                                            f"prime_math (not stored); the authors' verl port scores with "
                                            f"entropy_math (volcengine/verl @0a1b394 "
                                            f"recipe/entropy/reward_score/__init__.py)"),
            "reward.correct": (1.0, "volcengine/verl @b95e257 recipe/entropy/reward_score/entropy_math/__init__.py "
                                    "compute_score (1.0 / 0.0)"),
            "reward.incorrect": (0.0, "volcengine/verl @b95e257 recipe/entropy/reward_score/entropy_math/"
                                      "__init__.py compute_score (1.0 / 0.0)"),
            "reward.timeout_s": (15.0, "volcengine/verl @b95e257 entropy_math: inner budgets of 5 s per sympy "
                                       "comparison plus math-verify's; the pool limit sits above them "
                                       "(rlvr_jax/rewards/_entropy_math_reward.py)"),
            "advantage.estimator": ("grpo", f"{_SH} L10 adv_estimator=grpo"),
            "objective.loss_agg_mode": ("token-mean", f"{_SH} L29"),
            "objective.eps_low": (1.0, f"{_SH} L17 clip_ratio_low=1 (ratio clipped to [0, 2])"),
            "objective.eps_high": (1.0, f"{_SH} L18 clip_ratio_high=1"),
            "objective.dual_clip_c": (10.0, f"{_SH} L81 clip_ratio_c=10.0 (unused: {_ALGOS} has no dual clip)"),
            "objective.clip_cov.ratio": (2e-4, f"{_SH} L19 clip_cov_ratio (passed L85)"),
            "objective.clip_cov.lower": (1.0, f"{_SH} L20 clip_cov_lb (passed L86)"),
            "objective.clip_cov.upper": (5.0, f"{_SH} L21 clip_cov_ub (passed L87)"),
            "objective.kl.coef": (0.0, f"{_SH} L14-15 use_kl_loss=False / kl_loss_coef 0, L12 use_kl_in_reward"),
            "train.steps": (0, f"{_SH} L145: epochs, not steps"),
            "train.mini_batches": (8, f"{_SH} L36 train_prompt_mini_bsz 32 = 256 / 32"),
            "train.micro_batches": (4, f"{_SH} L38 max_token 20480 per GPU (dynamic batch, L60) = 2 full-length "
                                       f"sequences x 32 GPUs (L44 NNODES 4, L140 8 per node) = 64 of the 256 "
                                       f"mini-batch rows per micro step (a memory knob)"),
            "train.ppo_epochs": (1, f"{_VERL_DEFAULT} ppo_epochs 1"),
            "train.dynamic_sampling": (True, f"{_SH} L31 enable_filter_groups (metric acc L32)"),
            "train.max_gen_batches": (10, f"{_SH} L33 max_num_gen_batches"),
            "train.gen_cap": ("stop", f"{_DAPO_TRAINER} RayDAPOTrainer.fit raises ValueError at the cap"),
            "train.overlong_buffer": (0, f"{_SH} L25 enable_overlong_buffer=False (len 2048 L26 unused)"),
            "optim.lr": (5e-7, f"{_SH} L105 (verl port: 1e-6, {_PORT} L104)"),
            "optim.warmup_steps": (0, f"{_SH} L107 warmup_style constant, no lr_warmup_steps (the warm-up lambda "
                                      f"of this repo's verl copy is UNCONFIRMED: the old min(1, step / max(1, W)) "
                                      f"form would run the first rollout step at lr 0)"),
            "optim.schedule": ("constant", f"{_SH} L107 warmup_style=constant"),
            "optim.schedule_unit": ("rollout", f"{_VERL_DEFAULT}: the FSDP worker steps the scheduler once per "
                                               f"update_actor ({_WORKERS} L634)"),
            "optim.weight_decay": (0.0, f"{_SH} L106"),
            "optim.b1": (0.9, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.b2": (0.999, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.eps": (1e-8, f"{_VERL_DEFAULT} (torch AdamW eps)"),
            "optim.grad_clip": (1.0, f"{_SH} L113"),
            "eval.every": (4, f"{_SH} L143 test_freq=4 (val_before_train=False L142)"),
            "eval.num_samples": (1, f"{_SH} L128 val_kwargs.n=1"),
            "eval.temperature": (0.0, f"{_SH} L127 val_kwargs.do_sample=False (greedy)"),
            "eval.top_p": (1.0, f"{_SH} L125 (irrelevant under greedy decoding)"),
            "eval.max_new_tokens": (8192, f"{_SH} L24 (validation generates to max_response_length)"),
        },
        notes=(
            "Hardware of the script: 4 nodes x 8 GPUs (L44, L140), rollout tensor parallel 2.",
            "Other versions of this script (LiyuanLucasLiu mirror @a4e52a9: lr 1e-6; @49d5216: lr 1e-6, "
            "generation batch 768) and the authors' verl port (Tialo/verl @132d3f0 recipe/entropy/7b_clip_cov.sh: "
            "lr 1e-6 L104, generation batch 768 L35, 30720 tokens per GPU L38); their order is UNCONFIRMED.",
            "The reference draws the covariance statistics, budget and random subset per micro-batch per GPU; "
            "the preset does it over the mini-batch (objective.clip_cov.norm_scope).",
            "The script's prompts over 2048 tokens are left-truncated (L69); here they are dropped.",
            "The paper's evaluation (AIME24/25, AMC, MATH-500, OMNI-MATH, OlympiadBench, Minerva): samples and "
            "temperature UNCONFIRMED.",
        )),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
