"""Exception hierarchy. Every user-facing error is one line that names the value and what to pass instead."""


class DenoiseBenchError(Exception):
    """Base class: the CLI prints ``str(exc)`` as one line and exits non-zero (traceback only with --debug)."""

    exit_code = 2


class ConfigError(DenoiseBenchError):
    """A bad option or parameter value."""


class UnknownNameError(ConfigError):
    """A denoiser, noise model, metric or dataset name that no plugin registered."""

    def __init__(self, kind: str, name: str, known):
        known = sorted(known)
        super().__init__(f"unknown {kind} {name!r}; choose one of: {', '.join(known) or '(none registered)'}")
        self.kind, self.name, self.known = kind, name, known


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
