"""The sampler against independent references: the full (uncached) forward pass and transformers'
greedy `generate`, on tiny random Qwen2 / Qwen3 checkpoints built locally."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from rlvr_jax import models
from rlvr_jax.models import hf_reference
from rlvr_jax.sampling import FinishReason, generate
from rlvr_jax.sampling._loop import SamplerSpec, sample_step
from rlvr_jax.sampling._prefill import prefill
from rlvr_jax.sampling._state import row_keys
from rlvr_jax.sampling._strategies import SamplingKnobs, make_strategy

PROMPT_LEN = 8
LENGTHS = [8, 3, 5]  # left-padded prompts of different lengths


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
  """family -> (jax model float32, torch model, hf config); "qwen3-scan": the qwen3 checkpoint loaded with
  scan_layers=True."""
  out = {}
  for family in ("qwen2", "qwen3"):
    path = tmp_path_factory.mktemp(f"sampler-{family}")
    config = hf_reference.tiny_hf_config(family, tied=family == "qwen2", attention_bias=False)
    torch_model = hf_reference.make_random_checkpoint(path, config, seed=3)
    out[family] = (models.load_pretrained(str(path), dtype=jnp.float32), torch_model, config)
    if family == "qwen3":
      out["qwen3-scan"] = (models.load_pretrained(str(path), dtype=jnp.float32, scan_layers=True), torch_model, config)
  return out


def _prompts(vocab_size: int, seed: int = 11):
  return hf_reference.padded_batch(LENGTHS, PROMPT_LEN, vocab_size, side="left", seed=seed)


def _teacher_forced_logp(model, prompt_ids, prompt_mask, tokens, response_mask, temperature):
  """log_softmax(logits / T)[token] of each response token from one full forward over prompt + response."""
  ids = np.concatenate([prompt_ids, tokens], axis=1)
  mask = np.concatenate([prompt_mask, response_mask.astype(np.int32)], axis=1)
  logits = np.asarray(models.logits(model, ids, mask), np.float64)[:, PROMPT_LEN - 1:-1] / temperature
  top = logits.max(-1, keepdims=True)
  logp = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))  # float64 log-softmax
  return np.take_along_axis(logp, tokens[..., None], axis=-1)[..., 0]


def test_cached_decode_logits_equal_full_forward(checkpoints):
  """Prefill (fanned out to 2 samples per prompt) then cached decode steps: every step's full [R, V]
  logits equal those of one full causal forward over prompt + sampled tokens (float32)."""
  model, _, config = checkpoints["qwen3"]
  ids, mask = _prompts(config.vocab_size)
  n, steps = 2, 5
  spec = SamplerSpec(max_new_tokens=steps, num_samples=n, stop_token_ids=(), strategy=make_strategy(
      temperature=1.0, top_p=1.0, top_k=0, min_p=0.0), pad_id=0, context_limit=10_000)
  knobs = SamplingKnobs.create(1.0, 1.0, 0.0)
  keys = row_keys(jax.random.key(0), jnp.arange(3), n)
  state = jax.jit(lambda i, m: prefill(model, i, m, keys, knobs, spec, cache_dtype=jnp.float32))(ids, mask)

  @jax.jit
  def decode_step(state):  # the body of the decode loop, with the logits exposed
    hidden, cache = model(state.last_token[:, None], ~state.done[:, None], state.last_position[:, None],
                          cache=state.cache)
    logits = model.logits(hidden)[:, 0]  # [R, V]
    return sample_step(state.replace(cache=cache), logits, knobs, spec), logits

  cached = []
  for _ in range(1, steps):
    state, logits = decode_step(state)
    cached.append(np.asarray(logits))
  assert int(state.step) == steps
  sequence = np.concatenate([np.repeat(ids, n, axis=0), np.asarray(state.tokens)], axis=1)
  sequence_mask = np.concatenate([np.repeat(mask, n, axis=0), np.ones((3 * n, steps), np.int32)], axis=1)
  full = np.asarray(models.logits(model, sequence, sequence_mask))  # position P + t - 1 predicts token t
  np.testing.assert_allclose(np.stack(cached, 1), full[:, PROMPT_LEN:PROMPT_LEN + steps - 1], atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("family", ["qwen2", "qwen3", "qwen3-scan"])
def test_greedy_matches_transformers_generate(checkpoints, family):
  """Greedy tokens equal transformers generate(do_sample=False) token for token, with an EOS that
  some rows hit mid-generation (rows after EOS padded in both) and left-padded prompts."""
  model, torch_model, config = checkpoints[family]
  ids, mask = _prompts(config.vocab_size)
  new_tokens = 10

  def hf_generate(eos_ids):
    with torch.no_grad():
      out = torch_model.generate(input_ids=torch.as_tensor(ids, dtype=torch.long),
                                 attention_mask=torch.as_tensor(mask, dtype=torch.long), do_sample=False,
                                 max_new_tokens=new_tokens, eos_token_id=eos_ids, pad_token_id=0)
    return out[:, PROMPT_LEN:].numpy()

  free_run = hf_generate(None)
  eos = int(free_run[0, 3])  # row 0 stops at step 3 (or earlier, if the token repeats)
  reference = hf_generate([eos])
  out = generate(model, ids, mask, key=jax.random.key(0), max_new_tokens=new_tokens, temperature=0.0,
                 stop_token_ids=(eos,), pad_id=0)
  tokens = np.asarray(out.tokens)
  width = reference.shape[1]
  np.testing.assert_array_equal(tokens[:, :width], reference)
  assert (tokens[:, width:] == 0).all()
  assert np.asarray(out.finish_reason)[0] == FinishReason.STOP
  assert np.asarray(out.lengths)[0] == list(free_run[0]).index(eos) + 1
  # Greedy behaviour log-probs are taken at temperature 1.
  response_mask = np.asarray(out.response_mask)
  want = _teacher_forced_logp(model, ids, mask, tokens, response_mask, 1.0)
  np.testing.assert_allclose(np.asarray(out.logprobs)[response_mask], want[response_mask], atol=1e-5)


def test_behaviour_logprobs_equal_teacher_forced(checkpoints):
  """With temperature, top-k and top-p on, the behaviour log-probs equal log_softmax(logits / T) of the
  returned tokens from a full teacher-forced forward (before truncation), within 1e-5, on every
  unmasked token; masked ones are 0."""
  model, _, config = checkpoints["qwen2"]
  settings = dict(temperature=0.7, top_p=0.9, top_k=50)
  ids, mask = _prompts(config.vocab_size, seed=2)
  n = 2
  out = generate(model, ids, mask, key=jax.random.key(5), max_new_tokens=8, num_samples=n,
                 stop_token_ids=(7, 9), return_sampling_logprobs=True, **settings)
  tokens, response_mask = np.asarray(out.tokens), np.asarray(out.response_mask)
  want = _teacher_forced_logp(model, np.repeat(ids, n, 0), np.repeat(mask, n, 0), tokens, response_mask, 0.7)
  got = np.asarray(out.logprobs)
  assert got.dtype == np.float32
  np.testing.assert_allclose(got[response_mask], want[response_mask], atol=1e-5)
  assert (got[~response_mask] == 0).all()
  # Truncation renormalizes onto fewer tokens: the sampled-from distribution gives every drawn token at
  # least its untruncated probability, strictly more when mass was cut.
  truncated = np.asarray(out.sampling_logprobs)
  assert (truncated[response_mask] >= got[response_mask] - 1e-6).all()
  assert (truncated[response_mask] > got[response_mask] + 1e-3).any()
