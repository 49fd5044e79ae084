"""Logit parity of the Flax port against transformers' Qwen2ForCausalLM / Qwen3ForCausalLM in float32."""

import jax.numpy as jnp
import numpy as np
import pytest

from rlvr_jax import models
from rlvr_jax.models import hf_reference
from tests.models.conftest import VARIANTS

REL_TOL = 1e-4


def relative_error(ours: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> float:
  real = mask.astype(bool)
  return float(np.abs(ours - reference)[real].max() / np.abs(reference[real]).max())


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_logits_match_transformers(hf_checkpoints, variant, side):
  """Max abs logit error on real tokens <= 1e-4 of the logit scale, for left and right padding."""
  path, torch_model, config = hf_checkpoints[variant]
  model = models.load_pretrained(path, dtype=jnp.float32)
  ids, mask = hf_reference.padded_batch([9, 16, 4, 1], 16, config.vocab_size, side=side, seed=1)
  ours = np.asarray(models.logits(model, ids, mask))
  reference = hf_reference.reference_logits(torch_model, ids, mask)
  err = relative_error(ours, reference, mask)
  print(f"{variant} {side}-padded: max abs err {np.abs(ours - reference)[mask.astype(bool)].max():.3e}, "
        f"relative {err:.3e}")
  assert err <= REL_TOL


def test_padding_does_not_change_real_token_logits(hf_checkpoints):
  """The same sequence gives the same logits alone, left-padded and right-padded (positions skip padding)."""
  path, _, config = hf_checkpoints["qwen3-untied"]
  model = models.load_pretrained(path, dtype=jnp.float32)
  seq = np.arange(1, 8, dtype=np.int32) % config.vocab_size
  alone = np.asarray(models.logits(model, seq[None], np.ones((1, 7), np.int32)))[0]
  left = np.asarray(models.logits(model, np.pad(seq, (5, 0))[None], np.pad(np.ones(7, np.int32), (5, 0))[None]))
  right = np.asarray(models.logits(model, np.pad(seq, (0, 5))[None], np.pad(np.ones(7, np.int32), (0, 5))[None]))
  np.testing.assert_allclose(left[0, 5:], alone, atol=1e-5)
  np.testing.assert_allclose(right[0, :7], alone, atol=1e-5)


def test_bfloat16_forward_is_close_to_float32(hf_checkpoints):
  """bf16 parameters/matmuls stay within bf16 precision of the float32 forward (logits are float32)."""
  path, _, config = hf_checkpoints["qwen2-tied"]
  ids, mask = hf_reference.padded_batch([12, 6], 12, config.vocab_size, side="left", seed=2)
  f32 = np.asarray(models.logits(models.load_pretrained(path, dtype=jnp.float32), ids, mask))
  bf16_logits = models.logits(models.load_pretrained(path, dtype=jnp.bfloat16), ids, mask)
  assert bf16_logits.dtype == jnp.float32
  err = relative_error(np.asarray(bf16_logits), f32, mask)
  assert 0 < err < 0.05
