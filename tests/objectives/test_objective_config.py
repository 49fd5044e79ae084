"""Config validation: every bad name or value fails at build time with the field and value named."""

from __future__ import annotations

import ml_collections
import pytest

from rlvr_jax.objectives import (METHOD_PRESETS, METHODS, ObjectiveConfig, build_objective, method_advantage,
                                 method_preset)
from rlvr_jax.objectives.advantages import ADVANTAGE_ESTIMATORS
from rlvr_jax.objectives.transforms.steer import Steer


@pytest.mark.parametrize("config,message", [
    ({"transforms": ("steeer",)}, r"unknown objective transform transforms='steeer'; known: .*steer"),
    ({"transforms": "steer"}, r"transforms must be a list of transform names.*got 'steer'"),
    ({"transforms": ("steer",), "steer": {"wmin": 0.5}},
     r"unknown steer hyperparameters \['wmin'\]; known: .*w_min"),
    ({"eps_hihg": 0.28}, r"unknown objective config keys \['eps_hihg'\]"),
    ({"steer": {"w_min": 0.7}}, r"sections \['steer'\] for transforms that are not in transforms"),
    ({"policy_loss": "ppo2"}, r"unknown policy loss policy_loss='ppo2'; known: cispo, gmpo, gpg, gspo, ppo, sapo"),
    ({"loss_agg_mode": "token-sum"}, r"loss_agg_mode='token-sum' is not one of"),
    ({"kl": {"kind": "k4", "coef": 0.1}}, r"unknown KL estimator kl.kind='k4'"),
    ({"kl": {"kind": "k3", "coeff": 0.1}}, r"unknown kl hyperparameters \['coeff'\]"),
    ({"eps_low": 1.5}, r"eps_low must be <= 1.0, got 1.5"),
    ({"dual_clip_c": 0.9}, r"dual_clip_c must be > 1.0, got 0.9"),
    ({"clamp_log_ratio": "yes"}, r"clamp_log_ratio must be True or False, got 'yes'"),
])
def test_bad_top_level_config_is_rejected(config, message):
  """Unknown names list the known ones; out-of-range values name field and value."""
  with pytest.raises(ValueError, match=message):
    build_objective(config)


@pytest.mark.parametrize("name,section,message", [
    ("steer", {"w_min": 0.9, "w_max": 0.8}, r"steer.w_min=0.9 must be <= steer.w_max=0.8"),
    ("steer", {"w_min": 0.0}, r"steer.w_min must be > 0.0, got 0.0"),
    ("steer", {"w_min": 1.1, "w_max": 1.2}, r"steer.w_min=1.1 must be <= 1 with mapping='exponential'"),
    ("steer", {"mapping": "log"}, r"steer.mapping='log' is not one of: exponential, linear"),
    ("steer", {"omega_form": "paper"}, r"steer.omega_form='paper' is not one of: code, theorem"),
    ("steer", {"norm_scope": "gpu"}, r"steer.norm_scope='gpu' is not one of: mini_batch, micro_batch"),
    ("siren", {"top_p": 0.0}, r"siren.top_p must be > 0.0, got 0.0"),
    ("siren", {"top_p": 1.2}, r"siren.top_p must be <= 1.0, got 1.2"),
    ("siren", {"top_k": 0}, r"siren.top_k must be >= 1, got 0"),
    ("siren", {"variant": "abla_wo_anchor"}, r"siren.variant='abla_wo_anchor' is not one of"),
    ("siren", {"variant": "naive_adaptive"}, r"siren.adaptive_lr must be set"),
    ("siren", {"adaptive_lr": 0.1}, r"siren.adaptive_lr=0.1 is only used by variant='naive_adaptive'"),
    ("siren", {"coef": True}, r"siren.coef must be a number, got True"),
    ("pos_adv_reweight", {"positive_weight": 1.5}, r"pos_adv_reweight.positive_weight must be <= 1.0"),
    ("pos_adv_reweight", {"schedule": "cosine"}, r"pos_adv_reweight.schedule='cosine' is not one of"),
    ("clip_cov", {"lower": 5.0, "upper": 1.0}, r"clip_cov.lower=5.0 must be < clip_cov.upper=1.0"),
    ("clip_cov", {"ratio": 0.0}, r"clip_cov.ratio must be > 0.0, got 0.0"),
    ("kl_cov", {"coef": -1.0}, r"kl_cov.coef must be >= 0.0, got -1.0"),
    ("fork_tokens", {"top_ratio": 1.5}, r"fork_tokens.top_ratio must be <= 1.0, got 1.5"),
    ("entropy_advantage", {"kappa": 0.0}, r"entropy_advantage.kappa must be > 0.0, got 0.0"),
    ("clip_higher", {"eps_high": -0.1}, r"clip_higher.eps_high must be >= 0.0, got -0.1"),
    ("adaptive_entropy", {"coef_step": 0.0}, r"adaptive_entropy.coef_step must be > 0.0"),
    ("rand_pos_clip", {"ratio": 2.0}, r"rand_pos_clip.ratio must be <= 1.0, got 2.0"),
    ("entropy_bonus", {"coef": float("nan")}, r"entropy_bonus.coef must be finite"),
])
def test_bad_transform_hyperparameters_are_rejected(name, section, message):
  """Each transform validates its own fields in __post_init__."""
  with pytest.raises(ValueError, match=message):
    build_objective({"transforms": (name,), name: section})


