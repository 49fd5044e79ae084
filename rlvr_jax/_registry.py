"""Name -> implementation registries, one per kind (transforms, advantage estimators, rewards, ...).

Config validation reads the registry itself, so a name that is not registered is rejected before
anything compiles, and the error lists what is available. There is deliberately no second list of
"valid names" anywhere else in the code base.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class RegistryError(KeyError, ValueError):
  """A name that is not registered, or registered twice. Subclasses KeyError and ValueError."""

  def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
    return str(self.args[0]) if self.args else ""


@dataclasses.dataclass
class Registry(Generic[T]):
  """A named collection of implementations of one kind.

  Attributes:
    kind: what is registered (e.g. "advantage estimator"), used in error messages.
  """

  kind: str
  _entries: dict[str, T] = dataclasses.field(default_factory=dict)

  def register(self, name: str) -> Callable[[T], T]:
    """Decorator: `@REGISTRY.register("grpo")`."""

    def add(entry: T) -> T:
      if name in self._entries:
        raise RegistryError(f"{self.kind} {name!r} is registered twice")
      self._entries[name] = entry
      return entry

    return add

  def get(self, name: str, *, field: str | None = None) -> T:
    """Looks `name` up; an unknown name raises with the field it came from and the known names."""
    try:
      return self._entries[name]
    except KeyError:
      where = f"{field}=" if field else ""
      raise RegistryError(
          f"unknown {self.kind} {where}{name!r}; known: {', '.join(sorted(self._entries))}"
      ) from None

  def __contains__(self, name: Any) -> bool:
    return name in self._entries

  def __iter__(self) -> Iterator[str]:
    return iter(sorted(self._entries))

  def names(self) -> tuple[str, ...]:
    return tuple(sorted(self._entries))
