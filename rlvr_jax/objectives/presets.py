"""Objective sections of each method as its official script runs it (algorithms.md §2-§8).

`METHOD_PRESETS[name]` is a read-only mapping for `build_objective` / `ObjectiveConfig.from_mapping`;
`configs/*.py` take `method_preset(name)` (a mutable copy) and override what they need.
`ADVANTAGE_PRESETS[name]` is the advantage estimator (and its hyperparameters) the same script pairs
with it, which is computed at rollout time and therefore not part of the objective.

Normalization scope: presets use the whole mini-batch ("mini_batch", the method as described). The
reference code computes its batch statistics per micro-batch per GPU; for parity runs set the
transform's `norm_scope` to "micro_batch" and label rows with `TokenBatch.norm_group`.
"""

from __future__ import annotations

import types
from typing import Any, Mapping

_VERL_PPO = {"policy_loss": "ppo", "loss_agg_mode": "token-mean", "eps_low": 0.2, "eps_high": 0.2,
             "dual_clip_c": 3.0, "clamp_log_ratio": True, "kl": None}
_DAPO_CLIP = {"dual_clip_c": 10.0, "clip_higher": {"eps_low": 0.2, "eps_high": 0.28}}

_PRESETS: dict[str, dict[str, Any]] = {
    # verl defaults (GRPO / RLOO / REINFORCE++ / OPO / PSR / NSR / W-REINFORCE differ in the advantage).
    "grpo": {**_VERL_PPO, "transforms": ()},
    # DAPO clip-higher as in the STEER and 80/20 scripts (c = 10).
    "clip_higher": {**_VERL_PPO, **_DAPO_CLIP, "transforms": ("clip_higher",)},
    # Dr.GRPO: constant normalizer, no KL (verl docs/algo/grpo.md).
    "dr_grpo": {**_VERL_PPO, "loss_agg_mode": "seq-mean-token-sum-norm", "transforms": ()},
    # GPG: -A log pi, no ratio, no clip.
    "gpg": {**_VERL_PPO, "policy_loss": "gpg", "transforms": ()},
    # STEER run/run_exp.sh (main), run_linear.sh, run_asymmetric.sh (upstream 08add1cc, UNCONFIRMED).
    "steer": {**_VERL_PPO, **_DAPO_CLIP, "transforms": ("clip_higher", "steer"),
              "steer": {"w_min": 0.8, "w_max": 1.0, "mapping": "exponential", "omega_form": "code"}},
    "steer_linear": {**_VERL_PPO, **_DAPO_CLIP, "transforms": ("clip_higher", "steer"),
                     "steer": {"w_min": 0.8, "w_max": 1.2, "mapping": "linear", "omega_form": "code"}},
    "steer_asymmetric": {**_VERL_PPO, **_DAPO_CLIP, "transforms": ("clip_higher", "steer"),
                         "steer": {"w_min": 0.9, "w_max": 1.0, "mapping": "linear",
                                   "mode": "asymmetric"}},
    # SIREN exp_scripts/siren.sh: effective clip 0.2/0.2 (the yaml pins clip_ratio_low/high, so the
    # script's clip_ratio=0.28 has no effect), c = 3, no log-ratio clamp (older verl copy), Dr.GRPO
    # aggregation with SIREN's row mean. For the exact 1 / (B_mini * 3072) constant also set
    # norm_constant = 3072 (max response length) and pass global_sequences = mini-batch rows.
    "siren": {**_VERL_PPO, "loss_agg_mode": "seq-mean-token-sum-norm", "token_sum_norm_rows": "mean",
              "clamp_log_ratio": False, "transforms": ("siren",),
              "siren": {"coef": 0.005, "top_p": 0.8, "top_k": 10000, "mask_ratio": 0.8}},
    # Revisiting Entropy (2511.05993): entropy-guided lambda, delta 0.2, Delta 0.05, lambda_0 0
    # (third-party notes, UNCONFIRMED; base clip range UNCONFIRMED, verl default used).
    "pos_adv_reweight": {**_VERL_PPO, "transforms": ("pos_adv_reweight",),
                         "pos_adv_reweight": {"schedule": "entropy_guided", "positive_weight": 0.0,
                                              "target_entropy": 0.2, "step_size": 0.05}},
    # PRIME-RL recipe/dapo/7b_clip_cov.sh: clip range [0, 2], c = 10 (unused by the loss).
    "clip_cov": {**_VERL_PPO, "eps_low": 1.0, "eps_high": 1.0, "dual_clip_c": 10.0,
                 "transforms": ("clip_cov",),
                 "clip_cov": {"ratio": 2e-4, "lower": 1.0, "upper": 5.0}},
    # PRIME-RL recipe/dapo/7b_kl_cov.sh: k_percent 0.2 (%) -> ratio 0.002, beta 1.
    "kl_cov": {**_VERL_PPO, "dual_clip_c": 10.0, "transforms": ("kl_cov",),
               "kl_cov": {"ratio": 0.002, "coef": 1.0}},
    # Beyond the 80/20 rule: DAPO clip + top-20% entropy tokens.
    "fork_tokens": {**_VERL_PPO, **_DAPO_CLIP, "transforms": ("clip_higher", "fork_tokens"),
                    "fork_tokens": {"top_ratio": 0.2}},
    # Entropy-based advantage as SIREN's baseline runs it (alpha 0.4, kappa 1, Dr.GRPO aggregation).
    "entropy_advantage": {**_VERL_PPO, "loss_agg_mode": "seq-mean-token-sum-norm",
                          "token_sum_norm_rows": "mean", "clamp_log_ratio": False,
                          "transforms": ("entropy_advantage",),
                          "entropy_advantage": {"alpha": 0.4, "kappa": 1.0}},
    # Naive entropy bonus with SIREN's beta (its `naive_entropy_reg` baseline).
    "entropy_bonus": {**_VERL_PPO, "transforms": ("entropy_bonus",), "entropy_bonus": {"coef": 0.005}},
    # Ada-Ent-Reg (Skywork-OR1 style; UNCONFIRMED step size), target 0.2 as in the Revisiting comparison.
    "adaptive_entropy": {**_VERL_PPO, "transforms": ("adaptive_entropy",),
                         "adaptive_entropy": {"target_entropy": 0.2, "initial_coef": 0.0,
                                              "coef_step": 0.005}},
}

