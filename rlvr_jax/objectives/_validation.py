"""Hyperparameter checks shared by the objective config and the transforms.

Every check raises ValueError naming the field and the offending value, so a bad config fails while it is
being built, before anything is traced or compiled. Booleans are rejected where numbers are expected
(`True` is an int in Python, and `w_min=True` is always a typo).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable


def _describe(owner: str, field: str) -> str:
  return f"{owner}.{field}" if owner else field


def check_number(owner: str, field: str, value: Any, *, low: float | None = None,
                 high: float | None = None, low_inclusive: bool = True,
                 high_inclusive: bool = True) -> float:
  """A finite real number inside [low, high] (ends open or closed as requested)."""
  name = _describe(owner, field)
  if isinstance(value, bool) or not isinstance(value, numbers.Real):
    raise ValueError(f"{name} must be a number, got {value!r}")
  value = float(value)
  if not math.isfinite(value):
    raise ValueError(f"{name} must be finite, got {value!r}")
  if low is not None and (value < low or (value == low and not low_inclusive)):
    raise ValueError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {value!r}")
  if high is not None and (value > high or (value == high and not high_inclusive)):
    raise ValueError(f"{name} must be {'<=' if high_inclusive else '<'} {high}, got {value!r}")
  return value


def check_optional_number(owner: str, field: str, value: Any, **bounds: Any) -> float | None:
  return None if value is None else check_number(owner, field, value, **bounds)


def check_int(owner: str, field: str, value: Any, *, low: int | None = None) -> int:
  name = _describe(owner, field)
  if isinstance(value, bool) or not isinstance(value, numbers.Integral):
    raise ValueError(f"{name} must be an integer, got {value!r}")
  if low is not None and value < low:
    raise ValueError(f"{name} must be >= {low}, got {value!r}")
  return int(value)


def check_bool(owner: str, field: str, value: Any) -> bool:
  if not isinstance(value, bool):
    raise ValueError(f"{_describe(owner, field)} must be True or False, got {value!r}")
  return value


def check_choice(owner: str, field: str, value: Any, choices: Iterable[str]) -> str:
  choices = tuple(choices)
  if value not in choices:
    raise ValueError(f"{_describe(owner, field)}={value!r} is not one of: {', '.join(choices)}")
  return value


def check_str(owner: str, field: str, value: Any) -> str:
  if not isinstance(value, str) or not value:
    raise ValueError(f"{_describe(owner, field)} must be a non-empty string, got {value!r}")
  return value
