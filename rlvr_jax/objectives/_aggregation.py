"""Token-loss aggregation: how a [B, T] matrix of per-token losses becomes the scalar that is differentiated.

The mode decides how much each response and each token weighs in the gradient (token-mean: long responses
weigh more; seq-mean-*: every response weighs the same; seq-mean-token-sum-norm: Dr.GRPO's constant
normalizer, no length bias at all). References differ in small but numerically relevant ways, so each
variant that a reference uses is selectable here and the docstring says which reference it reproduces
(algorithms.md §1.4, §9.2).

Micro-batch invariance: with `global_tokens` / `global_sequences` set to counts over the whole mini-batch
(see `normalizer_counts`), the per-micro-batch results *sum* to the mini-batch result, so gradient
accumulation is exact and the micro-batch size stops being a hidden hyperparameter. Without them the
counts are local to the call, which is the legacy verl (<= v0.6 `dp_actor`) behaviour.
"""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

AGGREGATION_MODES = (
    "token-mean",
    "seq-mean-token-mean",
    "seq-mean-token-sum",
    "seq-mean-token-sum-norm",
)
EMPTY_ROW_POLICIES = ("zero", "exclude")
TOKEN_SUM_NORM_ROW_REDUCTIONS = ("sum", "mean")

# Legacy verl `masked_mean` / `agg_loss(token-mean)` denominator epsilon.
_LEGACY_TOKEN_MEAN_EPS = 1e-8

Count = int | float | jax.Array


def _check_count(name: str, value: Count | None) -> None:
  if isinstance(value, numbers.Number) and not isinstance(value, bool) and value < 0:
    raise ValueError(f"aggregate: {name} must be a non-negative count, got {value!r}")


def validate_aggregation(mode: str, *, empty_rows: str = "zero", token_sum_norm_rows: str = "sum",
                         norm_constant: float | None = None) -> None:
  """Raises ValueError naming the offending option; config validation calls this before tracing."""
  if mode not in AGGREGATION_MODES:
    raise ValueError(f"unknown loss aggregation mode {mode!r}; known: {', '.join(AGGREGATION_MODES)}")
  if empty_rows not in EMPTY_ROW_POLICIES:
    raise ValueError(f"aggregate: empty_rows={empty_rows!r}; known: {', '.join(EMPTY_ROW_POLICIES)}")
  if token_sum_norm_rows not in TOKEN_SUM_NORM_ROW_REDUCTIONS:
    raise ValueError(f"aggregate: token_sum_norm_rows={token_sum_norm_rows!r}; "
                     f"known: {', '.join(TOKEN_SUM_NORM_ROW_REDUCTIONS)}")
  if isinstance(norm_constant, numbers.Number) and not norm_constant > 0:
    raise ValueError(f"aggregate: norm_constant must be > 0, got {norm_constant!r}")


def normalizer_counts(mask: jax.Array, *, empty_rows: str = "zero") -> tuple[jax.Array, jax.Array]:
  """Token and sequence counts of a (mini-)batch, for `global_tokens` / `global_sequences`.

  Computed over the whole mini-batch once and passed to every micro-batch call, so that the micro-batch
  results add up to the mini-batch result. The sequence count follows the same `empty_rows` policy as
  `aggregate` ("zero": every row counts; "exclude": only rows with at least one valid token).

  Returns:
    (tokens, sequences), float32 scalars.
  """
  if empty_rows not in EMPTY_ROW_POLICIES:
    raise ValueError(f"normalizer_counts: empty_rows={empty_rows!r}; known: {', '.join(EMPTY_ROW_POLICIES)}")
  valid = mask.astype(bool)  # [B, T]
  tokens = jnp.sum(valid, dtype=jnp.float32)
  if empty_rows == "zero":
    sequences = jnp.asarray(valid.shape[0], jnp.float32)
  else:
    sequences = jnp.sum(jnp.any(valid, axis=-1), dtype=jnp.float32)
  return tokens, sequences


