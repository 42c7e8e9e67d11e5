"""Registries filled by the registration hooks. They hold classes and remember who provided each entry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from denoisebench.errors import PluginError, UnknownNameError

T = TypeVar("T")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Provider:
    """Which plugin registered an entry: entry-point name, distribution and its version."""

    plugin: str
    distribution: str = ""
    version: str = ""

    def __str__(self) -> str:
        if self.distribution:
            return f"{self.plugin} ({self.distribution} {self.version})".strip()
        return self.plugin


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    obj: T
    provider: Provider


class Registry(Generic[T]):
    """Name -> class registry for one kind (denoiser, noise model, metric, dataset).

    Entries are attributed to :attr:`current`, the :class:`Provider` whose hook is running. ``add`` rejects a
    name already taken with one line naming both providers: it raises :class:`PluginError`, except inside
    :meth:`providing` (how the plugin manager runs a registration hook), where the clashing entry is skipped,
    the line recorded, and the hook goes on registering its other entries.
    """

    def __init__(self, kind: str, base: type | None = None):
        self.kind = kind
        self.base = base
        self._entries: dict[str, Entry[T]] = {}
        self.current = Provider("unknown")
        self._skipped: list[str] | None = None  # inside providing(): where duplicate lines go

    @contextmanager
    def providing(self, provider: Provider) -> Iterator[list[str]]:
        """Attribute entries added in the block to ``provider``; yield the list that collects one line per
        duplicate entry skipped."""
        previous = self.current, self._skipped
        self.current, self._skipped = provider, []
        try:
            yield self._skipped
        finally:
            self.current, self._skipped = previous

    def add(self, obj: T, name: str | None = None) -> T:
        name = name or getattr(obj, "name", "")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PluginError(
                f"{self.current.plugin}: {self.kind} name {name!r} is not a lower-case identifier like 'my_filter'"
            )
        if self.base is not None and isinstance(obj, type) and not issubclass(obj, self.base):
            raise PluginError(f"{self.current.plugin}: {self.kind} {name!r} must subclass {self.base.__name__}")
        if name in self._entries:
            clash = f"{self.current}: {self.kind} name {name!r} is already registered by {self._entries[name].provider}"
            if self._skipped is None:
                raise PluginError(f"{clash}; rename it")
            self._skipped.append(f"{clash}; skipped this entry — rename it")
            return obj
        self._entries[name] = Entry(name, obj, self.current)
        return obj

    def remove(self, name: str) -> Entry[T]:
        """Remove and return the entry ``name`` (an unknown name is an :class:`UnknownNameError`)."""
        self.get(name)
        return self._entries.pop(name)

    def remove_provider(self, plugin: str) -> list[str]:
        """Remove every entry the plugin named ``plugin`` provided; return their names."""
        names = [e.name for e in self._entries.values() if e.provider.plugin == plugin]
        for name in names:
            del self._entries[name]
        return names

    def get(self, name: str) -> T:
        try:
            return self._entries[name].obj
        except KeyError:
            raise UnknownNameError(self.kind, name, self._entries) from None

    def provider(self, name: str) -> Provider:
        self.get(name)
        return self._entries[name].provider

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[Entry[T]]:
        return list(self._entries.values())

    def __contains__(self, name: Any) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
