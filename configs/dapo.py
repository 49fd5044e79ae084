"""DAPO (Yu et al., arXiv 2503.14476): clip-higher (0.2 / 0.28), dynamic sampling and overlong reward
shaping in tokens, with a token-level loss.

Groups whose responses are all right or all wrong are dropped and refilled from further generation batches
(at most train.max_gen_batches; verl's DAPO trainer stops the run when they run out, train.gen_cap=stop);
responses past max - overlong_buffer tokens are penalized linearly.

Published recipes (docs/recipes.md):
* `:model=qwen2.5-32b`: verl's recipe/dapo/run_dapo_qwen2.5_32b.sh, the DAPO paper's run, read at its
  stored version volcengine/verl @03150d4. Qwen2.5-32B base on dapo-math-17k.parquet (the ~17.9k DAPO-Math-17k
  prompts repeated ~100 x, 1.79M rows, so one epoch is ~100 passes over the prompts), 512 prompts x 16
  from generation batches of 1536 (<= 10), 2048 / 20480 tokens with a 4096-token overlong buffer, lr 1e-6
  after 10 warm-up rollout steps, weight decay 0.1, rewards +1 / -1 from the "Answer:" match (math_dapo),
  validation every 5 steps on AIME-2024 (32 samples per problem at T 1.0, top-p 1.0).
* `:model=qwen3-14b-base`: the Beyond-the-80/20 paper's DAPO baseline, Shenzhi-Wang/Beyond-the-80-20-Rule-RLVR
  recipe/rlvr_with_high_entropy_tokens_only/run_dapo_qwen3_14b.sh @097092a (line for line the top-20 script
  of configs/forking_tokens.py without the entropy mask): Qwen3-14B-Base on math__combined_54.4k.parquet
  (~54.4k guru math problems), 30 epochs, the same batch / length / optimizer values as the 32B recipe,
  rewards 1 / 0 from naive_dapo (UNCONFIRMED which scorer runs), validation on AIME24 x 32 and MATH500 at
  T 1.0 / top-p 0.7.

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/dapo.py
A published recipe (every host of a pod runs the same command; verl-format parquet rows):
    python launch/tpu_pod.py --config configs/dapo.py:model=qwen2.5-32b \\
        --config.model.path=/path/to/Qwen2.5-32B --config.data.train_files=/path/to/dapo-math-17k.parquet \\
        --config.data.eval_files=/path/to/heldout.parquet --config.eval.benchmarks=aime24=/path/to/aime24.jsonl
    python launch/tpu_pod.py --config configs/dapo.py:model=qwen3-14b-base \\
        --config.model.path=/path/to/Qwen3-14B-Base --config.data.train_files=/path/to/math__combined_54.4k.parquet \\
        --config.data.eval_files=/path/to/heldout.parquet \\
        --config.eval.benchmarks=aime24=/path/to/aime24.jsonl,math500=/path/to/math500.jsonl
Any field can be overridden, e.g. --config.train.overlong_buffer=1024.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "clip_higher"
# The method's own settings, at every scale.
OWN = {"train": {"dynamic_sampling": True}}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {"train": {"max_gen_batches": 3, "gen_cap": "pad", "overlong_buffer": 4, "overlong_penalty": 1.0}}

_VERL_DEFAULT = "UNCONFIRMED: not set by the script and this verl version's yaml was not read; verl's default"
_STEER_WORKERS = "zz-haooo/STEER @bfc8d2e verl/workers/fsdp_workers.py"
_DATASET = "zz-haooo/STEER @bfc8d2e verl/utils/dataset/rl_dataset.py RLHFDataset.__getitem__"
_DAPO_TRAINER = "volcengine/verl @004c888 recipe/dapo/dapo_ray_trainer.py L207"
# verl's DAPO recipe, its stored (early) version.
_V = "volcengine/verl @03150d4 recipe/dapo/run_dapo_qwen2.5_32b.sh"
_MATH_DAPO = "volcengine/verl @012542c verl/utils/reward_score/math_dapo.py"
# Beyond-the-80/20's DAPO baseline.
_REPO = "Shenzhi-Wang/Beyond-the-80-20-Rule-RLVR"
_B = f"{_REPO} @097092a recipe/rlvr_with_high_entropy_tokens_only/run_dapo_qwen3_14b.sh"
_ROUTE = f"{_REPO} @20a259f verl/utils/reward_score/__init__.py"
_NAIVE = f"{_REPO} @097092a verl/utils/reward_score/naive_dapo.py compute_score"
_WORKERS = f"{_REPO} @ee14538 verl/workers/fsdp_workers.py update_actor"

RECIPES = {
    "qwen2.5-32b": Recipe(
        paper="DAPO: An Open-Source LLM Reinforcement Learning System at Scale (Yu et al., arXiv 2503.14476)",
        code=f"{_V} (an early version: recipe.dapo.src.main_dapo, use_token_level_loss; the v0.4.1 version "
             f"is not in the store)",
        dataset="BytedTsinghua-SIA DAPO-Math-17k as dapo-math-17k.parquet: ~17.9k unique prompts repeated ~100 x "
                "(1.79M rows; BytedTsinghua-SIA/DAPO issues #15 / #36, verl-project/verl issue #3065)",
        fields={
            "model.preset": ("qwen2.5-32b", f"{_V} L36 MODEL_PATH .../Qwen2.5-32B"),
            "model.dtype": ("bfloat16", f"{_VERL_DEFAULT}: FSDP float32 master weights, bfloat16 compute "
                                        f"({_STEER_WORKERS} L216, L305-306)"),
            "data.template": ("chat_template", f"{_V} L63 prompt_key=prompt; verl applies the tokenizer's chat "
                                               f"template ({_DATASET})"),
            "data.question_field": ("prompt", f"{_V} L63 data.prompt_key=prompt"),
            "data.answer_field": ("reward_model.ground_truth", f"{_MATH_DAPO} compute_score(solution_str, "
                                                               f"ground_truth)"),
            "data.max_prompt_length": (2048, f"{_V} L46, L65 (truncation left L64)"),
            "data.epochs": (1, f"{_V} L127 total_epochs=1 (~100 passes over the unique prompts)"),
            "rollout.prompts_per_step": (512, f"{_V} L22, L68 train_batch_size"),
            "rollout.gen_prompts": (1536, f"{_V} L23, L67 gen_batch_size = train_prompt_bsz * 3"),
            "rollout.num_samples": (16, f"{_V} L24, L69 rollout.n"),
            "rollout.max_new_tokens": (20480, f"{_V} L47, L66 max_response_length"),
            "rollout.temperature": (1.0, f"{_V} L42, L104"),
            "rollout.top_p": (1.0, f"{_V} L43, L105"),
            "rollout.top_k": (0, f"{_V} L44, L106 top_k -1 (off; 0 here)"),
            "reward.name": ("math_dapo", f"{_V} L115 reward_manager dapo -> {_MATH_DAPO} L245 "
                                         f"(strict_box_verify=False: the last 'Answer:' line)"),
            "reward.correct": (1.0, f"{_MATH_DAPO} L265"),
            "reward.incorrect": (-1.0, f"{_MATH_DAPO} L265"),
            "advantage.estimator": ("grpo", f"{_V} L7, L70"),
            "objective.loss_agg_mode": ("token-mean", f"{_V} L27, L98 use_token_level_loss=True"),
            "objective.clip_higher.eps_low": (0.2, f"{_V} L12, L73 clip_ratio_low"),
            "objective.clip_higher.eps_high": (0.28, f"{_V} L13, L74 clip_ratio_high"),
            "objective.dual_clip_c": (10.0, f"UNCONFIRMED: {_V} sets no clip_ratio_c; its v0.4-era version, as "
                                            f"copied by {_B} (L3 'keeping almost all the hyperparameters', L88), "
                                            f"sets 10.0"),
            "objective.kl.coef": (0.0, f"{_V} L9-10, L71-72 kl_coef / kl_loss_coef 0"),
            "train.steps": (0, f"{_V} L127: epochs, not steps"),
            "train.mini_batches": (16, f"{_V} L25, L93 ppo_mini_batch_size 32 prompts = 512 / 32"),
            "train.micro_batches": (32, f"{_V} L53, L82 dynamic batches of 22528 tokens per GPU (L52) x "
                                       f"Ulysses sequence parallel 8 (L51, L99) = 128 of the 512 mini-batch rows per micro "
                                       f"step on 16 nodes (L33) x 8 GPUs (L122); without sequence parallelism here, 32 "
                                       f"micro-batches = one 22,528-token row per device of a v5p-128 (fsdp 16), checked by "
                                       f"launch/compile_check.py (docs/scale.md; any value gives the same gradient)"),
            "rollout.prompts_per_call": (16, f"{_V} rolls out with vLLM, which decodes continuously within "
                                          f"its memory budget (no batch size in the script); 16 prompts x 16 samples = 256 "
                                          f"rows per sampler call fit a v5p-128 at 32B (docs/scale.md): 96 calls per "
                                          f"generation batch of 1,536 prompts"),
            "train.ppo_epochs": (1, f"{_VERL_DEFAULT} ppo_epochs 1"),
            "train.dynamic_sampling": (True, f"{_V} L19, L75 filter_groups.enable (metric acc L20, L77)"),
            "train.max_gen_batches": (10, f"{_V} L21, L76 max_num_gen_batches"),
            "train.gen_cap": ("stop", f"{_DAPO_TRAINER} raises ValueError at the cap"),
            "train.overlong_buffer": (4096, f"{_V} L15-16, L116-117 overlong_buffer enable / len"),
            "train.overlong_penalty": (1.0, f"{_V} L17, L118 overlong_buffer.penalty_factor"),
            "optim.lr": (1e-6, f"{_V} L90"),
            "optim.warmup_steps": (10, f"{_V} L91 lr_warmup_steps=10 (rollout steps; the first at lr 0)"),
            "optim.schedule": ("constant", f"{_VERL_DEFAULT} warmup_style constant"),
            "optim.schedule_unit": ("rollout", f"{_VERL_DEFAULT}: the FSDP worker steps the scheduler once per "
                                               f"update_actor ({_STEER_WORKERS} L634)"),
            "optim.weight_decay": (0.1, f"{_V} L92"),
            "optim.b1": (0.9, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.b2": (0.999, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.eps": (1e-8, f"{_VERL_DEFAULT} (torch AdamW eps)"),
            "optim.grad_clip": (1.0, f"{_V} L97"),
            "eval.every": (5, f"{_V} L125 test_freq=5 (val_before_train=True L124)"),
            "eval.num_samples": (32, f"{_V} L39 aime-2024.parquet: 30 problems x 32 rows at n=1 (L111), i.e. "
                                     f"mean@32"),
            "eval.temperature": (1.0, f"{_V} L107 val_kwargs.temperature"),
            "eval.top_p": (1.0, f"{_V} L108 val_kwargs.top_p (the v0.4-era version: 0.7)"),
            "eval.max_new_tokens": (20480, f"{_V} L47 (validation generates to max_response_length)"),
        },
        notes=(
            "Hardware of the script: 16 nodes x 8 GPUs (L33, L122), Ulysses sequence parallel 8, rollout tensor "
            "parallel 4; parameters and optimizer offloaded (L55).",
            "Length: one epoch of 1.79M rows in generation batches of 1536: at most 1166 generation batches, and "
            "every rollout step consumes at least one.",
            "The v0.4-era version of this script (as the Beyond-the-80/20 copy shows) sets clip_ratio_c 10, "
            "loss_agg_mode token-mean and validation top-p 0.7; the version pinned by verl's docs/algo/dapo.md "
            "(commit 4f80e465) is not in the store.",
            "L86-88 zero the model's dropout; this port has none.",
            "The 'Answer:' scorer expects DAPO-Math-17k's own prompt (it asks for an 'Answer:' line).",
        )),
    "qwen3-14b-base": Recipe(
        paper="Beyond the 80/20 Rule (Wang et al., arXiv 2506.01939), its DAPO baseline",
        code=f"{_B} (line for line the top-20 script except L13; no entropy_top_ratio line)",
        dataset="math__combined_54.4k.parquet (LLM360/guru-RL-92k math, ~54.4k problems, Reasoning360 format; "
                "the paper trained on DAPO-Math-17k, README)",
        fields={
            "model.preset": ("qwen3-14b-base", f"{_B} L48 MODEL_PATH .../Qwen3-14B-Base"),
            "model.dtype": ("bfloat16", f"{_VERL_DEFAULT}: FSDP float32 master weights, bfloat16 compute "
                                        f"({_STEER_WORKERS} L216, L305-306)"),
            "data.template": ("chat_template", f"{_B} L74 prompt_key=prompt; verl applies the tokenizer's chat "
                                               f"template ({_DATASET})"),
            "data.question_field": ("prompt", f"{_B} L74 data.prompt_key=prompt"),
            "data.answer_field": ("reward_model.ground_truth", f"{_ROUTE} L59-62 (compute_score(..., ground_truth))"),
            "data.max_prompt_length": (2048, f"{_B} L25, L76 (truncation left L75)"),
            "data.epochs": (30, f"{_B} L139 total_epochs=30"),
            "rollout.prompts_per_step": (512, f"{_B} L36, L79 train_batch_size"),
            "rollout.gen_prompts": (1536, f"{_B} L37, L78 gen_batch_size = train_prompt_bsz * 3"),
            "rollout.num_samples": (16, f"{_B} L38, L80 rollout.n"),
            "rollout.max_new_tokens": (20480, f"{_B} L26, L77 max_response_length"),
            "rollout.temperature": (1.0, f"{_B} L56, L115"),
            "rollout.top_p": (1.0, f"{_B} L57, L116"),
            "rollout.top_k": (0, f"{_B} L58, L117 top_k -1 (off; 0 here)"),
            "reward.name": ("naive_dapo", f"UNCONFIRMED which scorer runs: reward_manager dapo (L127); for math__* "
                                          f"data the stored {_ROUTE} L59-62 routes to math_dapo ('Answer:' match, "
                                          f"+1 / -1), while the latest commit ships {_NAIVE} (boxed answers, the "
                                          f"guru data's format)"),
            "reward.correct": (1.0, f"{_NAIVE} (1.0 / 0.0; the +1 / -1 line is commented out)"),
            "reward.incorrect": (0.0, f"{_NAIVE} (1.0 / 0.0; the +1 / -1 line is commented out)"),
            "reward.timeout_s": (20.0, f"{_NAIVE}: sympy budgets of 10 s per comparison inside; the pool limit "
                                       f"sits above them (rlvr_jax/rewards/_naive_dapo_reward.py)"),
            "advantage.estimator": ("grpo", f"{_B} L15, L81"),
            "objective.loss_agg_mode": ("token-mean", f"{_B} L31, L109"),
            "objective.clip_higher.eps_low": (0.2, f"{_B} L22, L86 clip_ratio_low"),
            "objective.clip_higher.eps_high": (0.28, f"{_B} L23, L87 clip_ratio_high"),
            "objective.dual_clip_c": (10.0, f"{_B} L88 clip_ratio_c"),
            "objective.kl.coef": (0.0, f"{_B} L17-20, L82-85 (no KL loss, no KL reward)"),
            "train.steps": (0, f"{_B} L139: epochs, not steps"),
            "train.mini_batches": (16, f"{_B} L39, L104 ppo_mini_batch_size 32 prompts = 512 / 32"),
            "train.micro_batches": (32, f"{_B} L64, L96 dynamic batches of 22528 tokens per GPU (L63) x "
                                       f"Ulysses sequence parallel 8 (L62, L110) = 128 of the 512 mini-batch rows per micro "
                                       f"step on 16 nodes (L45) x 8 GPUs (L134); without sequence parallelism here, 32 "
                                       f"micro-batches = one 22,528-token row per device of a v5p-128 (fsdp 16), checked by "
                                       f"launch/compile_check.py (docs/scale.md; any value gives the same gradient)"),
            "rollout.prompts_per_call": (32, f"{_B} rolls out with vLLM, which decodes continuously within "
                                          f"its memory budget (no batch size in the script); 32 prompts x 16 samples = 512 "
                                          f"rows per sampler call fit a v5p-128 (docs/scale.md): 48 calls per generation "
                                          f"batch of 1,536 prompts"),
            "train.ppo_epochs": (1, f"{_VERL_DEFAULT} ppo_epochs 1"),
            "train.dynamic_sampling": (True, f"{_B} L33, L89 filter_groups.enable (metric acc L34, L91)"),
            "train.max_gen_batches": (10, f"{_B} L35, L90 max_num_gen_batches"),
            "train.gen_cap": ("stop", f"{_DAPO_TRAINER} raises ValueError at the cap (the DAPO trainer of the "
                                      f"verl generation this repo forks)"),
            "train.overlong_buffer": (4096, f"{_B} L27-28, L128-129 overlong_buffer enable / len"),
            "train.overlong_penalty": (1.0, f"{_B} L29, L130 overlong_buffer.penalty_factor"),
            "optim.lr": (1e-6, f"{_B} L101"),
            "optim.warmup_steps": (10, f"{_B} L102 lr_warmup_steps=10 (rollout steps; the first at lr 0)"),
            "optim.schedule": ("constant", f"{_VERL_DEFAULT} warmup_style constant"),
            "optim.schedule_unit": ("rollout", f"{_WORKERS}: get_last_lr() then actor_lr_scheduler.step(), once "
                                               f"per rollout step"),
            "optim.weight_decay": (0.1, f"{_B} L103"),
            "optim.b1": (0.9, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.b2": (0.999, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.eps": (1e-8, f"{_VERL_DEFAULT} (torch AdamW eps)"),
            "optim.grad_clip": (1.0, f"{_B} L108"),
            "eval.every": (5, f"{_B} L137 test_freq=5 (val_before_train=True L136)"),
            "eval.num_samples": (32, f"{_B} L51 math__aime_repeated_32x_960.parquet: AIME24 rows repeated 32 x at "
                                     f"n=1 (L122), i.e. avg@32"),
            "eval.temperature": (1.0, f"{_B} L56, L118 val_kwargs.temperature"),
            "eval.top_p": (0.7, f"{_B} L59, L119 val_top_p"),
            "eval.max_new_tokens": (20480, f"{_B} L26 (validation generates to max_response_length)"),
        },
        notes=(
            "Hardware of the script: 16 nodes x 8 GPUs (L45, L134), Ulysses sequence parallel 8, rollout tensor "
            "parallel 4; parameters and optimizer offloaded (L66).",
            "Validation also runs MATH500 (L52) at one sample per row; eval.num_samples applies to every "
            "benchmark here.",
            "Length: 30 x floor(N / 1536) generation batches (N ~ 54.4k: 1050 in all), at most that many "
            "rollout steps (N and the paper's length UNCONFIRMED).",
            "With 1 / 0 rewards the overlong penalty (down to -1) weighs twice as much against the score as with "
            "DAPO's +1 / -1.",
        )),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
