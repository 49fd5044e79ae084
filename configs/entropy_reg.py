"""Entropy regularization baseline: loss - beta * agg(H) with the current policy's full-vocabulary entropy,
aggregated like the policy loss (verl's entropy_coeff). For a target-entropy coefficient use the
adaptive_entropy preset (configs are python: copy this file).

Published recipes (docs/recipes.md): SIREN's naive entropy-regularization baseline, the seed that ran it
with a released script: Linn3a/siren exp_scripts/siren.sh @5cb224d with experiment_type=naive_entropy_reg
and use_siren=False (L38-40; the script ships the SIREN setting, so these values are UNCONFIRMED), beta
0.005 (L35). At both Qwen2.5-Math backbones of the README (`:model=qwen2.5-math-7b`,
`:model=qwen2.5-math-1.5b`): every other field is siren.sh's (Elliott/Openr1-Math-46k-8192, ~46k problems;
Dr.GRPO advantages, seq-mean-token-sum-norm over 3072 tokens averaged over rows, so the entropy term is
aggregated the same way; 2 epochs of 128 x 8, lr 1e-6 with 5 warm-up rollout steps, weight decay 0.1,
rewards 1 / 0 from math-verify; validation every 10 steps with 16 samples at T 0.6 / top-p 0.7).

Launch (embedded default: tiny policy, built-in arithmetic task, minutes on a CPU):
    python launch/tpu_pod.py --config configs/entropy_reg.py
The published recipes (every host of a pod runs the same command; verl-format parquet rows):
    python launch/tpu_pod.py --config configs/entropy_reg.py:model=qwen2.5-math-7b \\
        --config.model.path=/path/to/Qwen2.5-Math-7B --config.data.train_files=/path/to/openr1.parquet \\
        --config.data.eval_files=/path/to/validation.parquet
    python launch/tpu_pod.py --config configs/entropy_reg.py:model=qwen2.5-math-1.5b \\
        --config.model.path=/path/to/Qwen2.5-Math-1.5B --config.data.train_files=/path/to/openr1.parquet \\
        --config.data.eval_files=/path/to/validation.parquet
Any field can be overridden, e.g. --config.objective.entropy_bonus.coef=0.001.
"""

from rlvr_jax.config import Recipe, method_config

METHOD = "entropy_bonus"
# The method's own settings, at every scale.
OWN = {}
# Its values at the embedded default's scale, on top of rlvr_jax.config.EMBEDDED_PROFILE.
EMBEDDED = {}

_SH = "Linn3a/siren @5cb224d exp_scripts/siren.sh"
_ACTOR = "Linn3a/siren @5cb224d verl/verl/workers/actor/dp_actor.py"
_WORKERS = "Linn3a/siren @84f51ac verl/verl/workers/fsdp_workers.py"
_REWARD = "Linn3a/siren @84f51ac verl/recipe/entropy/reward_score.py"
_README = "Linn3a/siren @7f0e123 README.md"
_DATASET = "zz-haooo/STEER @bfc8d2e verl/utils/dataset/rl_dataset.py RLHFDataset.__getitem__"
_NO_YAML = "UNCONFIRMED: SIREN's vendored ppo_trainer.yaml is not in the store"


