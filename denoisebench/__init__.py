"""denoisebench: a benchmarking harness for image denoisers.

Importing this package is cheap: it never imports torch, rich or matplotlib.
"""

__version__ = "0.1.0"

from denoisebench.errors import DenoiseBenchError  # noqa: E402
from denoisebench.hookspecs import hookimpl  # noqa: E402
from denoisebench.interfaces import Dataset, Denoiser, Metric, NoiseModel, NoiseSpec  # noqa: E402

__all__ = ["__version__", "DenoiseBenchError", "hookimpl", "Dataset", "Denoiser", "Metric", "NoiseModel", "NoiseSpec"]
