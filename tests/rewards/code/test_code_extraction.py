"""Which fenced block of a completion is the program."""

from __future__ import annotations

import pytest

from rlvr_jax.rewards.code import CodeExtraction, extract_code, fenced_blocks


def test_last_python_block_wins_by_default():
  """A sketch followed by the final version: the final (last) block is the program."""
  text = "Idea:\n```python\ndef f(): return 1\n```\nFixed:\n```py\ndef f(): return 2\n```\nDone."
  assert extract_code(text) == "def f(): return 2"


def test_first_block_when_configured():
  text = "```python\nfirst = 1\n```\n```python\nsecond = 2\n```"
  assert extract_code(text, CodeExtraction(block="first")) == "first = 1"


@pytest.mark.parametrize("tag, accepted", [
    ("python", True), ("Python3", True), ("py", True), ("", True), ("cpp", False), ("text", False),
])
def test_language_tags(tag, accepted):
  """Python tags (any case) and untagged fences are programs; other languages are not."""
  text = f"```{tag}\nx = 1\n```"
  assert extract_code(text) == ("x = 1" if accepted else None)


def test_only_configured_languages():
  """languages=("python",) skips an untagged block and takes the earlier tagged one."""
  text = "```python\na = 1\n```\n```\nb = 2\n```"
  assert extract_code(text, CodeExtraction(languages=("python",))) == "a = 1"
  assert extract_code(text) == "b = 2"


@pytest.mark.parametrize("text", [
    "no code at all",
    "```python\nprint('cut off by the length limit'",
    "```python\n   \n```",
    "inline ```python x = 1``` is not a block",
])
def test_no_code(text):
  """No block, an unclosed block, an empty block, or inline backticks: nothing to run."""
  assert extract_code(text) is None


def test_longer_fence_contains_shorter_one():
  """A ```` fence may hold a ``` fence (a docstring showing Markdown) without ending early."""
  text = "````python\ns = '''\n```\nx\n```\n'''\n````"
  assert extract_code(text) == "s = '''\n```\nx\n```\n'''"


def test_fenced_blocks_lists_languages_in_order():
  text = "```bash\nls\n```\n```Python\nx = 1\n```"
  assert fenced_blocks(text) == [("bash", "ls"), ("python", "x = 1")]


@pytest.mark.parametrize("kwargs, message", [
    (dict(block="middle"), "block='middle'"),
    (dict(languages=()), "languages=()"),
])
def test_bad_extraction_settings(kwargs, message):
  with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
    CodeExtraction(**kwargs)