def test_order_duplicates_and_policy_loss_compatibility():
  """Duplicates, stale reads and PPO-only transforms under GPG are config errors."""
  with pytest.raises(ValueError, match=r"lists \['steer'\] more than once"):
    build_objective({"transforms": ("steer", "steer")})
  with pytest.raises(ValueError, match=r"'clip_higher' writes \['ppo_params'\], which 'clip_cov' reads"):
    build_objective({"transforms": ("clip_cov", "clip_higher")})
  with pytest.raises(ValueError, match=r"\['clip_higher'\] act on the PPO clipped loss.*'gpg'"):
    build_objective({"policy_loss": "gpg", "transforms": ("clip_higher",)})


def test_config_dict_and_dataclass_forms_build_the_same_objective():
  """ml_collections ConfigDict, a plain dict and a hand-built ObjectiveConfig are equivalent."""
  mapping = {"transforms": ("clip_higher", "steer"), "dual_clip_c": 10.0,
             "steer": {"mapping": "linear", "w_max": 1.2}}
  from_dict = build_objective(mapping)
  from_config_dict = build_objective(ml_collections.ConfigDict(mapping))
  direct = build_objective(ObjectiveConfig(dual_clip_c=10.0, transforms=(
      from_dict.config.transforms[0], Steer(mapping="linear", w_max=1.2))))
  assert from_dict.config == from_config_dict.config == direct.config
  assert hash(from_dict) == hash(direct)  # static: usable as a jit static argument


def test_every_preset_builds_and_pairs_with_a_registered_advantage_estimator():
  """METHOD_PRESETS are valid configs; their advantage estimators exist in the registry."""
  assert set(METHOD_PRESETS) == set(METHODS.names())
  for name in METHOD_PRESETS:
    build_objective(METHOD_PRESETS[name])
    estimator, _ = method_advantage(name)
    assert estimator in ADVANTAGE_ESTIMATORS, name


def test_presets_match_the_official_scripts():
  """Spot-check the released-script values of algorithms.md (STEER run_exp.sh, siren.sh, PRIME)."""
  steer = build_objective(METHOD_PRESETS["steer"]).config
  assert (steer.eps_low, steer.dual_clip_c) == (0.2, 10.0)
  clip, weights = steer.transforms
  assert (clip.eps_low, clip.eps_high) == (0.2, 0.28)
  assert (weights.w_min, weights.w_max, weights.mapping, weights.omega_form) == (0.8, 1.0, "exponential",
                                                                                  "code")
  siren = build_objective(METHOD_PRESETS["siren"]).config
  assert (siren.eps_low, siren.eps_high, siren.dual_clip_c, siren.clamp_log_ratio) == (0.2, 0.2, 3.0, False)
  assert siren.loss_agg_mode == "seq-mean-token-sum-norm" and siren.token_sum_norm_rows == "mean"
  regularizer = siren.transforms[0]
  assert (regularizer.coef, regularizer.top_p, regularizer.top_k, regularizer.mask_ratio) == (
      0.005, 0.8, 10000, 0.8)
  kl_cov = build_objective(METHOD_PRESETS["kl_cov"]).config.transforms[0]
  assert (kl_cov.ratio, kl_cov.coef) == (0.002, 1.0)


def test_presets_are_read_only_and_method_preset_returns_a_copy():
  """Editing a preset requires a copy, so one config cannot change another's defaults."""
  with pytest.raises(TypeError):
    METHOD_PRESETS["steer"]["steer"]["w_min"] = 0.5  # type: ignore[index]
  editable = method_preset("steer")
  editable["steer"]["w_min"] = 0.5
  assert METHOD_PRESETS["steer"]["steer"]["w_min"] == 0.8
  assert build_objective(editable).config.transforms[1].w_min == 0.5
  with pytest.raises(ValueError, match="unknown method preset 'stear'"):
    method_preset("stear")
