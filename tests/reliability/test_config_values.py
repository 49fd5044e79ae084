"""Out-of-range values, unknown names and batch / mesh splits fail in `validate`, naming field and value.

tests/train/test_run_config.py covers the first cases (top_p, mini/micro-batches, estimator and reward
names, model.path, dtype, lr, mesh vs devices, overlong buffer); these are the rest.
"""

import pytest

from rlvr_jax.config import ConfigError, validate
from tests.reliability.conftest import config_with, write_hf_directory

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("field, value, message", [
    ("method", "stear", r"method='stear' is not a known method; known: .*steer"),
    ("data.template", "alpaca", r"data\.template='alpaca'; known: chat_template, qwen_code, qwen_math, raw"),
    ("data.max_prompt_length", 0, r"data\.max_prompt_length=0 must be an int >= 1"),
    ("data.epochs", 0, r"data\.epochs=0 must be an int >= 1"),
    ("data.answer_field", " ", r"data\.answer_field=' ' must name a field"),
    ("rollout.num_samples", 0, r"rollout\.num_samples=0 must be an int >= 1"),
    ("rollout.temperature", INF, r"rollout\.temperature=inf must be a finite number >= 0"),
    ("rollout.temperature", -0.5, r"rollout\.temperature=-0\.5 must be a finite number >= 0"),
    ("rollout.top_k", -1, r"rollout\.top_k=-1 must be >= 0"),
    ("rollout.stop_tokens", ",", r"rollout\.stop_tokens is empty"),
    ("train.steps", -1, r"train\.steps=-1 must be an int >= 0 \(0 = until data\.epochs are used up\)"),
    ("train.seed", -1, r"train\.seed=-1 must be an int >= 0"),
    ("train.gen_cap", "drop", r"train\.gen_cap='drop'; known: stop, pad"),
    ("train.max_gen_batches", -1, r"train\.max_gen_batches=-1 must be an int >= 0 \(0 = unlimited\)"),
    ("rollout.gen_prompts", 32, r"rollout\.gen_prompts=32 differs from rollout\.prompts_per_step=16, which only "
                                r"dynamic sampling"),
    ("rollout.prompts_per_call", -1, r"rollout\.prompts_per_call=-1 must be an int >= 0 \(0 = the whole generation"),
    ("rollout.prompts_per_call", 5, r"rollout\.prompts_per_call=5 does not divide the generation batch of 16 prompts"),
    ("optim.schedule_unit", "epoch", r"optim\.schedule_unit='epoch'; known: rollout, optimizer"),
    ("data.builtin_task", "poetry", r"data\.builtin_task='poetry'; known: arithmetic, code, countdown"),
    ("data.builtin_task", "countdown", r"data\.builtin_task='countdown' is scored by reward\.name='builtin_countdown', "
                                       r"not reward\.name="),
    ("name", "a/b", r"name='a/b' must be a non-empty run name without '/'"),
    ("model.attention", "flash", r"model\.attention='flash'; known: 'auto', 'xla', 'splash', 'cudnn'"),
    ("model.attention", "splash", r"model\.attention='splash' is a TPU \(Pallas Mosaic\) kernel; the platform is 'cpu'"),
    ("train.overlong_penalty", -1.0, r"train\.overlong_penalty=-1\.0 must be a finite number >= 0"),
    ("train.tis_cap", NAN, r"train\.tis_cap=nan must be >= 0"),
    ("reward.timeout_s", 0.0, r"reward\.timeout_s=0\.0 must be > 0"),
    ("reward.workers", 0, r"reward\.workers=0 must be an int >= 1"),
    ("reward.correct", NAN, r"reward\.correct=nan must be a finite number"),
    ("reward.incorrect", 1.0, r"reward\.correct=1\.0 must be greater than reward\.incorrect=1\.0"),
    ("optim.b2", 1.0, r"optim\.b2=1\.0 must be in \[0, 1\)"),
    ("optim.eps", 0.0, r"optim\.eps=0\.0 must be > 0"),
    ("optim.lr", INF, r"optim\.lr=inf must be a finite number > 0"),
    ("optim.min_lr_ratio", 2.0, r"optim\.min_lr_ratio=2\.0 must be in \[0, 1\]"),
    ("optim.schedule", "linear", r"optim\.schedule='linear'; known"),
    ("optim.max_consecutive_skips", 0, r"optim\.max_consecutive_skips must be >= 1, got 0"),
    ("checkpoint.keep", 0, r"checkpoint\.keep=0 must be an int >= 1"),
    ("checkpoint.every", -1, r"checkpoint\.every=-1 must be an int >= 0"),
    ("mesh.data", 0, r"mesh\.data=0: sizes must be positive or -1"),
    ("mesh.tensor", -1, r"at most one axis may be -1"),
    ("eval.every", -1, r"eval\.every=-1 must be an int >= 0"),
    ("eval.num_prompts", 0, r"eval\.num_prompts=0 must be an int >= 1"),
    ("eval.temperature", -1.0, r"eval\.temperature=-1\.0 must be a finite number >= 0"),
    ("eval.top_p", 0.0, r"eval\.top_p=0\.0 must be in \(0, 1\]"),
    ("eval.benchmarks", "gsm8k=/x.jsonl", r"unknown benchmark eval\.benchmarks='gsm8k'"),
    ("rollout.batching", "paged", r"rollout\.batching='paged'; known: continuous, static"),
    ("rollout.slots", -8, r"rollout\.slots=-8 must be an int >= 0"),
    ("rollout.decode_block", -1, r"rollout\.decode_block=-1 must be an int >= 0"),
    ("warm_start.steps", -1, r"warm_start\.steps=-1 must be an int >= 0"),
    ("warm_start.lr", 0.0, r"warm_start\.lr=0\.0 must be a finite number > 0"),
    ("warm_start.batch_size", 0, r"warm_start\.batch_size=0 must be an int >= 1"),
    # The critic and KL-in-reward sections are checked whatever the method, so a typo does not wait.
    ("critic.lr", 0.0, r"critic\.lr=0\.0 must be a finite number > 0"),
    ("critic.lr", NAN, r"critic\.lr=nan must be a finite number > 0"),
    ("critic.warmup_steps", -1, r"critic\.warmup_steps=-1 must be an int >= 0"),
    ("critic.weight_decay", -0.1, r"critic\.weight_decay=-0\.1 must be a finite number >= 0"),
    ("critic.grad_clip", INF, r"critic\.grad_clip=inf must be a finite number >= 0"),
    ("critic.cliprange_value", 0.0, r"critic\.cliprange_value=0\.0 must be a finite number > 0"),
    ("critic.loss_agg_mode", "sum", r"critic\.loss_agg_mode='sum'; known: token-mean, seq-mean-token-mean"),
    ("critic.critic_warmup", -1, r"critic\.critic_warmup=-1 must be an int >= 0"),
    ("critic.path", "/x", r"critic\.path='/x' is set but advantage\.estimator='grpo' reads no critic values"),
    ("kl_in_reward.kind", "k9", r"unknown KL estimator kl_in_reward\.kind='k9'; known: .*low_var_kl"),
    ("kl_in_reward.controller", "pid", r"unknown KL controller kl_in_reward\.controller='pid'; known: adaptive, "
                                       r"fixed"),
    ("kl_in_reward.coef", -1.0, r"kl_in_reward\.coef must be >= 0\.0, got -1\.0"),
    ("kl_in_reward.target_kl", 0.0, r"kl_in_reward\.target_kl must be > 0\.0, got 0\.0"),
    ("kl_in_reward.horizon", 0, r"kl_in_reward\.horizon must be > 0\.0, got 0"),
])
def test_out_of_range_values_name_field_and_value(field, value, message):
  with pytest.raises(ConfigError, match=message):
    validate(config_with(**{field: value}), num_devices=1)


