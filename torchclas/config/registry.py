"""``Registry``: the names a config may use for one kind of thing, with closest-name errors."""

from __future__ import annotations

from typing import Generic, Iterable, Iterator, Mapping, MutableMapping, TypeVar

from .errors import ConfigError, closest

__all__ = ["Registry", "UnknownName"]

T = TypeVar("T")


class UnknownName(ConfigError, KeyError):
    """A name a registry does not hold; a ``ConfigError`` (and a ``KeyError`` for mapping code)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class Registry(MutableMapping[str, T], Generic[T]):
    """An explicit table of names (models, ops, losses, ...) built where the things are defined.

    A plain dict with one addition: a missing name raises ``UnknownName`` naming the kind, the
    nearest valid spelling and, for short tables, every valid name. Names in ``not_yet`` are
    PaddleClas names torchclas does not implement yet: they get their own message. Code of one's
    own (a custom loss, a test's fault-injecting loss) is added by plain item assignment.

    Example:
        >>> LOSSES = Registry("loss", {"CELoss": dict, "FocalLoss": list})
        >>> LOSSES["CELos"]
        Traceback (most recent call last):
        ...
        torchclas.config.registry.UnknownName: unknown loss 'CELos' (did you mean 'CELoss'?); available: CELoss, FocalLoss
    """

    def __init__(self, kind: str, entries: Mapping[str, T] | Iterable[tuple[str, T]] = (),
                 not_yet: Iterable[str] = (), list_limit: int = 40) -> None:
        self.kind = kind
        self._entries: dict[str, T] = dict(entries)
        self.not_yet = frozenset(not_yet)
        self._list_limit = list_limit

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise self.unknown(name) from None

    def __setitem__(self, name: str, value: T) -> None:
        self._entries[name] = value

    def __delitem__(self, name: str) -> None:
        try:
            del self._entries[name]
        except KeyError:
            raise self.unknown(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self)} names)"

    def unknown(self, name: str, where: str = "") -> UnknownName:
        """The error for a name this registry lacks (returned, for the caller to raise)."""
        prefix = f"{where}: " if where else ""
        names = list(self._entries)
        listed = f"; available: {', '.join(names)}" if len(names) <= self._list_limit else ""
        if name in self.not_yet:
            return UnknownName(f"{prefix}'{name}' is a PaddleClas {self.kind} not implemented in "
                               f"torchclas yet{listed}")
        return UnknownName(f"{prefix}unknown {self.kind} '{name}'{closest(str(name), names)}{listed}")
