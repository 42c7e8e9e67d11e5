"""Built-in full-reference metrics: PSNR, SSIM, MSE, MAE and Pearson r (conventions in DESIGN.md).

All take a clean ``reference`` and an ``estimate`` of the same shape (H×W or H×W×3, values in [0, 1], data
range 1) and compute in float64. Colour: PSNR, MSE, MAE and Pearson pool every channel's pixels; SSIM is the
mean of the per-channel SSIMs. PSNR and SSIM take the option ``channel=y`` (``--metric-option psnr.channel=y``)
to score colour images on their BT.601 luma instead (the super-resolution / KAIR convention). Per-image values are returned; a dataset value is the mean of per-image values.
"""

from __future__ import annotations

import math
import threading

import cv2
import numpy as np

from denoisebench.errors import ImageError, ParameterError
from denoisebench.hookspecs import hookimpl
from denoisebench.images import check_image
from denoisebench.interfaces import Metric

# SSIM constants (Wang et al. 2004): 11×11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, data range 1.
SSIM_WIN, SSIM_SIGMA, SSIM_K1, SSIM_K2 = 11, 1.5, 0.01, 0.03
SSIM_CROP = (SSIM_WIN - 1) // 2


#: elements per block of the float64 difference (64K: the fastest of 4K-512K measured here)
_BLOCK = 1 << 16
_BUFFERS = threading.local()


