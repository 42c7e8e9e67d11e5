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


def _sq_sum(ref: np.ndarray, est: np.ndarray) -> float:
    """Sum of squared differences, each difference exact in float64. float32/float64 pairs of one dtype go to
    cv2.norm(NORM_L2SQR), which widens to double before subtracting and accumulates in double (tested against
    the float64 sum on pairs whose float32 differences round); anything else to the blocked numpy path."""
    if ref.dtype == est.dtype and ref.dtype in (np.float32, np.float64):
        return cv2.norm(ref, est, cv2.NORM_L2SQR)
    return _diff_sum(ref, est, square=True)[0]


def mse(reference: np.ndarray, estimate: np.ndarray) -> float:
    ref, est = _check_pair(reference, estimate)
    return _sq_sum(ref, est) / ref.size


def psnr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """10·log10(1/MSE) in dB (data range 1); ``inf`` for identical images."""
    err = mse(reference, estimate)
    return math.inf if err == 0 else 10.0 * math.log10(1.0 / err)


def ssim(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Mean SSIM with the Wang et al. settings; equals skimage's structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1) (channel_axis=-1 for colour).

    Local statistics are Gaussian-weighted means (separable 11-tap filter, float64) of x, y, x² + y² and xy; the
    SSIM map is averaged over the valid region (5-pixel crop), so the border rule does not matter. Images need
    both sides >= 11.
    """
    ref, est = _check_pair(reference, estimate)
    if min(ref.shape[:2]) < SSIM_WIN:
        raise ImageError(f"SSIM needs images of at least {SSIM_WIN}x{SSIM_WIN} pixels; got shape {ref.shape}")
    if ref.ndim == 2:
        return float(np.mean(_ssim_planes(ref[..., None], est[..., None])))
    return float(np.mean(_ssim_planes(ref, est)))


_SSIM_KERNEL = cv2.getGaussianKernel(SSIM_WIN, SSIM_SIGMA, cv2.CV_64F)  # = skimage's (truncate 3.5: radius 5)
#: float64 elements of one filter pass (4 maps × channels × rows × width): whole images up to 1M (481×321 gray is
#: 0.62M, colour takes two strips), row strips above, so the two reused per-thread buffers stay <= 8 MiB each
_SSIM_PASS = 1 << 20
#: elements per block of the SSIM-map arithmetic (three 128 KiB buffers, in cache)
_SSIM_BLOCK = 1 << 14


def _buffer(name: str, n: int) -> np.ndarray:
    """n float64 elements of a per-thread buffer that is reused between calls (grown, never shrunk)."""
    buf = getattr(_BUFFERS, name, None)
    if buf is None or buf.size < n:
        buf = np.empty(n, dtype=np.float64)
        setattr(_BUFFERS, name, buf)
    return buf[:n]


def _ssim_planes(x: np.ndarray, y: np.ndarray) -> list[float]:
    """Mean SSIM of each channel of H×W×C images. The four maps x, y, x² + y², xy of every channel of a row strip
    (with its 5-row halo) are stacked in one float64 buffer and filtered by one cv2.sepFilter2D call (a seam
    between two maps only reaches the 5 halo rows, which are cropped); the SSIM map is then formed block by block
    of full-width rows in cache-sized reused buffers (the 5 crop columns are left out of the sum): no full-size
    temporaries, no page faults per call. Only the sum vx + vy enters SSIM, so x² + y² is one map. The products
    of float64 copies of the pixels are the textbook float64 ones, as in skimage."""
    h, w, nc = x.shape
    c = SSIM_CROP
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    strip = max(16, _SSIM_PASS // (4 * nc * w) - 2 * c)
    bh = max(1, _SSIM_BLOCK // w)
    t1, t2, t3 = _buffer("ssim_tmp", 3 * bh * w).reshape(3, bh, w)
    totals = [0.0] * nc
    for r0 in range(c, h - c, strip):
        r1 = min(r0 + strip, h - c)
        n = r1 - r0 + 2 * c
        src = _buffer("ssim_src", 4 * nc * n * w).reshape(4, nc * n, w)
        sx, sy, spp, sxy = src
        np.copyto(sx.reshape(nc, n, w), np.moveaxis(x[r0 - c:r1 + c], 2, 0), casting="unsafe")
        np.copyto(sy.reshape(nc, n, w), np.moveaxis(y[r0 - c:r1 + c], 2, 0), casting="unsafe")
        cv2.multiply(sx, sx, dst=spp)
        cv2.accumulateSquare(sy, spp)
        cv2.multiply(sx, sy, dst=sxy)
        dst = cv2.sepFilter2D(src.reshape(4 * nc * n, w), cv2.CV_64F, _SSIM_KERNEL, _SSIM_KERNEL,
                              dst=_buffer("ssim_dst", 4 * nc * n * w).reshape(4 * nc * n, w),
                              borderType=cv2.BORDER_REFLECT)
        maps = dst.reshape(4, nc, n, w)[:, :, c:n - c]
        for ch in range(nc):
            ux, uy, upp, uxy = maps[:, ch]
            for b0 in range(0, r1 - r0, bh):
                b1 = min(b0 + bh, r1 - r0)
                a, b, m = ux[b0:b1], uy[b0:b1], b1 - b0
                num, den, aux = t1[:m], t2[:m], t3[:m]
                cv2.multiply(a, b, dst=num)                             # ux uy
                cv2.addWeighted(uxy[b0:b1], 2.0, num, -2.0, c2, dst=aux)  # 2 cov + C2
                cv2.addWeighted(num, 2.0, num, 0.0, c1, dst=num)        # 2 ux uy + C1
                cv2.multiply(num, aux, dst=num)                         # numerator
                cv2.multiply(a, a, dst=den)
                cv2.accumulateSquare(b, den)                            # ux² + uy²
                cv2.addWeighted(upp[b0:b1], 1.0, den, -1.0, c2, dst=aux)  # vx + vy + C2
                np.add(den, c1, out=den)
                cv2.multiply(den, aux, dst=den)                         # denominator
                cv2.divide(num, den, dst=num)
                totals[ch] += cv2.sumElems(num[:, c:w - c])[0]
    count = (h - 2 * c) * (w - 2 * c)
    return [t / count for t in totals]


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
