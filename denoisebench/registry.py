"""Registries filled by the registration hooks. They hold classes and remember who provided each entry."""

from __future__ import annotations

import re
from collections.abc import Iterator
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

    ``add`` rejects a name already taken, naming both providers. While a plugin's hook runs, the plugin
    manager sets :attr:`current` to that plugin's :class:`Provider`, so entries know where they came from.
    """

    def __init__(self, kind: str, base: type | None = None):
        self.kind = kind
        self.base = base
        self._entries: dict[str, Entry[T]] = {}
        self.current = Provider("unknown")
        self.problems: list[str] = []

    def add(self, obj: T, name: str | None = None) -> T:
        name = name or getattr(obj, "name", "")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise PluginError(
                f"{self.current.plugin}: {self.kind} name {name!r} is not a lower-case identifier like 'my_filter'"
            )
        if self.base is not None and isinstance(obj, type) and not issubclass(obj, self.base):
            raise PluginError(f"{self.current.plugin}: {self.kind} {name!r} must subclass {self.base.__name__}")
        if name in self._entries:
            first = self._entries[name].provider
            raise PluginError(
                f"duplicate {self.kind} name {name!r}: registered by {first} and again by {self.current}; "
                f"rename one or disable a plugin with --disable-plugin"
            )
        self._entries[name] = Entry(name, obj, self.current)
        return obj

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
