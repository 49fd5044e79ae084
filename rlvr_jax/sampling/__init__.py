"""In-graph rollout sampler: prefill once, decode in a `lax.while_loop`, return what RL needs.

Public API:
  generate(model, prompt_ids, prompt_mask, *, key, max_new_tokens, ...) -> SamplerOutput
  generate_text(model, tokenizer, prompts, *, chat_template, key, max_new_tokens, ...) -> TextGeneration
  SamplerOutput, FinishReason                  the output structure and its finish codes
  pad_to_bucket, bucket_length                 left-pad prompts to a few compiled lengths
  Greedy, Sample, SamplingKnobs, make_strategy next-token strategies (static) and their traced values
  token_log_probs, logprob_temperature         behaviour log-probs of chosen tokens, and their temperature
  sample_categorical                           one draw per row (own key) from softmax(logits), inverse CDF
  continuous_schedule, static_schedule         a call's decode steps / slot-steps from response lengths (host)
  slot_phases                                  the continuous sampler's slot counts, first phase to tail
  SamplingSettings, make_generate_fn           a run's sampling settings -> generate function of live params
"""

from rlvr_jax.sampling._buckets import bucket_length, pad_to_bucket
from rlvr_jax.sampling._categorical import sample_categorical
from rlvr_jax.sampling._continuous import slot_phases
from rlvr_jax.sampling._sampler import generate
from rlvr_jax.sampling._schedule import DecodeSchedule, continuous_schedule, static_schedule
from rlvr_jax.sampling._settings import SamplingSettings, make_generate_fn
from rlvr_jax.sampling._state import FinishReason, SamplerOutput
from rlvr_jax.sampling._strategies import (Greedy, Sample, SamplingKnobs, logprob_temperature, make_strategy,
                                          token_log_probs)
from rlvr_jax.sampling._text import TextGeneration, generate_text

__all__ = [
    "generate", "generate_text", "TextGeneration", "SamplerOutput", "FinishReason", "pad_to_bucket",
    "bucket_length", "Greedy", "Sample", "SamplingKnobs", "make_strategy", "token_log_probs", "logprob_temperature",
    "SamplingSettings", "make_generate_fn", "sample_categorical", "DecodeSchedule", "continuous_schedule",
    "static_schedule", "slot_phases",
]