def _check_pair(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, est = np.asarray(reference), np.asarray(estimate)
    if ref.shape != est.shape:
        raise ImageError(f"reference shape {ref.shape} != estimate shape {est.shape}; pass images of the same shape")
    check_image(ref, source="reference")
    return ref, est


def _pair(reference: np.ndarray, estimate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, est = _check_pair(reference, estimate)
    return ref.astype(np.float64, copy=False), est.astype(np.float64, copy=False)


def _diff_sum(reference: np.ndarray, estimate: np.ndarray, square: bool) -> tuple[float, int]:
    """(sum of squared or absolute differences, count), exact in float64, without full-size float64 copies:
    the difference is formed block by block in a reused per-thread buffer (no page faults per call)."""
    ref, est = _check_pair(reference, estimate)
    a, b = np.ravel(ref), np.ravel(est)
    n = a.size
    buf = getattr(_BUFFERS, "buf", None)
    if buf is None:
        buf = _BUFFERS.buf = np.empty(_BLOCK, dtype=np.float64)
    total = 0.0
    for start in range(0, n, _BLOCK):
        d = buf[: min(_BLOCK, n - start)]
        np.subtract(a[start:start + _BLOCK], b[start:start + _BLOCK], out=d, dtype=np.float64)
        if square:
            total += float(np.einsum("i,i->", d, d))
        else:
            total += float(np.abs(d, out=d).sum())
    return total, n


def mse(reference: np.ndarray, estimate: np.ndarray) -> float:
    total, n = _diff_sum(reference, estimate, square=True)
    return total / n


def psnr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """10·log10(1/MSE) in dB (data range 1); ``inf`` for identical images."""
    err = mse(reference, estimate)
    return math.inf if err == 0 else 10.0 * math.log10(1.0 / err)


def ssim(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Mean SSIM with the Wang et al. settings; equals skimage's structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1) (channel_axis=-1 for colour).

    Local statistics are Gaussian-weighted means (cv2.GaussianBlur, float64) of x, y, x² + y² and xy; the SSIM
    map is averaged over the valid region (5-pixel crop), so the border rule does not matter. Images need both
    sides >= 11.
    """
    ref, est = _pair(reference, estimate)
    if min(ref.shape[:2]) < SSIM_WIN:
        raise ImageError(f"SSIM needs images of at least {SSIM_WIN}x{SSIM_WIN} pixels; got shape {ref.shape}")
    if ref.ndim == 3:
        return float(np.mean([_ssim2d(ref[..., c], est[..., c]) for c in range(ref.shape[2])]))
    return _ssim2d(ref, est)


def _blur(z: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(z, (SSIM_WIN, SSIM_WIN), SSIM_SIGMA, sigmaY=SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)


def _ssim2d(x: np.ndarray, y: np.ndarray) -> float:
    # one-channel float64 blurs (cv2's multi-channel float64 path is ~4x slower per channel); only the sum
    # vx + vy enters SSIM, so x² + y² is blurred as one map
    c = SSIM_CROP
    ux, uy, uxxyy, uxy = (_blur(z)[c:-c, c:-c] for z in (x, y, x * x + y * y, x * y))
    uxuy = ux * uy
    usq = ux * ux + uy * uy
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    s = ((2 * uxuy + c1) * (2 * (uxy - uxuy) + c2)) / ((usq + c1) * (uxxyy - usq + c2))
    return float(s.mean())


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of an RGB image in [0, 1], in [16/255, 235/255]: MATLAB's ``rgb2ycbcr`` Y channel (= skimage
    ``rgb2ycbcr(img)[..., 0] / 255``, KAIR/BasicSR ``bgr2ycbcr(only_y=True)``)."""
    img = np.asarray(img, dtype=np.float64)
    return (16.0 + 65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255.0


def mae(reference: np.ndarray, estimate: np.ndarray) -> float:
    total, n = _diff_sum(reference, estimate, square=False)
    return total / n


def _dot(u: np.ndarray, v: np.ndarray) -> float:
    # einsum, not np.dot: BLAS threads stall by orders of magnitude when the cores are busy
    return float(np.einsum("i,i->", u, v))


def pearson(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Pearson correlation of the clean and output pixels (the paper's eq. 17), all channels pooled.

    NaN when either image is constant (the correlation is undefined; scipy.stats.pearsonr also gives NaN).
    """
    ref, est = _pair(reference, estimate)
    if ref.min() == ref.max() or est.min() == est.max():
        return math.nan
    a = ref.ravel() - ref.mean()
    b = est.ravel() - est.mean()
    return max(-1.0, min(1.0, _dot(a, b) / math.sqrt(_dot(a, a) * _dot(b, b))))


class _Builtin(Metric):
    func = staticmethod(mse)

    def __init__(self, **options):
        if options:
            raise ParameterError(f"metric {self.name!r}: unknown option {sorted(options)[0]!r}; it takes no options")
        super().__init__()

    def compute(self, reference, estimate):
        return self.func(reference, estimate)


class _LumaOption(_Builtin):
    """A metric that scores colour images on all RGB channels (default) or, with ``channel="y"``, on luma."""

    def __init__(self, channel: str = "rgb", **options):
        if options:
            raise ParameterError(f"metric {self.name!r}: unknown option {sorted(options)[0]!r}; valid: channel")
        if channel not in ("rgb", "y"):
            raise ParameterError(f"metric {self.name!r}: channel={channel!r} is invalid; pass rgb (every channel, "
                                 "the default) or y (BT.601 luma of colour images)")
        Metric.__init__(self, **({"channel": channel} if channel != "rgb" else {}))
        self.channel = channel
        if channel == "y":
            self.convention = self.y_convention

    def compute(self, reference, estimate):
        if self.channel == "y" and np.ndim(reference) == 3 and np.shape(reference)[-1] == 3:
            _pair(reference, estimate)  # same shape, valid image: one-line errors as for RGB
            reference, estimate = rgb_to_y(reference), rgb_to_y(estimate)
        return self.func(reference, estimate)


class PSNR(_LumaOption):
    name = "psnr"
    description = "peak signal-to-noise ratio"
    higher_is_better = True
    unit = "dB"
    label, format, value_range, order = "PSNR", "{:.2f}", (0.0, None), 0
    convention = "10*log10(1/MSE), data range 1, colour over all RGB channels; inf for identical images"
    y_convention = ("10*log10(1/MSE), data range 1, colour images on BT.601 luma Y in [16, 235]/255 (MATLAB "
                    "rgb2ycbcr); inf for identical images")
    identity = math.inf
    func = staticmethod(psnr)


class SSIM(_LumaOption):
    name = "ssim"
    description = "structural similarity (Wang et al. 2004)"
    higher_is_better = True
    label, format, value_range, order = "SSIM", "{:.4f}", (-1.0, 1.0), 1
    convention = ("11x11 Gaussian window sigma 1.5, K1=0.01, K2=0.03, population covariance, data range 1, "
                  "5-pixel valid crop; colour = mean over channels (= skimage gaussian_weights=True)")
    y_convention = ("11x11 Gaussian window sigma 1.5, K1=0.01, K2=0.03, population covariance, data range 1, "
                    "5-pixel valid crop; colour images on BT.601 luma Y in [16, 235]/255 (MATLAB rgb2ycbcr)")
    identity = 1.0
    func = staticmethod(ssim)


class MSE(_Builtin):
    name = "mse"
    description = "mean squared error"
    higher_is_better = False
    label, format, value_range, order = "MSE", "{:.5f}", (0.0, 1.0), 2
    convention = "mean of squared differences, images in [0, 1], colour over all channels"
    identity = 0.0
    func = staticmethod(mse)


class MAE(_Builtin):
    name = "mae"
    description = "mean absolute error"
    higher_is_better = False
    label, format, value_range, order = "MAE", "{:.4f}", (0.0, 1.0), 3
    convention = "mean of absolute differences, images in [0, 1], colour over all channels"
    identity = 0.0
    func = staticmethod(mae)


class Pearson(_Builtin):
    name = "pearson"
    description = "Pearson correlation between clean and output pixels (paper eq. 17)"
    higher_is_better = True
    label, format, value_range, order = "Pearson r", "{:.4f}", (-1.0, 1.0), 5
    convention = "Pearson r over all pixels (colour: all channels pooled); NaN if either image is constant"
    identity = 1.0  # for any non-constant image
    func = staticmethod(pearson)


METRICS = (PSNR, SSIM, MSE, MAE, Pearson)


@hookimpl
def denoisebench_register_metrics(registry):
    for cls in METRICS:
        registry.add(cls)