@pytest.mark.parametrize("estimator, hparams, message", [
    ("grpo", {"norm_by_stdev": False}, r"advantage\.hparams=.*'grpo' got unknown hyperparameter\(s\) "
                                       r"\['norm_by_stdev'\]; accepted: \['norm_by_std', 'eps'\]"),
    ("grpo", {"eps": 0.0}, r"advantage\.hparams=\{'eps': 0\.0\}: grpo: eps must be in \(0\.0, inf\], got 0\.0"),
    ("qae", {"quantile": 1.5}, r"qae: quantile must be in \[0\.0, 1\.0\], got 1\.5"),
])
def test_advantage_hyperparameters_are_checked_without_compiling(estimator, hparams, message):
  """The estimator is traced abstractly (jax.eval_shape), so its own checks run before any compile."""
  config = config_with(**{"advantage.estimator": estimator})
  config.advantage.unlock()
  config.advantage.hparams.update(hparams)
  with pytest.raises(ConfigError, match=message):
    validate(config, num_devices=1)


def test_tpu_decode_block_fills_the_lanes():
  """On TPU decode runs the Pallas ragged kernel (blocks of 128-lane tiles); elsewhere any block goes."""
  bad = config_with(**{"rollout.decode_block": 64})
  with pytest.raises(ConfigError, match=r"rollout\.decode_block=64 must be a multiple of 128 on tpu: "
                                        r"model\.attention='auto' runs the Pallas ragged decode kernel"):
    validate(bad, num_devices=1, platform="tpu")
  on_cpu = validate(config_with(**{"rollout.decode_block": 64}), num_devices=1, platform="cpu")
  assert on_cpu.rollout.sampling.decode_block == 64
  assert validate(config_with(**{"rollout.decode_block": 256}), num_devices=1, platform="tpu")