def aggregate(values: jax.Array, mask: jax.Array, mode: str, *, global_tokens: Count | None = None,
              global_sequences: Count | None = None, norm_constant: float | None = None,
              empty_rows: str = "zero", token_sum_norm_rows: str = "sum") -> jax.Array:
  """Reduces per-token values to a float32 scalar according to `mode`.

  Masked positions are excluded with `where`, not multiplied by 0, so a NaN/inf sitting in a padded
  position never reaches the result. `mask` is read as a boolean (nonzero = valid); per-token weights
  belong in `values`.

  Modes (l = values, m = mask, rows i, tokens t):
    token-mean: sum(l*m) / D. D = global_tokens if given (verl v0.7 engine path, micro-batch
      invariant), else sum(m) + 1e-8 (legacy verl <= v0.6 `agg_loss`, STEER / PRIME-RL / 80-20 copies).
    seq-mean-token-sum: sum_i (sum_t l*m) / R.
    seq-mean-token-mean: sum_i (sum_t l*m / sum_t m) / R. An all-masked row has row value 0 (legacy
      verl v0.4.1-0.6 would produce NaN there; SIREN fa59a8d writes 0, which this reproduces).
    seq-mean-token-sum-norm: sum_i (sum_t l*m) / norm_constant, then, per `token_sum_norm_rows`:
      "sum": no further division — verl v0.4.1-v0.7 legacy `agg_loss` (STEER's copy). Already additive
        over micro-batches; `global_sequences` is not used.
      "mean": divided by R — SIREN's vendored verl (mean over rows / T_pad), i.e. Dr.GRPO's intended
        1 / (B * T_max) constant when R = global_sequences of the mini-batch.
      norm_constant defaults to T of `values` (the padded response length, as every reference does);
      pin it (e.g. max_response_length) to make the constant independent of padding.
  R (row count of the seq-mean modes) = global_sequences if given, else the local count under
  `empty_rows`: "zero" -> every row counts, an all-masked row contributes 0 (legacy verl, SIREN);
  "exclude" -> only rows with a valid token count (verl v0.7). Build global counts with
  `normalizer_counts(mini_batch_mask, empty_rows=...)` so both stay consistent. Counts that a mode
  does not use are ignored, so callers can pass both counts uniformly.

  Args:
    values: [B, T] per-token values (any float dtype; reduced in float32).
    mask: [B, T] response mask.
    mode: one of AGGREGATION_MODES.
    global_tokens: valid-token count of the whole mini-batch (token-mean).
    global_sequences: row count of the whole mini-batch (seq-mean modes).
    norm_constant: seq-mean-token-sum-norm divisor; default values.shape[-1].
    empty_rows: "zero" or "exclude", see above.
    token_sum_norm_rows: "sum" or "mean", see above.

  Returns:
    float32 scalar.
  """
  validate_aggregation(mode, empty_rows=empty_rows, token_sum_norm_rows=token_sum_norm_rows,
                       norm_constant=norm_constant)
  _check_count("global_tokens", global_tokens)
  _check_count("global_sequences", global_sequences)
  if values.ndim != 2 or values.shape != mask.shape:
    raise ValueError(f"aggregate: values {values.shape} and mask {mask.shape} must both be [B, T]")

  valid = mask.astype(bool)  # [B, T]
  masked = jnp.where(valid, values.astype(jnp.float32), 0.0)  # [B, T]

  if mode == "token-mean":
    if global_tokens is None:
      return jnp.sum(masked) / (jnp.sum(valid, dtype=jnp.float32) + _LEGACY_TOKEN_MEAN_EPS)
    return jnp.sum(masked) / jnp.maximum(jnp.asarray(global_tokens, jnp.float32), 1.0)

  row_sums = jnp.sum(masked, axis=-1)  # [B]
  if mode == "seq-mean-token-sum-norm":
    constant = float(values.shape[-1]) if norm_constant is None else norm_constant
    total = jnp.sum(row_sums) / jnp.asarray(constant, jnp.float32)
    if token_sum_norm_rows == "sum":
      return total
    return total / _row_count(valid, global_sequences, empty_rows)

  if mode == "seq-mean-token-sum":
    return jnp.sum(row_sums) / _row_count(valid, global_sequences, empty_rows)

  # seq-mean-token-mean
  row_tokens = jnp.sum(valid, axis=-1, dtype=jnp.float32)  # [B]
  row_means = jnp.where(row_tokens > 0, row_sums / jnp.maximum(row_tokens, 1.0), 0.0)  # [B]
  return jnp.sum(row_means) / _row_count(valid, global_sequences, empty_rows)


def _row_count(valid: jax.Array, global_sequences: Count | None, empty_rows: str) -> jax.Array:
  """Row divisor of the seq-mean modes, floored at 1 so an all-empty micro-batch gives 0, not NaN."""
  if global_sequences is None:
    _, global_sequences = normalizer_counts(valid, empty_rows=empty_rows)
  return jnp.maximum(jnp.asarray(global_sequences, jnp.float32), 1.0)
