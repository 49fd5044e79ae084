"""A published recipe: the official script's training and evaluation fields at one model, each with its
source, so a `:model=` variant reproduces the run the paper reports and the table in docs/recipes.md is
generated from (and pinned against) the same data.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping


@dataclasses.dataclass(frozen=True)
class Recipe:
  """Attributes:
    paper: the method's paper (title / arXiv id).
    code: the official code read (repository @ commit), or why there is none.
    dataset: the training data the recipe used (a local file is passed with data.train_files).
    fields: dotted config field -> (value, source): the script line the value comes from, the paper's
      section where no script exists, or "UNCONFIRMED: ..." with what was found instead.
    notes: what a reproducer must know that is not a config value (hardware, data quirks, deviations).
  """

  paper: str
  code: str
  dataset: str
  fields: Mapping[str, tuple[Any, str]]
  notes: tuple[str, ...] = ()

  def __post_init__(self):
    for name, entry in self.fields.items():
      if "." not in name:
        raise ValueError(f"recipe field {name!r} must be dotted (section.key)")
      if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], str) and entry[1].strip()):
        raise ValueError(f"recipe field {name!r}: expected (value, source) with a non-empty source, got {entry!r}")

  @property
  def values(self) -> dict:
    """The fields as nested config overrides."""
    nested: dict = {}
    for name, (value, _) in self.fields.items():
      node = nested
      *sections, key = name.split(".")
      for section in sections:
        node = node.setdefault(section, {})
      node[key] = value
    return nested

  def derived(self, **changes: tuple[Any, str]) -> "Recipe":
    """The same recipe with some fields changed or added (e.g. the same script at another model)."""
    return dataclasses.replace(self, fields={**self.fields, **changes})
