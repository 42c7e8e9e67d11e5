"""denoisebench: a benchmarking harness for image denoisers.

The public API (see docs/api.md): the plugin bases and ``hookimpl``, the error classes, ``run`` / ``open_run``
(a benchmark and its results), and ``metric`` / ``denoiser`` / ``noise`` (ready objects from the registries).
Importing this package is cheap: it never imports torch, rich, matplotlib or pandas.
"""

from denoisebench.api import Run, dataset, denoiser, make_config, metric, noise, open_run, plugins, run
from denoisebench.errors import (
    ConfigError,
    DatasetError,
    DenoiseBenchError,
    ImageError,
    ParameterError,
    PluginError,
    StoreError,
    UnavailableError,
    UnknownNameError,
)
from denoisebench.hookspecs import hookimpl
from denoisebench.interfaces import Dataset, Denoiser, Metric, NoiseModel, NoiseSpec
from denoisebench.version import __version__

__all__ = [
    "__version__", "hookimpl", "Dataset", "Denoiser", "Metric", "NoiseModel", "NoiseSpec",
    "run", "open_run", "Run", "make_config", "metric", "denoiser", "noise", "dataset", "plugins",
    "DenoiseBenchError", "ConfigError", "DatasetError", "ImageError", "ParameterError", "PluginError", "StoreError",
    "UnavailableError", "UnknownNameError",
]
