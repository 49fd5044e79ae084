"""Clip-higher alone (DAPO's decoupled clip 0.2 / 0.28, dual clip c = 10; no overlong shaping): the
baseline STEER and the Clip-Cov / KL-Cov paper compare against. configs/dapo.py adds DAPO's other parts.

Published recipes (docs/recipes.md), one per seed that ran this baseline with a released script:
* `:model=qwen2.5-math-7b`: STEER's vanilla-loss baseline, i.e. zz-haooo/STEER run/run_exp.sh @b31df71
  with policy_loss vanilla (L60-63 dropped). That script sets clip 0.2 / 0.28 and c = 10 for every loss,
  so STEER's vanilla-loss run is clip-higher, and it lives here rather than in configs/grpo.py. Qwen2.5-Math-7B
  on DAPO-Math-17k (~17.9k unique prompts), 10 epochs of 512 x 8, rewards +1 / -1 (strict last box),
  AIME24 x 32 at T 1.0 / top-p 0.7 every step. Whether the STEER paper's "GRPO" row used 0.2 / 0.2
  instead is UNCONFIRMED (no script).
* `:model=qwen2.5-7b`: the Clip-Cov / KL-Cov paper's clip-higher baseline, PRIME's recipe/dapo/7b_cliphigher.sh
  @745b3010 (mirror LiyuanLucasLiu/Entropy-Mechanism-of-RL): Qwen2.5-7B base on the authors' DAPO-Math based
  set (size UNCONFIRMED), 256 x 8 with dynamic sampling (<= 10 generation batches of 256, stop at the cap),
  2048 / 8192 tokens, lr 5e-7, single-clip PPO without the log-ratio clamp (its verl copy comments the
  dual clip out), greedy validation every 4 steps. The same family as configs/clip_cov.py, kl_cov.py and
  grpo.py, so the four are comparable.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/clip_higher.py
A published recipe (every host of a pod runs the same command; verl-format parquet rows):
    python launch/tpu_pod.py --config configs/clip_higher.py:model=qwen2.5-math-7b \\
        --config.model.path=/path/to/Qwen2.5-Math-7B --config.data.train_files=/path/to/DAPO-Math-17k.parquet \\
        --config.data.eval_files=/path/to/heldout.parquet --config.eval.benchmarks=aime24=/path/to/aime24.jsonl
    python launch/tpu_pod.py --config configs/clip_higher.py:model=qwen2.5-7b \\
        --config.model.path=/path/to/Qwen2.5-7B --config.data.train_files=/path/to/dapo-math-modified.parquet \\
        --config.data.eval_files=/path/to/heldout.parquet --config.eval.benchmarks=aime24=/path/to/aime24.jsonl
Any field can be overridden, e.g. --config.optim.lr=1e-6 --config.train.steps=200.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "clip_higher"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}

# STEER run/run_exp.sh, run with the vanilla loss.
_RUN = "zz-haooo/STEER @b31df71 run/run_exp.sh"
_YAML = "zz-haooo/STEER @bfc8d2e verl/trainer/config/ppo_trainer.yaml"
_WORKERS = "zz-haooo/STEER @bfc8d2e verl/workers/fsdp_workers.py"
_SCORE = "zz-haooo/STEER @b31df71 verl/utils/reward_score"
_DATASET = "zz-haooo/STEER @bfc8d2e verl/utils/dataset/rl_dataset.py RLHFDataset.__getitem__"
# PRIME recipe/dapo/7b_cliphigher.sh (mirror of PRIME-RL/Entropy-Mechanism-of-RL).
_PRIME = "LiyuanLucasLiu/Entropy-Mechanism-of-RL"
_SH = f"{_PRIME} @745b301 recipe/dapo/7b_cliphigher.sh"
_ALGOS = f"{_PRIME} @6e45694 verl/trainer/ppo/core_algos.py compute_policy_loss"
_DAPO_TRAINER = f"{_PRIME} @999ebc9 recipe/dapo/dapo_ray_trainer.py"
_VERL_DEFAULT = ("UNCONFIRMED: not set by the script and this repo's verl yaml / fsdp_workers were not read; "
                 "verl's default")

RECIPES = {
    "qwen2.5-math-7b": Recipe(
        paper="STEER (Hao et al., arXiv 2510.10150), its vanilla-loss baseline",
        code="zz-haooo/STEER @b31df71 run/run_exp.sh with actor.policy_loss.loss_mode vanilla",
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
            "rollout.gen_prompts": (0, f"{_RUN} L39 verl.trainer.main_ppo draws one batch of train_batch_size "
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
            "How STEER launched its baselines is UNCONFIRMED: the repo ships run_exp.sh (entropy_control loss) "
            "and run_linear.sh only; this recipe is run_exp.sh with the loss mode vanilla (L60) and without the "
            "STEER weight arguments (L61-63).",
            "Hardware of the script: 8 GPUs (H20), 1 node (L81-82). entropy_coeff 0 (L56).",
            "Length: 10 x floor(N / 512) rollout steps; N = 17,917 unique prompts gives 340.",
        )),
    "qwen2.5-7b": Recipe(
        paper="The Entropy Mechanism of Reinforcement Learning for Reasoning Language Models (Cui et al., "
              "arXiv 2505.22617), its clip-higher baseline",
        code="PRIME-RL/Entropy-Mechanism-of-RL recipe/dapo/7b_cliphigher.sh, read at the mirror "
             "LiyuanLucasLiu/Entropy-Mechanism-of-RL @745b301 (the official repository is not in the store)",
        dataset="the authors' DAPO-Math based set (data/dapo-math-modified.parquet in the repo; README: 'Our "
                "training data is built from DAPO-MATH'; size and prompt format UNCONFIRMED)",
        fields={
            "model.preset": ("qwen2.5-7b", f"{_SH} L7 project_name 'Qwen2.5-7B' (MODEL_PATH L44 is a placeholder)"),
            "model.dtype": ("bfloat16", f"{_VERL_DEFAULT}: FSDP float32 master weights, bfloat16 compute "
                                        f"({_WORKERS} L216, L305-306)"),
            "data.template": ("chat_template", f"{_SH} L63 prompt_key=prompt, L70 return_raw_chat=True; verl "
                                               f"applies the tokenizer's chat template ({_DATASET})"),
            "data.question_field": ("prompt", f"{_SH} L63 data.prompt_key=prompt"),
            "data.answer_field": ("reward_model.ground_truth", f"{_PRIME} @999ebc9 "
                                                               f"verl/workers/reward_manager/dapo.py (ground_truth)"),
            "data.max_prompt_length": (2048, f"{_SH} L20 (truncation left L64, filter_overlong_prompts=False L65)"),
            "data.epochs": (1000, f"{_SH} L137 total_epochs=1000 (runs until stopped; the paper's length "
                                  f"UNCONFIRMED)"),
            "rollout.prompts_per_step": (256, f"{_SH} L31 train_prompt_bsz"),
            "rollout.gen_prompts": (256, f"{_SH} L32 gen_prompt_bsz = train_prompt_bsz * 1"),
            "rollout.num_samples": (8, f"{_SH} L34 n_resp_per_prompt"),
            "rollout.max_new_tokens": (8192, f"{_SH} L21 max_response_length"),
            "rollout.temperature": (1.0, f"{_SH} L51, L113"),
            "rollout.top_p": (1.0, f"{_SH} L52, L114"),
            "rollout.top_k": (0, f"{_SH} L53, L115 top_k -1 (off; 0 here)"),
            "reward.name": ("entropy_math", f"UNCONFIRMED for this repo: reward_manager dapo (L125) with "
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
            "objective.clip_higher.eps_low": (0.2, f"{_SH} L17 clip_ratio_low"),
            "objective.clip_higher.eps_high": (0.28, f"{_SH} L18 clip_ratio_high"),
            "objective.dual_clip_c": (None, f"{_SH} L76 sets clip_ratio_c=10.0, but {_ALGOS} has the dual clip "
                                            f"commented out (single-clip PPO)"),
            "objective.clamp_log_ratio": (False, f"{_ALGOS}: ratio = exp(log_prob - old_log_prob), no clamp"),
            "objective.kl.coef": (0.0, f"{_SH} L14-15 use_kl_loss=False / kl_loss_coef 0, L12 use_kl_in_reward"),
            "train.steps": (0, f"{_SH} L137: epochs, not steps"),
            "train.mini_batches": (8, f"{_SH} L33 train_prompt_mini_bsz 32 = 256 / 32"),
            "train.micro_batches": (16, f"{_SH} L35 max_token 10240 per GPU (dynamic batch, L55) = 1 full-length "
                                        f"sequence x 8 GPUs (L41 NNODES 1, L132 8 per node) = 8 of the 256 "
                                        f"mini-batch rows per micro step; a memory knob (any value gives the same "
                                        f"gradient): 16 = one row per data-parallel device of a v5p-128 (fsdp 16), "
                                        f"checked by launch/compile_check.py (docs/scale.md)"),
            "train.ppo_epochs": (1, f"{_VERL_DEFAULT} ppo_epochs 1"),
            "train.dynamic_sampling": (True, f"{_SH} L28 enable_filter_groups (metric acc L29)"),
            "train.max_gen_batches": (10, f"{_SH} L30 max_num_gen_batches"),
            "train.gen_cap": ("stop", f"{_DAPO_TRAINER} RayDAPOTrainer.fit raises ValueError at the cap"),
            "train.overlong_buffer": (0, f"{_SH} L22 enable_overlong_buffer=False"),
            "optim.lr": (5e-7, f"{_SH} L97"),
            "optim.warmup_steps": (0, f"{_SH} L99 warmup_style constant, no lr_warmup_steps (the warm-up lambda "
                                      f"of this repo's verl copy is UNCONFIRMED: the old min(1, step / max(1, W)) "
                                      f"form would run the first rollout step at lr 0)"),
            "optim.schedule": ("constant", f"{_SH} L99 warmup_style=constant"),
            "optim.schedule_unit": ("rollout", f"{_VERL_DEFAULT}: the FSDP worker steps the scheduler once per "
                                               f"update_actor ({_WORKERS} L634)"),
            "optim.weight_decay": (0.0, f"{_SH} L98"),
            "optim.b1": (0.9, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.b2": (0.999, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.eps": (1e-8, f"{_VERL_DEFAULT} (torch AdamW eps)"),
            "optim.grad_clip": (1.0, f"{_SH} L105"),
            "eval.every": (4, f"{_SH} L135 test_freq=4 (val_before_train=True L134)"),
            "eval.num_samples": (1, f"{_SH} L120 val_kwargs.n=1"),
            "eval.temperature": (0.0, f"{_SH} L119 val_kwargs.do_sample=False (greedy)"),
            "eval.top_p": (1.0, f"{_SH} L117 (irrelevant under greedy decoding)"),
            "eval.max_new_tokens": (8192, f"{_SH} L21 (validation generates to max_response_length)"),
        },
        notes=(
            "As stored, the script references ${k_percent} and ${ppo_kl_coef} (L78-79) without defining them "
            "under `set -u` and would stop there; its values are otherwise those of the sibling scripts.",
            "Hardware of the script: 1 node x 8 GPUs (L41, L132), rollout tensor parallel 2.",
            "The Clip-Cov paper's evaluation (AIME24/25, AMC, MATH-500, OMNI-MATH, OlympiadBench, Minerva): "
            "samples and temperature UNCONFIRMED.",
        )),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
