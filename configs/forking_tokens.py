"""80/20 forking tokens (Wang et al., "Beyond the 80/20 Rule", arXiv 2506.01939): the policy gradient only
on the top-20% highest-entropy tokens, with DAPO's clip-higher, dynamic sampling and overlong shaping.

Published recipe (`:model=qwen3-14b-base`, docs/recipes.md): Shenzhi-Wang/Beyond-the-80-20-Rule-RLVR
recipe/rlvr_with_high_entropy_tokens_only/run_only_top20_high_entropy_tokens_dapo_qwen3_14b.sh @097092a,
field by field. Qwen3-14B-Base on the repo's recommended math__combined_54.4k.parquet (LLM360 guru-RL-92k
math split, ~54.4k problems; the paper itself trained on DAPO-Math-17k, README), 30 epochs of 512 prompts
x 16 drawn from generation batches of 1536 (dynamic sampling, <= 10 batches, the run stops at the cap),
2048 / 20480 tokens with a 4096-token overlong buffer, 16 optimizer steps per rollout step, lr 1e-6
after 10 warm-up rollout steps (the first at lr 0), weight decay 0.1, validation every 5 steps on AIME24
x 32 and MATH500 at T 1.0 / top-p 0.7. Rewards 1 / 0 from naive_dapo (which scorer the latest commit
routes its data to is UNCONFIRMED). The paper's Qwen3-8B and -32B runs have no released script and are not
offered. The Qwen2.5-Math models cannot hold 2048 + 20480 tokens (4096 positions).

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/forking_tokens.py
The published recipe (every host of a pod runs the same command; verl-format parquet rows):
    python launch/tpu_pod.py --config configs/forking_tokens.py:model=qwen3-14b-base \\
        --config.model.path=/path/to/Qwen3-14B-Base --config.data.train_files=/path/to/math__combined_54.4k.parquet \\
        --config.data.eval_files=/path/to/heldout.parquet \\
        --config.eval.benchmarks=aime24=/path/to/aime24.jsonl,math500=/path/to/math500.jsonl
Any field can be overridden, e.g. --config.objective.fork_tokens.top_ratio=0.1.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "fork_tokens"
# The method's own settings, at every scale.
OWN = {"train": {"dynamic_sampling": True}}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {"train": {"max_gen_batches": 3, "gen_cap": "pad"}}

_REPO = "Shenzhi-Wang/Beyond-the-80-20-Rule-RLVR"
_SH = (f"{_REPO} @097092a recipe/rlvr_with_high_entropy_tokens_only/"
       f"run_only_top20_high_entropy_tokens_dapo_qwen3_14b.sh")
_ROUTE = f"{_REPO} @20a259f verl/utils/reward_score/__init__.py"
_NAIVE = f"{_REPO} @097092a verl/utils/reward_score/naive_dapo.py compute_score"
_WORKERS = f"{_REPO} @ee14538 verl/workers/fsdp_workers.py update_actor"
_DAPO_TRAINER = "volcengine/verl @004c888 recipe/dapo/dapo_ray_trainer.py L207"
_STEER_WORKERS = "zz-haooo/STEER @bfc8d2e verl/workers/fsdp_workers.py"
_DATASET = "zz-haooo/STEER @bfc8d2e verl/utils/dataset/rl_dataset.py RLHFDataset.__getitem__"
_VERL_DEFAULT = ("UNCONFIRMED: not set by the script and this repo's verl yaml was not read; verl's default")

RECIPES = {
    "qwen3-14b-base": Recipe(
        paper="Beyond the 80/20 Rule: High-Entropy Minority Tokens Drive Effective Reinforcement Learning for "
              "LLM Reasoning (Wang et al., arXiv 2506.01939)",
        code=f"{_REPO} @097092a recipe/rlvr_with_high_entropy_tokens_only/"
             f"run_only_top20_high_entropy_tokens_dapo_qwen3_14b.sh (verl 6cf90ceb fork)",
        dataset="math__combined_54.4k.parquet (LLM360/guru-RL-92k math, ~54.4k problems, Reasoning360 format; "
                "the paper trained on DAPO-Math-17k, README)",
        fields={
            "model.preset": ("qwen3-14b-base", f"{_SH} L48 MODEL_PATH .../Qwen3-14B-Base"),
            "model.dtype": ("bfloat16", f"{_VERL_DEFAULT}: FSDP float32 master weights, bfloat16 compute "
                                        f"({_STEER_WORKERS} L216, L305-306)"),
            "data.template": ("chat_template", f"{_SH} L74 prompt_key=prompt; verl applies the tokenizer's chat "
                                               f"template ({_DATASET})"),
            "data.question_field": ("prompt", f"{_SH} L74 data.prompt_key=prompt"),
            "data.answer_field": ("reward_model.ground_truth", f"{_ROUTE} L59-62 (compute_score(..., ground_truth))"),
            "data.max_prompt_length": (2048, f"{_SH} L25, L76 (truncation left L75)"),
            "data.epochs": (30, f"{_SH} L139 total_epochs=30"),
            "rollout.prompts_per_step": (512, f"{_SH} L36, L79 train_batch_size"),
            "rollout.gen_prompts": (1536, f"{_SH} L37, L78 gen_batch_size = train_prompt_bsz * 3"),
            "rollout.num_samples": (16, f"{_SH} L38, L80 rollout.n"),
            "rollout.max_new_tokens": (20480, f"{_SH} L26, L77 max_response_length"),
            "rollout.temperature": (1.0, f"{_SH} L56, L115"),
            "rollout.top_p": (1.0, f"{_SH} L57, L116"),
            "rollout.top_k": (0, f"{_SH} L58, L117 top_k -1 (off; 0 here)"),
            "reward.name": ("naive_dapo", f"UNCONFIRMED which scorer runs: reward_manager dapo (L127); for math__* "
                                          f"data the stored {_ROUTE} L59-62 routes to math_dapo ('Answer:' match, "
                                          f"+1 / -1), while the latest commit ships {_NAIVE} (boxed answers, the "
                                          f"guru data's format)"),
            "reward.correct": (1.0, f"{_NAIVE} (1.0 / 0.0; the +1 / -1 line is commented out)"),
            "reward.incorrect": (0.0, f"{_NAIVE} (1.0 / 0.0; the +1 / -1 line is commented out)"),
            "reward.timeout_s": (20.0, f"{_NAIVE}: sympy budgets of 10 s per comparison inside; the pool limit "
                                       f"sits above them (rlvr_jax/rewards/_naive_dapo_reward.py)"),
            "advantage.estimator": ("grpo", f"{_SH} L15, L81"),
            "objective.loss_agg_mode": ("token-mean", f"{_SH} L31, L109"),
            "objective.clip_higher.eps_low": (0.2, f"{_SH} L22, L86 clip_ratio_low"),
            "objective.clip_higher.eps_high": (0.28, f"{_SH} L23, L87 clip_ratio_high"),
            "objective.dual_clip_c": (10.0, f"{_SH} L88 clip_ratio_c"),
            "objective.kl.coef": (0.0, f"{_SH} L17-20, L82-85 (no KL loss, no KL reward)"),
            "objective.fork_tokens.top_ratio": (0.2, f"{_SH} L142 actor_rollout_ref.model.entropy_top_ratio"),
            "train.steps": (0, f"{_SH} L139: epochs, not steps"),
            "train.mini_batches": (16, f"{_SH} L39, L104 ppo_mini_batch_size 32 prompts = 512 / 32"),
            "train.micro_batches": (32, f"{_SH} L64, L96 dynamic batches of 22528 tokens per GPU (L63) x "
                                       f"Ulysses sequence parallel 8 (L62, L110) = 128 of the 512 mini-batch rows per micro "
                                       f"step on 16 nodes (L45) x 8 GPUs (L134); without sequence parallelism here, 32 "
                                       f"micro-batches = one 22,528-token row per device of a v5p-128 (fsdp 16), checked by "
                                       f"launch/compile_check.py (docs/scale.md; any value gives the same gradient)"),
            "rollout.prompts_per_call": (32, f"{_SH} rolls out with vLLM, which decodes continuously within "
                                          f"its memory budget (no batch size in the script); 32 prompts x 16 samples = 512 "
                                          f"rows per sampler call fit a v5p-128 (docs/scale.md): 48 calls per generation "
                                          f"batch of 1,536 prompts"),
            "train.ppo_epochs": (1, f"{_VERL_DEFAULT} ppo_epochs 1"),
            "train.dynamic_sampling": (True, f"{_SH} L33, L89 filter_groups.enable (metric acc L34, L91)"),
            "train.max_gen_batches": (10, f"{_SH} L35, L90 max_num_gen_batches"),
            "train.gen_cap": ("stop", f"{_DAPO_TRAINER} raises ValueError at the cap (the DAPO trainer of the "
                                      f"verl generation this repo forks)"),
            "train.overlong_buffer": (4096, f"{_SH} L27-28, L128-129 overlong_buffer enable / len"),
            "train.overlong_penalty": (1.0, f"{_SH} L29, L130 overlong_buffer.penalty_factor"),
            "optim.lr": (1e-6, f"{_SH} L101"),
            "optim.warmup_steps": (10, f"{_SH} L102 lr_warmup_steps=10 (rollout steps; the first at lr 0)"),
            "optim.schedule": ("constant", f"{_VERL_DEFAULT} warmup_style constant"),
            "optim.schedule_unit": ("rollout", f"{_WORKERS}: get_last_lr() then actor_lr_scheduler.step(), once "
                                               f"per rollout step"),
            "optim.weight_decay": (0.1, f"{_SH} L103"),
            "optim.b1": (0.9, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.b2": (0.999, f"{_VERL_DEFAULT} betas (0.9, 0.999)"),
            "optim.eps": (1e-8, f"{_VERL_DEFAULT} (torch AdamW eps)"),
            "optim.grad_clip": (1.0, f"{_SH} L108"),
            "eval.every": (5, f"{_SH} L137 test_freq=5 (val_before_train=True L136)"),
            "eval.num_samples": (32, f"{_SH} L51 math__aime_repeated_32x_960.parquet: AIME24 rows repeated 32 x at "
                                     f"n=1 (L122), i.e. avg@32"),
            "eval.temperature": (1.0, f"{_SH} L56, L118 val_kwargs.temperature"),
            "eval.top_p": (0.7, f"{_SH} L59, L119 val_top_p"),
            "eval.max_new_tokens": (20480, f"{_SH} L26 (validation generates to max_response_length)"),
        },
        notes=(
            "Hardware of the script: 16 nodes x 8 GPUs (L45, L134), Ulysses sequence parallel 8, rollout tensor "
            "parallel 4; parameters and optimizer offloaded (L66).",
            "Validation also runs MATH500 (L52) at one sample per row; eval.num_samples applies to every "
            "benchmark here.",
            "Length: 30 x floor(N / 1536) generation batches (N ~ 54.4k: 35 per epoch, 1050 in all); every "
            "rollout step consumes at least one, so at most 1050 rollout steps (N and the paper's length "
            "UNCONFIRMED).",
            "The reference picks the top-20% tokens per micro-batch per GPU; the preset picks them over the "
            "mini-batch (objective.fork_tokens.norm_scope).",
            "Qwen3-14B-Base's 32768 positions are inferred from the smaller Qwen3 Base configs (UNCONFIRMED).",
        )),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