def _recipe(model: str, hf_name: str) -> Recipe:
  """SIREN's naive entropy-regularization baseline (siren.sh, experiment_type=naive_entropy_reg) at one of
  the README's Qwen2.5-Math backbones (the script leaves the model path open)."""
  return Recipe(
      paper="SIREN (Jiang et al., arXiv 2509.25133), its naive entropy-regularization baseline",
      code="Linn3a/siren @5cb224d exp_scripts/siren.sh with experiment_type=naive_entropy_reg, use_siren=False "
           "(L38-40)",
      dataset="Elliott/Openr1-Math-46k-8192 (data/openr1.parquet; ~46k NuminaMath-1.5 problems whose R1 traces "
              "fit 8192 tokens; exact row count UNCONFIRMED)",
      fields={
          "model.preset": (model, f"{_README} backbones Qwen2.5-Math-7B / -1.5B ({hf_name}); siren.sh L3 leaves "
                                  f"MODEL_PATH to the user"),
          "model.dtype": ("bfloat16", f"{_WORKERS} L168, L175 (float32 master weights, bfloat16 compute)"),
          "data.template": ("chat_template", f"{_SH} L58 return_raw_chat=True; verl's RLHFDataset applies the "
                                             f"tokenizer's chat template ({_DATASET}; SIREN's copy not read)"),
          "data.question_field": ("prompt", f"{_NO_YAML}; verl's data.prompt_key default 'prompt' "
                                            f"(siren.sh does not set it)"),
          "data.answer_field": ("reward_model.ground_truth", f"{_REWARD} L4 reward_func(..., ground_truth)"),
          "data.max_prompt_length": (1024, f"{_SH} L11, L54 (filter_overlong_prompts L56)"),
          "data.epochs": (2, f"{_SH} L114 total_epochs=2"),
          "rollout.prompts_per_step": (128, f"{_SH} L17, L52 train_batch_size"),
          "rollout.gen_prompts": (0, f"{_SH} L48 verl.trainer.main_ppo draws one batch of train_batch_size "
                                     f"(0 = rollout.prompts_per_step)"),
          "rollout.num_samples": (8, f"{_SH} L19, L53 rollout.n"),
          "rollout.max_new_tokens": (3072, f"{_SH} L12, L55 max_response_length"),
          "rollout.temperature": (1.0, f"{_SH} L26, L92"),
          "rollout.top_p": (1.0, f"{_SH} L28, L93"),
          "rollout.top_k": (0, f"{_SH} L29, L94 top_k -1 (off; 0 here)"),
          "reward.name": ("siren_math_verify", f"{_SH} L101-103 reward_manager naive + reward_func ({_REWARD} L4-17)"),
          "reward.correct": (1.0, f"{_REWARD} L13 score = acc"),
          "reward.incorrect": (0.0, f"{_REWARD} L13 score = acc (exceptions -> 0)"),
          "reward.timeout_s": (20.0, f"{_REWARD} L8-10: math-verify parse and verify with their own 5 s limits; "
                                     f"the pool limit sits above them (rlvr_jax/rewards/_siren_reward.py)"),
          "advantage.estimator": ("dr_grpo", f"{_SH} L49 grpo with L89 norm_adv_by_std_in_grpo=False"),
          "objective.loss_agg_mode": ("seq-mean-token-sum-norm", f"{_SH} L9, L100"),
          "objective.token_sum_norm_rows": ("mean", "Linn3a/siren @fa59a8d verl/verl/trainer/ppo/core_algos.py "
                                                    "agg_loss: mean over rows / T (algorithms.md §1.4)"),
          "objective.norm_constant": (3072.0, f"{_SH} L12: responses are padded to max_response_length, the "
                                              f"divisor (loss_mask.shape[-1])"),
          "objective.eps_low": (0.2, f"{_SH} L24, L63 set clip_ratio=0.28, but {_ACTOR} update_policy prefers "
                                     f"clip_ratio_low / high, which the yaml pins to 0.2 ({_NO_YAML}; "
                                     f"algorithms.md §6.3, read @fa59a8d)"),
          "objective.eps_high": (0.2, f"{_ACTOR} update_policy: clip_ratio_high from the yaml ({_NO_YAML}; "
                                      f"algorithms.md §6.3)"),
          "objective.dual_clip_c": (3.0, f"{_ACTOR} update_policy config.get('clip_ratio_c', 3.0); not set by "
                                         f"siren.sh"),
          "objective.clamp_log_ratio": (False, "Linn3a/siren @fa59a8d verl/verl/trainer/ppo/core_algos.py "
                                               "compute_policy_loss: no log-ratio clamp (algorithms.md §1.3)"),
          "objective.kl.coef": (0.0, f"{_SH} L72-73 use_kl_loss=False / kl_loss_coef 0, L88 use_kl_in_reward"),
          "objective.entropy_bonus.coef": (0.005, f"{_SH} L35, L75 entropy_coeff; {_ACTOR} update_policy "
                                                 f"naive_entropy_reg: pg_loss - coef * agg(H, loss_agg_mode)"),
          "train.steps": (0, f"{_SH} L114: the run ends when its 2 epochs are used up"),
          "train.mini_batches": (16, f"{_SH} L18, L65 ppo_mini_batch_size 8 prompts = 128 / 8"),
          "train.micro_batches": (4, f"{_SH} L31-32, L66, L69 dynamic batches of 4096 tokens per GPU = one "
                                      f"full-length (1024 + 3072) sequence per GPU on 1 GPU (L110); a memory knob "
                                      f"(any value gives the same gradient): 4 splits the 64-row mini-batch into one "
                                      f"row per data-parallel device of a v5p-128 (mesh=v5p-128: fsdp 16), checked by "
                                      f"launch/compile_check.py (docs/scale.md)"),
          "train.ppo_epochs": (1, f"{_NO_YAML}; verl's default ppo_epochs 1"),
          "train.dynamic_sampling": (False, f"{_SH} L48 verl.trainer.main_ppo (enable_filter_groups L14 is "
                                            f"never passed)"),
          "train.overlong_buffer": (0, f"{_SH} L101 reward_manager naive (no overlong shaping)"),
          "optim.lr": (1e-6, f"{_SH} L60"),
          "optim.warmup_steps": (5, f"{_SH} L61 lr_warmup_steps=5 (rollout steps; the first at lr 0)"),
          "optim.schedule": ("constant", f"{_NO_YAML}; verl's default warmup_style constant ({_WORKERS} "
                                         f"L295-304 builds the constant-with-warm-up schedule)"),
          "optim.schedule_unit": ("rollout", f"{_WORKERS} L520: actor_lr_scheduler.step() once per update_actor, "
                                             f"after update_policy L511"),
          "optim.weight_decay": (0.1, f"{_SH} L62"),
          "optim.b1": (0.9, f"{_WORKERS} L287-291 betas (0.9, 0.999)"),
          "optim.b2": (0.999, f"{_WORKERS} L287-291 betas (0.9, 0.999)"),
          "optim.eps": (1e-8, f"{_WORKERS} L287-291 (torch AdamW default eps)"),
          "optim.grad_clip": (1.0, f"{_NO_YAML}; its grad_clip 1.0 per algorithms.md §6.4 (read @fa59a8d)"),
          "eval.every": (10, f"{_SH} L113 test_freq=10 (val_before_train=False L108)"),
          "eval.num_samples": (16, f"{_SH} L99 val_kwargs.n=16"),
          "eval.temperature": (0.6, f"{_SH} L27, L95 val_kwargs.temperature"),
          "eval.top_p": (0.7, f"{_SH} L30, L96 val_kwargs.top_p"),
          "eval.max_new_tokens": (3072, f"{_SH} L12 (validation generates to max_response_length)"),
      },
      notes=(
          "Hardware of the script: 1 GPU (L110-111).",
          "Length: 2 x floor(N / 128) rollout steps; N ~ 46,000 gives 2 x 359 = 718 (N UNCONFIRMED).",
          "How the baseline was launched is UNCONFIRMED: siren.sh ships the SIREN setting (L38-40); this recipe "
          "is siren.sh with experiment_type=naive_entropy_reg and use_siren=False, so the entropy is the full-"
          "vocabulary one on every response token, aggregated like the loss (dp_actor: entropy_agg_mode = "
          "loss_agg_mode for 'naive' types). With the script's use_siren=True the 'naive' baseline would use "
          "SIREN's masked top-p entropy instead.",
          "Validation data (data/validation.parquet, L6): contents UNCONFIRMED.",
          "Paper evaluation (eval/eval_entropy.py @84f51ac): AIME24 / AIME25 x256, AMC x128, MATH500 x16, "
          "OlympiadBench x128 at T 0.6, top-p 1.0, up to 32768 tokens, pass / avg / maj @n; the stored script "
          "does not run as is (L243 uses an undefined name). The paper's k per benchmark is UNCONFIRMED.",
      ))


# Published recipes by model variant (`:model=...`): the official script's fields with their sources.
RECIPES = {
    "qwen2.5-math-7b": _recipe("qwen2.5-math-7b", "Qwen/Qwen2.5-Math-7B"),
    "qwen2.5-math-1.5b": _recipe("qwen2.5-math-1.5b", "Qwen/Qwen2.5-Math-1.5B"),
}


def get_config(arg: str | None = None):
  return method_config(__file__, arg, method=METHOD, own=OWN, embedded=EMBEDDED, recipes=RECIPES)
