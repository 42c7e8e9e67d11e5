"""Exception hierarchy. Every user-facing error is one line that names the value and what to pass instead."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to a misspelt ``name`` (difflib, cutoff 0.6), or None."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return close[0] if close else None


class DenoiseBenchError(Exception):
    """Base class: the CLI prints ``str(exc)`` as one line and exits non-zero (traceback only with --debug)."""

    exit_code = 2


class ConfigError(DenoiseBenchError):
    """A bad option or parameter value."""


class UnknownNameError(ConfigError):
    """A denoiser, noise model, metric or dataset name that no plugin registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        listed = ", ".join(known) or "(none registered)"
        self.kind, self.name, self.known, self.suggestion = kind, name, known, did_you_mean(name, known)
        if self.suggestion:
            super().__init__(f"unknown {kind} {name!r}; did you mean {self.suggestion}? (known: {listed})")
        else:
            super().__init__(f"unknown {kind} {name!r}; choose one of: {listed}")

    def __reduce__(self):  # picklable across worker processes, although __init__ takes other arguments
        return type(self), (self.kind, self.name, self.known)


class ParameterError(ConfigError):
    """A parameter outside its valid range."""


class ImageError(DenoiseBenchError):
    """An image that cannot be read or converted."""


class DatasetError(DenoiseBenchError):
    """A dataset that cannot be found, read or verified."""


class ChecksumError(DatasetError):
    """A downloaded or local file whose sha256 does not match the registry."""


class PluginError(DenoiseBenchError):
    """A plugin that fails to import, register, or registers a duplicate name."""


class StoreError(DenoiseBenchError):
    """A run directory or results store that cannot be created, read or written."""


class UnavailableError(DenoiseBenchError):
    """A component whose optional requirement (package, weights) is missing; recorded as status 'unavailable'."""
