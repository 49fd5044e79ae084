"""Per-host prompt shares put back together give the batch one process would draw: same prompts, same
order, same padding, batch after batch (what `GlobalPromptBatches` relies on; the all-gather itself
runs in test_multiprocess.py)."""

import numpy as np
import pytest

from rlvr_jax.data import PromptDataConfig, prompt_pipeline
from rlvr_jax.embedded._tokenizer import builtin_tokenizer
from rlvr_jax.train._global_prompts import global_order


@pytest.mark.parametrize("hosts", [2, 4])
def test_host_shares_reassemble_into_the_single_process_batches(data_file, hosts):
  """Three shuffled batches of 8 prompts over 2 or 4 hosts, against one host."""
  tokenizer = builtin_tokenizer()
  config = PromptDataConfig(files=(data_file,), template="raw", prompts_per_step=8, epochs=2, shuffle=True, seed=3)
  single = prompt_pipeline(config, tokenizer)
  shares = [prompt_pipeline(config, tokenizer, process_index=h, process_count=hosts) for h in range(hosts)]
  for _ in range(3):
    expected = next(single)
    local = [next(share) for share in shares]
    assert all(len(batch) == 8 // hosts for batch in local)
    row_ids = global_order(np.stack([batch.row_ids for batch in local]))
    np.testing.assert_array_equal(row_ids, expected.row_ids)
    for share in shares:  # every host rebuilds the same global batch from its own table
      rebuilt = share.collate_rows(row_ids)
      np.testing.assert_array_equal(rebuilt.ids, expected.ids)
      np.testing.assert_array_equal(rebuilt.mask, expected.mask)
      assert rebuilt.answers == expected.answers
  assert all(share.state()["grain"] == shares[0].state()["grain"] for share in shares)


def test_unknown_row_id_names_the_files(data_file):
  """A row id no host loaded means the hosts read different data: an error, not a silent substitute."""
  prompts = prompt_pipeline(PromptDataConfig(files=(data_file,), template="raw", prompts_per_step=4),
                            builtin_tokenizer())
  with pytest.raises(ValueError, match=r"row ids \[999\] are not prompts of .*train\.jsonl"):
    prompts.collate_rows([0, 999])
