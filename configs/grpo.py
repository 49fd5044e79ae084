"""GRPO baseline (std-normalized group advantage, PPO clip 0.2 / 0.2, token-mean): the reference point of
every entropy-control paper here.

Published recipe (`:model=qwen2.5-7b`, docs/recipes.md): the Clip-Cov / KL-Cov paper's GRPO baseline,
PRIME's recipe/dapo/7b_baseline.sh @745b3010 (mirror LiyuanLucasLiu/Entropy-Mechanism-of-RL). It is the
only released script of a seed that runs GRPO with the symmetric clip: STEER's vanilla-loss run of
run_exp.sh keeps its clip 0.2 / 0.28 (configs/clip_higher.py:model=qwen2.5-math-7b), and SIREN's baseline
is Dr.GRPO (configs/dr_grpo.py). Qwen2.5-7B base on the authors' DAPO-Math based set (size UNCONFIRMED),
256 prompts x 8 with dynamic sampling (<= 10 generation batches of 256, stop at the cap), 2048 / 8192
tokens, 8 optimizer steps per rollout step, lr 5e-7, no weight decay, single-clip PPO without the
log-ratio clamp (the dual clip is commented out in its verl copy), rewards 1 / 0, greedy validation
every 4 rollout steps. The same family as configs/clip_cov.py, kl_cov.py and clip_higher.py:model=qwen2.5-7b.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/grpo.py
The published recipe (every host of a pod runs the same command; verl-format parquet rows):
    python launch/tpu_pod.py --config configs/grpo.py:model=qwen2.5-7b \\
        --config.model.path=/path/to/Qwen2.5-7B --config.data.train_files=/path/to/dapo-math-modified.parquet \\
        --config.data.eval_files=/path/to/heldout.parquet --config.eval.benchmarks=aime24=/path/to/aime24.jsonl
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "grpo"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}

_PRIME = "LiyuanLucasLiu/Entropy-Mechanism-of-RL"
_SH = f"{_PRIME} @745b301 recipe/dapo/7b_baseline.sh"
_ALGOS = f"{_PRIME} @6e45694 verl/trainer/ppo/core_algos.py compute_policy_loss"
_DAPO_TRAINER = f"{_PRIME} @999ebc9 recipe/dapo/dapo_ray_trainer.py"
_WORKERS = "zz-haooo/STEER @bfc8d2e verl/workers/fsdp_workers.py"
_DATASET = "zz-haooo/STEER @bfc8d2e verl/utils/dataset/rl_dataset.py RLHFDataset.__getitem__"
_VERL_DEFAULT = ("UNCONFIRMED: not set by the script and this repo's verl yaml / fsdp_workers were not read; "
                 "verl's default")

RECIPES = {
    "qwen2.5-7b": Recipe(
        paper="The Entropy Mechanism of Reinforcement Learning for Reasoning Language Models (Cui et al., "
              "arXiv 2505.22617), its GRPO baseline",
        code="PRIME-RL/Entropy-Mechanism-of-RL recipe/dapo/7b_baseline.sh, read at the mirror "
             "LiyuanLucasLiu/Entropy-Mechanism-of-RL @745b301 (the official repository is not in the store)",
        dataset="the authors' DAPO-Math based set (data/dapo-math-modified.parquet in the repo; README: 'Our "
                "training data is built from DAPO-MATH'; size and prompt format UNCONFIRMED)",
        fields={
            "model.preset": ("qwen2.5-7b", f"{_SH} L7 project_name 'Qwen2.5-B' (sic; the 7B family's scripts; "
                                           f"MODEL_PATH L44 is a placeholder)"),
            "model.dtype": ("bfloat16", f"{_VERL_DEFAULT}: FSDP float32 master weights, bfloat16 compute "
                                        f"({_WORKERS} L216, L305-306)"),
            "data.template": ("chat_template", f"{_SH} L65 prompt_key=prompt, L72 return_raw_chat=True; verl "
                                               f"applies the tokenizer's chat template ({_DATASET})"),
            "data.question_field": ("prompt", f"{_SH} L65 data.prompt_key=prompt"),
            "data.answer_field": ("reward_model.ground_truth", f"{_PRIME} @999ebc9 "
                                                               f"verl/workers/reward_manager/dapo.py (ground_truth)"),
            "data.max_prompt_length": (2048, f"{_SH} L20 (truncation left L66, filter_overlong_prompts=False L67)"),
            "data.epochs": (1000, f"{_SH} L139 total_epochs=1000 (runs until stopped; the paper's length "
                                  f"UNCONFIRMED)"),
            "rollout.prompts_per_step": (256, f"{_SH} L31 train_prompt_bsz"),
            "rollout.gen_prompts": (256, f"{_SH} L32 gen_prompt_bsz = train_prompt_bsz * 1"),
            "rollout.num_samples": (8, f"{_SH} L34 n_resp_per_prompt"),
            "rollout.max_new_tokens": (8192, f"{_SH} L21 max_response_length"),
            "rollout.temperature": (1.0, f"{_SH} L50, L115"),
            "rollout.top_p": (1.0, f"{_SH} L51, L116"),
            "rollout.top_k": (0, f"{_SH} L52, L117 top_k -1 (off; 0 here)"),
            "reward.name": ("entropy_math", f"UNCONFIRMED for this repo: reward_manager dapo (L127) with "
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
            "objective.loss_agg_mode": ("token-mean", f"{_SH} L26"),
            "objective.eps_low": (0.2, f"{_SH} L17 clip_ratio_low"),
            "objective.eps_high": (0.2, f"{_SH} L18 clip_ratio_high"),
            "objective.dual_clip_c": (None, f"{_SH} L78 sets clip_ratio_c=10.0, but {_ALGOS} has the dual clip "
                                            f"commented out (single-clip PPO)"),
            "objective.clamp_log_ratio": (False, f"{_ALGOS}: ratio = exp(log_prob - old_log_prob), no clamp"),
            "objective.kl.coef": (0.0, f"{_SH} L14-15 use_kl_loss=False / kl_loss_coef 0, L12 use_kl_in_reward"),
            "train.steps": (0, f"{_SH} L139: epochs, not steps"),
            "train.mini_batches": (8, f"{_SH} L33 train_prompt_mini_bsz 32 = 256 / 32"),
            "train.micro_batches": (4, f"{_SH} L35 max_token 30720 per GPU (dynamic batch, L57) = 3 full-length "
                                       f"sequences x 32 GPUs (L41 NNODES 4, L134 8 per node) = at most 96 rows per "
                                       f"micro step; 4 splits the 256 mini-batch rows into 64 (a memory knob)"),
            "train.ppo_epochs": (1, f"{_VERL_DEFAULT} ppo_epochs 1"),
            "train.dynamic_sampling": (True, f"{_SH} L28 enable_filter_groups (metric acc L29)"),
            "train.max_gen_batches": (10, f"{_SH} L30 max_num_gen_batches"),
            "train.gen_cap": ("stop", f"{_DAPO_TRAINER} RayDAPOTrainer.fit raises ValueError at the cap"),
            "train.overlong_buffer": (0, f"{_SH} L22 enable_overlong_buffer=False (len 512 L23 unused)"),
            "optim.lr": (5e-7, f"{_SH} L99"),
            "optim.warmup_steps": (0, f"{_SH} L101 warmup_style constant, no lr_warmup_steps (the warm-up lambda "
                                      f"of this repo's verl copy is UNCONFIRMED: the old min(1, step / max(1, W)) "
                                      f"form would run the first rollout step at lr 0)"),
            "optim.schedule": ("constant", f"{_SH} L101 warmup_style=constant"),
            "optim.schedule_unit": ("rollout", f"{_VERL_DEFAULT}: the FSDP worker steps the scheduler once per "
                                               f"update_actor ({_WORKERS} L634)"),
            "optim.weight_decay": (0.0, f"{_SH} L100"),
            "optim.b1": (0.9, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.b2": (0.999, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.eps": (1e-8, f"{_VERL_DEFAULT} (torch AdamW eps)"),
            "optim.grad_clip": (1.0, f"{_SH} L107"),
            "eval.every": (4, f"{_SH} L137 test_freq=4 (val_before_train=False L136)"),
            "eval.num_samples": (1, f"{_SH} L122 val_kwargs.n=1"),
            "eval.temperature": (0.0, f"{_SH} L121 val_kwargs.do_sample=False (greedy)"),
            "eval.top_p": (1.0, f"{_SH} L119 (irrelevant under greedy decoding)"),
            "eval.max_new_tokens": (8192, f"{_SH} L21 (validation generates to max_response_length)"),
        },
        notes=(
            "Hardware of the script: 4 nodes x 8 GPUs (L41, L134), rollout tensor parallel 2.",
            "The script's prompts over 2048 tokens are left-truncated (L66); here they are dropped.",
            "The Clip-Cov paper's evaluation (AIME24/25, AMC, MATH-500, OMNI-MATH, OlympiadBench, Minerva): "
            "samples and temperature UNCONFIRMED.",
        )),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
