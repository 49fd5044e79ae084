"""One rollout: generate n responses per prompt with the live policy, score them, shape rewards, compute
the old / reference log-probs (and the critic's values), then the advantages, and pack a `TrainBatch` for
the update steps.

ReMax also samples one greedy response per prompt (a second compiled sampler, temperature 0) and scores
it with the run's reward: its shaped reward is the prompt's baseline. KL in the reward charges
beta * KL(old || ref) per token before the advantages (`advantage_inputs`).

Host work here is per response (decode to text, verify answers), never per token; everything per token
runs in jitted functions whose shapes are fixed by the config, so nothing recompiles between steps.

Multi-process runs: `prompt_batches` yields the global batch on every host (`global_prompts`), device
outputs come back whole on every host (`to_host`), and every host decodes and scores every response. The
host work is duplicated (it is small next to sampling), so every host holds the same rewards, advantages
and metrics without a second exchange, and `place` turns the identical host arrays into global arrays.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator

import jax
import numpy as np

from rlvr_jax.diagnostics import ResponseOutcomes
from rlvr_jax.diagnostics._host_arrays import to_host
from rlvr_jax.objectives._kl_reward import KLInRewardConfig
from rlvr_jax.sampling import SamplingSettings
from rlvr_jax.train import _shaping as shaping
from rlvr_jax.train._advantage_inputs import EstimatorNeeds, rollout_advantages
from rlvr_jax.train._train_batch import TrainBatch

# Stream of the greedy sampler's key, folded into a generation batch's key (greedy draws nothing, but the
# sampler takes a key).
_GREEDY_STREAM = 1


@dataclasses.dataclass(frozen=True)
class RolloutConfig:
  prompts_per_step: int
  sampling: SamplingSettings
  advantage_estimator: str
  advantage_hparams: dict
  dynamic_sampling: bool = False
  max_gen_batches: int = 1  # 0 = unlimited
  gen_cap: str = "stop"  # shaping.GEN_CAP_MODES
  overlong_buffer: int = 0
  overlong_penalty: float = 1.0
  mask_truncated: bool = False
  tis_cap: float = 0.0
  need_old_entropy: bool = False
  needs: EstimatorNeeds = EstimatorNeeds()  # what the estimator reads besides rewards and old log-probs
  kl_in_reward: KLInRewardConfig | None = None


@dataclasses.dataclass
class Generated:
  """Host copies of one generation batch (rows prompt-major: prompt p's samples are adjacent)."""

  prompt_ids: np.ndarray      # [R, P]
  prompt_mask: np.ndarray     # [R, P]
  tokens: np.ndarray          # [R, N]
  response_mask: np.ndarray   # [R, N]
  behaviour_logp: np.ndarray  # [R, N]
  lengths: np.ndarray         # [R]
  truncated: np.ndarray       # [R] bool
  answers: list[str]
  scores: np.ndarray          # [R] float32
  correct: np.ndarray         # [R] bool
  reward_metrics: dict
  decode_counts: dict         # the sampler's `DecodeStats` counters (summed over generation batches)
  extracted: list             # [R] the verifier's extracted final answers (None: none found)
  baseline_rewards: np.ndarray | None = None  # [R] shaped reward of the prompt's greedy response (ReMax)

  def take_groups(self, groups: np.ndarray, n: int) -> "Generated":
    rows = (groups[:, None] * n + np.arange(n)[None, :]).reshape(-1)
    fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
    out = {k: (v[rows] if isinstance(v, np.ndarray) else v) for k, v in fields.items()}
    out["answers"] = [self.answers[r] for r in rows]
    out["extracted"] = [self.extracted[r] for r in rows]
    return Generated(**out)


def _left_pad(x: np.ndarray, width: int) -> np.ndarray:
  return np.pad(x, ((0, 0), (width - x.shape[1], 0)))


def _decode_counts(stats) -> dict:
  """The sampler's `DecodeStats` as host floats ({} when a generate function reports none)."""
  return {} if stats is None else {k: float(v) for k, v in dataclasses.asdict(jax.device_get(stats)).items()}


def _concat(parts: list[Generated]) -> Generated:
  """Joins generation batches (dynamic sampling); prompts of different buckets are left-padded to the
  widest (pad ids are masked, so their value does not matter)."""
  width = max(p.prompt_ids.shape[1] for p in parts)
  parts = [dataclasses.replace(p, prompt_ids=_left_pad(p.prompt_ids, width), prompt_mask=_left_pad(p.prompt_mask, width))
           for p in parts]
  first = parts[0]
  out = {}
  for f in dataclasses.fields(first):
    values = [getattr(p, f.name) for p in parts]
    if values[0] is None:
      out[f.name] = None
    elif isinstance(values[0], np.ndarray):
      out[f.name] = np.concatenate(values)
    elif isinstance(values[0], list):
      out[f.name] = sum(values, [])
    else:
      merged: dict = {}
      for m in values:
        for k, v in m.items():
          merged[k] = merged.get(k, 0) + v
      out[f.name] = merged
  return Generated(**out)


def _greedy_baseline(config: RolloutConfig, greedy_fn: Callable[..., Any], batch: Any, key: jax.Array,
                     score_texts: Callable, decode: Callable) -> np.ndarray:
  """[R] the shaped reward of each prompt's greedy response, repeated over the prompt's n rows (ReMax)."""
  out = greedy_fn(batch.ids, batch.mask, batch.row_ids, key)  # one response per prompt
  tokens, mask = to_host(out.tokens), to_host(out.response_mask).astype(np.float32)
  result = score_texts(decode(tokens, mask), list(batch.answers))
  shaped = np.asarray(result.scores, np.float32) + shaping.overlong_penalty(
      to_host(out.lengths), max_new_tokens=config.sampling.max_new_tokens, buffer=config.overlong_buffer,
      factor=config.overlong_penalty)
  return np.repeat(shaped, config.sampling.num_samples)


def collect_rollout(
    *,
    config: RolloutConfig,
    prompt_batches: Iterator[Any],
    generate_fn: Callable[..., Any],
    score_texts: Callable[[list[str], list[str]], Any],
    decode: Callable[[np.ndarray, np.ndarray], list[str]],
    scoring_fn: Callable,
    params: Any,
    ref_params: Any | None,
    key: jax.Array,
    place: Callable[[np.ndarray], jax.Array],
    ref_scoring_fn: Callable | None = None,
    greedy_fn: Callable[..., Any] | None = None,
    value_fn: Callable | None = None,
    kl_coef: float | None = None,
) -> tuple[TrainBatch, dict[str, float], ResponseOutcomes]:
  """Generates until `prompts_per_step` groups are collected (dynamic sampling draws further generation
  batches, at most `max_gen_batches`, and keeps the first informative groups in the order generated, as
  verl's DAPO trainer), then computes everything the update steps read.

  Args (besides the obvious):
    scoring_fn: the old-log-prob pass, (params, prompt_ids, prompt_mask, completion_ids, completion_mask)
      -> (logp, entropy, sum_pi_squared | None).
    ref_scoring_fn: the reference pass, same inputs -> (logp, entropy); default `scoring_fn`.
    greedy_fn: (prompt_ids, prompt_mask, row_ids, key) -> greedy sampler output, when the estimator needs
      greedy baselines (`config.needs.greedy_baseline`).
    value_fn: (prompt_ids, prompt_mask, completion_ids, completion_mask) -> values [R, N], with a critic.
    kl_coef: the in-reward KL coefficient this step, with `config.kl_in_reward`.

  Raises StopIteration when the prompt data is used up, and `shaping.GenerationCapReached` when dynamic
  sampling reaches its cap still short with gen_cap="stop".

  Returns the batch, the rollout metrics, and the host-side outcomes of its responses (for diagnostics).
  """
  needs = config.needs
  if needs.greedy_baseline and greedy_fn is None:
    raise ValueError("the advantage estimator needs greedy baselines; pass collect_rollout(greedy_fn=...)")
  if needs.critic and value_fn is None:
    raise ValueError("the advantage estimator needs critic values; pass collect_rollout(value_fn=...)")
  if config.kl_in_reward is not None and (ref_params is None or kl_coef is None):
    raise ValueError("KL in the reward needs ref_params and kl_coef")
  n = config.sampling.num_samples
  parts, informative_total, generated_groups = [], 0, 0
  while True:
    batch = next(prompt_batches)  # StopIteration: the data's epochs are used up
    gen_batch = len(parts)
    gen_key = jax.random.fold_in(key, gen_batch)
    out = generate_fn(batch.ids, batch.mask, batch.row_ids, gen_key)
    tokens = to_host(out.tokens)
    response_mask = to_host(out.response_mask).astype(np.float32)
    texts = decode(tokens, response_mask)
    answers = [a for a in batch.answers for _ in range(n)]
    result = score_texts(texts, answers)
    baseline = (_greedy_baseline(config, greedy_fn, batch, jax.random.fold_in(gen_key, _GREEDY_STREAM),
                                 score_texts, decode) if needs.greedy_baseline else None)
    part = Generated(
        prompt_ids=np.repeat(np.asarray(batch.ids), n, axis=0),
        prompt_mask=np.repeat(np.asarray(batch.mask), n, axis=0),
        tokens=tokens, response_mask=response_mask, behaviour_logp=to_host(out.logprobs).astype(np.float32),
        lengths=to_host(out.lengths), truncated=to_host(out.truncated).astype(bool), answers=answers,
        scores=np.asarray(result.scores, np.float32), correct=np.asarray(result.correct, bool),
        reward_metrics=dict(result.metrics), extracted=list(result.extracted), baseline_rewards=baseline,
        decode_counts=_decode_counts(out.stats))
    generated_groups += part.scores.size // n
    parts.append(part)
    if not config.dynamic_sampling:
      break
    informative_total += int(shaping.informative_groups(part.correct, n).sum())
    if informative_total >= config.prompts_per_step:
      break
    if config.max_gen_batches and len(parts) >= config.max_gen_batches:
      if config.gen_cap == "stop":
        raise shaping.GenerationCapReached(
            f"dynamic sampling drew train.max_gen_batches={config.max_gen_batches} generation batches of "
            f"{batch.ids.shape[0]} prompts and found {informative_total} prompts whose responses were not all "
            f"equally correct, fewer than rollout.prompts_per_step={config.prompts_per_step} (verl's DAPO trainer "
            f"stops here too). The data may be too hard or too easy for the policy; raise train.max_gen_batches "
            f"(0 = unlimited), or set train.gen_cap=pad to fill the batch with zero-advantage groups")
      break
  gen = _concat(parts)
  metrics: dict[str, float] = {}
  if config.dynamic_sampling:
    groups, filled = shaping.select_groups(shaping.informative_groups(gen.correct, n), config.prompts_per_step)
    gen = gen.take_groups(groups, n)
    metrics.update({"dynamic_sampling/gen_batches": float(len(parts)),
                    "dynamic_sampling/informative_groups": float(informative_total),
                    "dynamic_sampling/filled_uninformative": float(filled),
                    "dynamic_sampling/generated_groups": float(generated_groups)})

  rewards = gen.scores + shaping.overlong_penalty(gen.lengths, max_new_tokens=config.sampling.max_new_tokens,
                                                  buffer=config.overlong_buffer, factor=config.overlong_penalty)
  loss_mask = gen.response_mask
  if config.mask_truncated:
    loss_mask = loss_mask * (~gen.truncated)[:, None]

  # Scoring: old log-probs (+ entropies, + sum pi^2), reference log-probs, critic values.
  arrays = {k: place(v) for k, v in dict(prompt_ids=gen.prompt_ids, prompt_mask=gen.prompt_mask,
                                          completion_ids=gen.tokens, completion_mask=gen.response_mask).items()}
  sequences = (arrays["prompt_ids"], arrays["prompt_mask"], arrays["completion_ids"], arrays["completion_mask"])
  old_logp, old_entropy, sum_pi_squared = scoring_fn(params, *sequences)
  ref_logp = None
  if ref_params is not None:
    ref_logp, _ = (ref_scoring_fn or scoring_fn)(ref_params, *sequences)[:2]
  values = value_fn(*sequences) if value_fn is not None else None
  host_old_logp = to_host(old_logp)

  # Rollout / trainer mismatch: the sampler's behaviour log-probs vs the recomputed old log-probs.
  real = gen.response_mask > 0
  diff = np.abs(host_old_logp - gen.behaviour_logp)[real]
  metrics.update({"rollout/logp_mismatch_mean": float(diff.mean()) if diff.size else 0.0,
                  "rollout/logp_mismatch_max": float(diff.max()) if diff.size else 0.0})
  tis_weight = None
  if config.tis_cap > 0:
    # Truncated importance sampling (Yao et al.): reweight by min(pi_old / pi_rollout, cap).
    tis_weight = np.minimum(np.exp(host_old_logp - gen.behaviour_logp), config.tis_cap).astype(np.float32)

  # Advantages, after scoring: estimators may read old log-probs, sum pi^2, values, KL-penalized rewards.
  group_ids = np.repeat(np.arange(rewards.size // n), n).astype(np.int32)
  adv, advantage_metrics = rollout_advantages(
      config.advantage_estimator, config.advantage_hparams, rewards=rewards, response_mask=gen.response_mask,
      loss_mask=loss_mask, group_ids=group_ids, correct=gen.correct, old_logp=host_old_logp,
      ref_logp=None if ref_logp is None or config.kl_in_reward is None else to_host(ref_logp),
      baseline_rewards=gen.baseline_rewards, values=None if values is None else to_host(values),
      sum_pi_squared=None if sum_pi_squared is None else to_host(sum_pi_squared), rollout_is_weights=tis_weight,
      kl_in_reward=config.kl_in_reward, kl_coef=kl_coef)
  metrics.update(advantage_metrics)
  loss_mask = loss_mask * np.asarray(adv.keep, np.float32)[:, None]
  response_mask = place(loss_mask)
  advantages = place(np.asarray(adv.advantages, np.float32)) * response_mask
  if tis_weight is not None:
    # The PPO loss is linear in A with sign-only clip conditions, so scaling A is scaling the token loss.
    advantages = advantages * place(tis_weight)
    metrics["rollout/tis_weight_mean"] = float(np.sum(tis_weight * loss_mask) / max(np.sum(loss_mask), 1))

  batch = TrainBatch(
      prompt_ids=arrays["prompt_ids"], prompt_mask=arrays["prompt_mask"], completion_ids=arrays["completion_ids"],
      response_mask=response_mask, advantages=advantages, old_logp=old_logp,
      old_entropy=old_entropy if config.need_old_entropy else None, ref_logp=ref_logp,
      returns=None if values is None else place(np.asarray(adv.returns, np.float32)) * response_mask,
      old_values=values)

  lengths = gen.lengths.astype(np.float32)
  metrics.update({
      "reward/mean": float(gen.scores.mean()),
      "reward/shaped_mean": float(rewards.mean()),
      "reward/accuracy": float(gen.correct.mean()),
      "response/length_mean": float(lengths.mean()),
      "response/length_max": float(lengths.max()),
      "response/truncated_fraction": float(gen.truncated.mean()),
      **{f"reward/{k}": float(v) for k, v in gen.reward_metrics.items()},
      **{k: float(v) for k, v in adv.metrics.items()},
  })
  if gen.decode_counts:
    # Continuous batching keeps this near 1; the static batch's is mean length / longest length.
    metrics["rollout/decode_steps"] = gen.decode_counts["steps"]
    metrics["rollout/slot_utilization"] = gen.decode_counts["busy_slot_steps"] / max(gen.decode_counts["slot_steps"], 1.0)
  if gen.baseline_rewards is not None:
    metrics["reward/greedy_mean"] = float(gen.baseline_rewards.mean())
  if old_entropy is not None:
    ent = to_host(old_entropy)[real]
    metrics["rollout/entropy"] = float(ent.mean()) if ent.size else 0.0
  outcomes = ResponseOutcomes(completion_mask=gen.response_mask, correct=gen.correct, answers=gen.extracted)
  return batch, metrics, outcomes