def test_slots_need_continuous_batching():
  with pytest.raises(ConfigError, match=r"rollout\.slots=16 is for rollout\.batching='continuous', not 'static'"):
    validate(config_with(**{"rollout.batching": "static", "rollout.slots": 16}), num_devices=1)


def test_rollout_slots_default_to_a_quarter_of_a_calls_rows():
  """16 prompts per call x 8 samples = 128 rows -> 32 slots; static batching -> 0 (the static sampler)."""
  spec = validate(config_with(**{"rollout.prompts_per_step": 16, "rollout.num_samples": 8}), num_devices=1)
  assert spec.rollout.sampling.slots == 32
  spec = validate(config_with(**{"rollout.prompts_per_step": 16, "rollout.num_samples": 8,
                                 "rollout.batching": "static"}), num_devices=1)
  assert spec.rollout.sampling.slots == 0


def test_group_relative_estimator_needs_a_group():
  with pytest.raises(ConfigError, match=r"advantage\.estimator='grpo' is group-relative and needs "
                                        r"rollout\.num_samples >= 2, got 1"):
    validate(config_with(**{"rollout.num_samples": 1}), num_devices=1)


def test_prompt_plus_response_must_fit_the_context():
  """The tiny preset has 1024 positions; the sampler would otherwise cut every long response silently."""
  with pytest.raises(ConfigError, match=r"data\.max_prompt_length=128 \+ rollout\.max_new_tokens=1000 = 1128 "
                                        r"exceeds the model's max_position_embeddings=1024 \(preset 'tiny'\)"):
    validate(config_with(**{"rollout.max_new_tokens": 1000}), num_devices=1)
  with pytest.raises(ConfigError, match=r"eval\.max_new_tokens=2000"):
    validate(config_with(**{"eval.max_new_tokens": 2000}), num_devices=1)
  validate(config_with(**{"eval.max_new_tokens": 2000, "eval.every": 0}), num_devices=1)  # no eval, no limit