ADVANTAGE_PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "grpo": ("grpo", {}),
    "clip_higher": ("grpo", {}),
    "dr_grpo": ("dr_grpo", {}),
    "gpg": ("gpg", {}),
    "steer": ("grpo", {}),
    "steer_linear": ("grpo", {}),
    "steer_asymmetric": ("grpo", {}),
    "siren": ("dr_grpo", {}),
    "pos_adv_reweight": ("grpo", {}),
    "clip_cov": ("grpo", {}),
    "kl_cov": ("grpo", {}),
    "fork_tokens": ("grpo", {}),
    "entropy_advantage": ("dr_grpo", {}),
    "entropy_bonus": ("grpo", {}),
    "adaptive_entropy": ("grpo", {}),
}


def _freeze(value: Any) -> Any:
  if isinstance(value, Mapping):
    return types.MappingProxyType({key: _freeze(item) for key, item in value.items()})
  return value


def _thaw(value: Any) -> Any:
  if isinstance(value, Mapping):
    return {key: _thaw(item) for key, item in value.items()}
  return value


# Read-only (nested mapping proxies): a config that edits a preset must take a copy first.
METHOD_PRESETS: Mapping[str, Mapping[str, Any]] = _freeze(_PRESETS)


def method_preset(name: str) -> dict[str, Any]:
  """A mutable deep copy of METHOD_PRESETS[name], for configs that override fields."""
  if name not in METHOD_PRESETS:
    raise ValueError(f"unknown method preset {name!r}; known: {', '.join(sorted(METHOD_PRESETS))}")
  return _thaw(METHOD_PRESETS[name])
