"""Full-reference image-quality metrics calibrated against the authors' official code: FSIM / FSIMc, MS-SSIM,
GMSD and VIF (wavelet domain). numpy, scipy and OpenCV only.

Each module follows one official script step by step and says how (docs/metrics.md has the conventions and
the calibration table against the official values). Inputs are the harness's images (float in [0, 1], H×W
or H×W×3), scaled to 0..255 because the official constants assume that range. Bad input (mismatched shapes,
NaN, an image too small for the metric, a pair for which the metric is undefined) raises a one-line
:class:`~denoisebench.errors.ImageError`, which the worker records as a null value with that reason.
"""

from denoisebench.builtin.iqa.fsim import FSIM, FSIMc
from denoisebench.builtin.iqa.gmsd import GMSD
from denoisebench.builtin.iqa.msssim import MSSSIM
from denoisebench.builtin.iqa.vif import VIF
from denoisebench.hookspecs import hookimpl

METRICS = (FSIM, FSIMc, MSSSIM, GMSD, VIF)

__all__ = ["FSIM", "FSIMc", "GMSD", "METRICS", "MSSSIM", "VIF", "denoisebench_register_metrics"]


@hookimpl
def denoisebench_register_metrics(registry):
    for cls in METRICS:
        registry.add(cls)