@pytest.mark.parametrize("fields, num_devices, message", [
    # 16 prompts x 8 samples / 2 mini-batches / 1 micro-batch = 64 rows; 64 does not split over 3 x 1 x 1.
    ({"mesh.data": 3, "mesh.fsdp": 1}, 3, r"micro-batch of 64 responses does not split over mesh\.data x "
                                          r"mesh\.fsdp = 3 x 1 = 3 data-parallel devices"),
    ({"train.micro_batches": 16}, 8, r"micro-batch of 4 responses does not split over .* = 1 x 8 = 8"),
    ({"mesh.fsdp": 3}, 8, r"mesh \{'data': 1, 'fsdp': 3, 'tensor': 1\} needs 3 devices, but 8 are available"),
    ({"mesh.tensor": 3}, 8, r"fixed axes \(3 devices\) do not divide the 8 available devices"),
    ({"train.mini_batches": 16, "train.micro_batches": 3}, 8,
     r"mini-batch of 8 responses .* is not divisible by train\.micro_batches=3"),
])
def test_mesh_must_divide_devices_and_batch(fields, num_devices, message):
  with pytest.raises(ConfigError, match=message):
    validate(config_with(**fields), num_devices=num_devices)


def test_every_host_loads_an_equal_share_of_prompts():
  with pytest.raises(ConfigError, match=r"rollout\.prompts_per_step=16 is not divisible by the 3 processes"):
    validate(config_with(), num_devices=1, num_processes=3)
  validate(config_with(), num_devices=1, num_processes=4)


def test_run_dir_that_is_a_file(tmp_path):
  (tmp_path / "run").write_text("")
  with pytest.raises(ConfigError, match=r"train\.run_dir='.*run' exists and is not a directory"):
    validate(config_with(**{"train.run_dir": str(tmp_path / "run")}), num_devices=1)


def test_critic_and_kl_in_reward_sections_become_typed_sections(tmp_path):
  """ppo gets a CriticSpec (its optimizer: the critic's lr / warm-up / decay / clip, the rest from optim);
  other estimators get none; kl_in_reward is None until enabled."""
  spec = validate(config_with("ppo", **{"critic.lr": 3e-4, "critic.warmup_steps": 2, "critic.critic_warmup": 5,
                                        "optim.b2": 0.99, "kl_in_reward.enabled": True,
                                        "kl_in_reward.controller": "adaptive"}), num_devices=1)
  assert spec.critic.optim.lr == 3e-4 and spec.critic.optim.warmup_steps == 2 and spec.critic.optim.b2 == 0.99
  assert spec.critic.critic_warmup == 5 and spec.critic.path == "" and spec.critic.cliprange_value == 0.5
  assert spec.critic.architecture == spec.model.architecture
  assert spec.kl_in_reward.controller == "adaptive" and spec.kl_in_reward.kind == "kl"
  grpo = validate(config_with("grpo"), num_devices=1)
  assert grpo.critic is None and grpo.kl_in_reward is None


def test_critic_path_is_checked_as_an_hf_directory(tmp_path):
  with pytest.raises(ConfigError, match=r"critic\.path='/does/not/exist' does not exist or is not a directory"):
    validate(config_with("ppo", **{"critic.path": "/does/not/exist"}), num_devices=1)
  small_vocab = write_hf_directory(tmp_path / "critic", vocab_size=256)
  with pytest.raises(ConfigError, match=r"critic\.path=.*its vocabulary \(256\) is smaller than the policy's \(512\)"):
    validate(config_with("ppo", **{"critic.path": small_vocab}), num_devices=1)
  short = write_hf_directory(tmp_path / "short", max_position_embeddings=64)
  with pytest.raises(ConfigError, match=r"= 144 exceeds the critic's max_position_embeddings=64"):
    validate(config_with("ppo", **{"critic.path": short}), num_devices=1)
  spec = validate(config_with("ppo", **{"critic.path": write_hf_directory(tmp_path / "ok", num_layers=2)}),
                  num_devices=1)
  assert spec.critic.architecture.num_layers == 2


@pytest.mark.parametrize("method", ["remax", "optimal_token_baseline", "ppo"])
def test_estimators_with_trainer_inputs_validate(method):
  """Validation traces each estimator with every input the trainer makes for it (greedy baselines,
  sum pi^2, critic values), so their hyperparameters are checked like the others'."""
  validate(config_with(method), num_devices=1)
  config = config_with(method)
  config.advantage.unlock()
  config.advantage.hparams["not_a_hyperparameter"] = 1.0
  with pytest.raises(ConfigError, match=r"got unknown hyperparameter\(s\) \['not_a_hyperparameter'\]"):
    validate(config, num_devices=1)
