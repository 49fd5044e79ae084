"""The base run configuration (ml_collections): every field a run has, with its default and meaning.

Every `configs/<name>.py` starts from it (`rlvr_jax.config._layers`), and every field can be overridden on
the command line (`--config.optim.lr=1e-6`); the dict is locked, so a misspelled key fails at parse time
naming itself. `rlvr_jax.config.validate` then checks the values and turns each section into a frozen,
typed dataclass before anything is compiled.
"""

from __future__ import annotations

import ml_collections

from rlvr_jax.objectives._kl_reward import KLInRewardConfig
from rlvr_jax.objectives._presets import METHOD_PRESETS, dataclass_defaults, method_advantage, method_preset


def base_config(method: str) -> ml_collections.ConfigDict:
  """The full config for `method` (a key of `rlvr_jax.objectives._presets.METHOD_PRESETS`)."""
  if method not in METHOD_PRESETS:
    raise ValueError(f"method={method!r} is not a known method; known: {', '.join(sorted(METHOD_PRESETS))}")
  c = ml_collections.ConfigDict()
  c.name = method                  # run name: the config file and its variant (runs/<name> by default)
  c.method = method

  c.model = ml_collections.ConfigDict()
  c.model.preset = "tiny"          # architecture when no path is given (the embedded default)
  c.model.path = ""                # HF directory with config.json + safetensors; "" = embedded default
  c.model.tokenizer = ""           # tokenizer directory; "" = model.path (or the built-in one)
  c.model.dtype = "float32"        # compute dtype (matmuls, activations, KV cache): bfloat16 or float32;
                                   # parameters, optimizer state and checkpoints are always float32
  c.model.remat = False            # recompute decoder blocks in backward (long sequences)
  c.model.scan_layers = False      # stack the decoder layers and run them with lax.scan (fast compiles at
                                   # scale; pair it with remat, as MaxText does)
  c.model.attention = "auto"       # auto (splash on TPU, cuDNN on GPU in bf16, XLA on CPU) | xla | splash | cudnn

  c.mesh = ml_collections.ConfigDict(dict(data=1, fsdp=-1, tensor=1))

  c.data = ml_collections.ConfigDict()
  c.data.train_files = ""          # comma-separated JSONL / Parquet files; "" = built-in arithmetic task
  c.data.eval_files = ""           # held-out prompts; "" = the built-in task's held-out split
  c.data.builtin_task = "arithmetic"  # the built-in task of the embedded default: arithmetic | code
  c.data.question_field = "question"
  c.data.answer_field = "answer"
  c.data.template = "qwen_math"    # qwen_math | raw | chat_template
  c.data.max_prompt_length = 512
  c.data.skip_malformed = False    # False: a malformed row raises with file:line
  c.data.shuffle_seed = 0
  c.data.epochs = 100              # passes over the training prompts (the run stops at train.steps)

  c.rollout = ml_collections.ConfigDict()
  c.rollout.prompts_per_step = 8   # verl train_batch_size
  c.rollout.gen_prompts = 0        # prompts per generation batch (verl data.gen_batch_size); 0 = prompts_per_step
  c.rollout.prompts_per_call = 0   # prompts one sampler call decodes together (their rows share a KV cache);
                                   # a generation batch runs as gen_prompts / this calls; 0 = one call
  c.rollout.num_samples = 8        # responses per prompt (the GRPO group, verl rollout.n)
  c.rollout.max_new_tokens = 1024
  c.rollout.temperature = 1.0
  c.rollout.top_p = 1.0
  c.rollout.top_k = 0              # 0 = off
  c.rollout.stop_tokens = "<|im_end|>,<|endoftext|>"
  c.rollout.batching = "continuous"  # "continuous": decode slots refilled as responses end; "static": every row
                                   # keeps its slot until the call's longest response ends
  c.rollout.slots = 0              # continuous decode slots per sampler call; 0 = a quarter of the call's rows
  c.rollout.decode_block = 128     # KV cache slots decode attention reads at a time (only filled blocks); 0 = all

  c.reward = ml_collections.ConfigDict()
  c.reward.name = "math_verify"
  c.reward.correct = 1.0
  c.reward.incorrect = 0.0
  c.reward.format_weight = 0.0     # bonus for a well-formed \boxed{} answer
  c.reward.timeout_s = 10.0
  c.reward.workers = 2
  c.reward.sandbox = ml_collections.ConfigDict()  # code rewards only (docs/security.md)
  c.reward.sandbox.memory_mb = 1024  # memory of one program run, all its processes together
  c.reward.sandbox.python = ""       # interpreter of the programs ("" = probe: the trainer's, else python3)
  c.reward.sandbox.isolate_network = "auto"  # auto | require | off
  c.reward.sandbox.drop_privileges = "auto"  # auto | require | off (a uid per run when root)
  c.reward.sandbox.memory_cgroup = "auto"    # auto | require | off: a memory cgroup per run (else one process)
  c.reward.sandbox.syscall_filter = "require"  # require | off: seccomp filter (no sockets, no ptrace)
  c.reward.sandbox.cgroup_parent = ""        # cgroup directory for the runs' cgroups ("" = the trainer's own)

  estimator, hparams = method_advantage(method)
  c.advantage = ml_collections.ConfigDict()
  c.advantage.estimator = estimator
  c.advantage.hparams = ml_collections.ConfigDict(hparams)

  objective = method_preset(method)
  # Every top-level objective field is present so the command line can set it; kl.coef = 0 is off.
  for key, default in (("norm_constant", None), ("empty_rows", "zero"), ("token_sum_norm_rows", "sum"),
                       ("entropy_change_diagnostic", False)):
    objective.setdefault(key, default)
  objective["kl"] = objective.get("kl") or {"kind": "low_var_kl", "coef": 0.0}
  c.objective = ml_collections.ConfigDict(objective)

  # KL to the reference charged in the reward (verl algorithm.use_kl_in_reward), beside or instead of the
  # objective's KL loss: token reward = score on the last token - coef * KL(old || ref) per token; the
  # coefficient is controller state in the checkpoint (kl_in_reward/coef, kl_in_reward/kl logged).
  c.kl_in_reward = ml_collections.ConfigDict()
  c.kl_in_reward.enabled = False
  for key, default in dataclass_defaults(KLInRewardConfig).items():
    # kind: KL estimator (verl algorithm.kl_penalty); controller: fixed | adaptive (verl kl_ctrl.type);
    # coef: initial coefficient; target_kl, horizon: the adaptive controller's (verl kl_ctrl.*)
    c.kl_in_reward[key] = default

  # PPO's critic (verl critic.*): a value model (the Qwen backbone + a scalar head) is trained when the
  # advantage estimator reads critic values (gae, the `ppo` method); other estimators ignore this section.
  c.critic = ml_collections.ConfigDict()
  c.critic.path = ""               # HF directory of the value model's backbone; "" = the policy's checkpoint
  c.critic.lr = 1e-5               # verl critic.optim.lr
  c.critic.warmup_steps = 0        # linear lr warm-up, in optim.schedule_unit steps
  c.critic.weight_decay = 0.01
  c.critic.grad_clip = 1.0
  c.critic.cliprange_value = 0.5   # clipped value loss: V may move at most this far from its rollout value
  c.critic.loss_agg_mode = "token-mean"
  c.critic.critic_warmup = 0       # verl trainer.critic_warmup: the first N rollout steps train only the critic

  c.train = ml_collections.ConfigDict()
  c.train.steps = 100              # rollout steps (verl "training steps"); 0 = until data.epochs are used up
  c.train.mini_batches = 1         # optimizer steps per rollout batch (N_update)
  c.train.micro_batches = 1        # gradient accumulation per mini-batch
  c.train.ppo_epochs = 1
  c.train.shared_prompt_forward = False  # teacher-forced passes run each group's prompt once (exact; faster
                                         # where prompts are long next to responses)
  c.train.seed = 0
  c.train.chunk_size = 1024        # tokens per LM-head chunk
  c.train.dynamic_sampling = False  # DAPO: drop groups with identical rewards and refill
  c.train.max_gen_batches = 3      # generation batches per step for dynamic sampling (0 = unlimited)
  c.train.gen_cap = "stop"         # still short at max_gen_batches: stop the run (as verl's DAPO trainer)
                                   # | pad (fill with zero-advantage groups)
  c.train.overlong_buffer = 0      # DAPO overlong shaping, in tokens (0 = off)
  c.train.overlong_penalty = 1.0
  c.train.mask_truncated = False   # drop responses cut at max_new_tokens from the loss
  c.train.tis_cap = 0.0            # truncated importance sampling cap on pi_old / pi_rollout (0 = off)
  c.train.run_dir = ""             # "" = runs/<name>

  c.optim = ml_collections.ConfigDict()
  c.optim.lr = 1e-6
  c.optim.warmup_steps = 0         # linear warm-up from 0, in schedule_unit steps
  c.optim.schedule = "constant"    # constant | cosine
  c.optim.schedule_unit = "rollout"  # rollout: the lr changes once per rollout step, as verl's scheduler
                                     # (warm-up / cosine in rollout steps) | optimizer: once per update
  c.optim.min_lr_ratio = 0.0       # cosine floor
  c.optim.weight_decay = 0.01
  c.optim.b1 = 0.9
  c.optim.b2 = 0.999
  c.optim.eps = 1e-8
  c.optim.grad_clip = 1.0
  c.optim.max_consecutive_skips = 5  # non-finite updates in a row before the run stops (exit 3)

  c.checkpoint = ml_collections.ConfigDict(dict(every=50, keep=3, export_hf_every=0))

  c.log = ml_collections.ConfigDict(dict(tensorboard=True))

  c.eval = ml_collections.ConfigDict()
  c.eval.every = 10                # rollout steps between held-out evaluations (0 = off)
  c.eval.num_prompts = 64
  c.eval.num_samples = 1
  c.eval.temperature = 0.0         # 0 = greedy
  c.eval.top_p = 1.0
  c.eval.benchmarks = ""           # comma-separated name=path (e.g. math500=/data/math500.jsonl); "" = built-in held-out
  c.eval.max_new_tokens = 1024

  # Entropy diagnostics (`diag/*` metrics, RUN_DIR/diagnostics/*.npz): the papers' analyses, measured.
  c.diagnostics = ml_collections.ConfigDict()
  c.diagnostics.every = 0          # rollout steps between diagnostic steps (0 = off; costs two scoring passes)
  c.diagnostics.prob_threshold = 0.0  # quadrant split: 0 = STEER's pi > exp(-H), else a probability cut
  c.diagnostics.ece_bins = 10
  c.diagnostics.top_p = 0.8        # nucleus of the top-p entropy aggregate (SIREN's default)
  c.diagnostics.top_k = 10000
  c.diagnostics.mask_ratio = 0.8   # SIREN's peak-entropy quantile

  c.warm_start = ml_collections.ConfigDict()
  c.warm_start.steps = 0           # supervised steps on the built-in task before RL (embedded default)
  c.warm_start.lr = 3e-3
  c.warm_start.batch_size = 64
  return c
