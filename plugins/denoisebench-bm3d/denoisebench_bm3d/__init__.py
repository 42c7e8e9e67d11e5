"""BM3D for denoisebench: a non-blind denoiser wrapping the PyPI ``bm3d`` package (non-commercial licence)."""

__version__ = "0.1.0"
