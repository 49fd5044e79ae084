"""Direct numpy versions of the batch entropy aggregates, written from the definitions in algorithms.md §6
(not from the library code), for the tests to compare against."""

import numpy as np


def entropy(logits: np.ndarray) -> np.ndarray:
  """[..., V] -> [...] Shannon entropy of softmax(logits), float64."""
  z = logits.astype(np.float64)
  p = np.exp(z - z.max(-1, keepdims=True))
  p /= p.sum(-1, keepdims=True)
  return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), -1)


def topp_entropy(logits: np.ndarray, top_p: float) -> np.ndarray:
  """SIREN §6.1: keep the longest prefix of the sorted probabilities whose cumulative mass stays < p."""
  z = logits.astype(np.float64)
  p = np.exp(z - z.max(-1, keepdims=True))
  p /= p.sum(-1, keepdims=True)
  out = np.zeros(p.shape[:-1])
  for index in np.ndindex(*p.shape[:-1]):
    ordered = np.sort(p[index])[::-1]
    kept = ordered[np.cumsum(ordered) < top_p]
    if kept.size > 1:
      q = kept / kept.sum()
      out[index] = -np.sum(q * np.log(q))
  return out


def peak_masked(topp: np.ndarray, mask: np.ndarray, mask_ratio: float) -> tuple[float, float]:
  """SIREN §6.2-6.3: per-row linear quantile, strictly-above mask, seq-mean-token-mean (empty row = 0).

  Returns (Hbar, selected tokens / valid tokens).
  """
  valid = mask > 0
  row_means, selected = [], 0
  for row in range(topp.shape[0]):
    values = topp[row][valid[row]]
    if values.size == 0:
      row_means.append(0.0)
      continue
    chosen = values[values > np.quantile(values, mask_ratio, method="linear")]
    selected += chosen.size
    row_means.append(chosen.mean() if chosen.size else 0.0)
  return float(np.mean(row_means)), selected / valid.sum()


def aggregates(logits: np.ndarray, mask: np.ndarray, *, top_p: float, mask_ratio: float) -> dict[str, float]:
  """The four `diag/entropy/*` values from full logits [B, T, V] and a mask [B, T]."""
  valid = mask > 0
  full, topp = entropy(logits), topp_entropy(logits, top_p)
  peak, fraction = peak_masked(topp, mask, mask_ratio)
  return {"diag/entropy/full": float(full[valid].mean()), "diag/entropy/top_p": float(topp[valid].mean()),
          "diag/entropy/peak_masked": peak, "diag/entropy/peak_fraction": fraction}
