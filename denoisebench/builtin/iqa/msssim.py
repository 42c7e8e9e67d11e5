"""MS-SSIM (Wang, Simoncelli & Bovik, Asilomar 2003), as the authors' msssim.m.

Five scales with weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333). At each scale the SSIM of ssim_index.m
(11×11 Gaussian window, sigma 1.5, normalised; K1 = 0.01, K2 = 0.03, L = 255; 'valid' filtering, so no
border rule) gives the mean contrast-structure term cs and the mean SSIM; between scales both images are
filtered with a 2×2 mean (imfilter 'symmetric', 'same') and every 2nd pixel kept. The score is
prod(cs_1..4 ^ w_1..4) · ssim_5 ^ w_5 (the paper's product, msssim.m's default ``method='product'``).
The option ``method=wtd_sum`` is msssim.m's other pooling, sum(w_1..4 cs_1..4) + w_5 ssim_5 with the weights
normalised to sum 1: the official calibration values of this project (made by the IQA-PyTorch authors with
msssim.m) are that pooling, to 3e-5, while the product is up to 4.4e-3 away from them. Colour images are converted with MATLAB's rgb2gray weights first
(the calibration's rule; msssim.m is gray-only).

Too small for five scales: msssim.m returns -Inf when min(H, W) / 16 < 11; here that is an ImageError saying
the minimum (176 pixels), so the row holds null with that reason. A negative cs (an estimate anticorrelated
with the reference at some scale) has no real power in MATLAB (the script returns a complex number): an error
too, never a silent NaN.
"""

from __future__ import annotations

import cv2
import numpy as np

from denoisebench.builtin.iqa._common import IQAMetric, MetricUndefinedError, gray, pair

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN, SIGMA, K1, K2, L = 11, 1.5, 0.01, 0.03, 255.0
C1, C2 = (K1 * L) ** 2, (K2 * L) ** 2
MIN_SIDE = WIN * 2 ** (len(WEIGHTS) - 1)  # 176


def _blur_valid(z: np.ndarray) -> np.ndarray:
    c = WIN // 2
    return cv2.GaussianBlur(z, (WIN, WIN), SIGMA, sigmaY=SIGMA, borderType=cv2.BORDER_REFLECT)[c:-c, c:-c]


def ssim_terms(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean SSIM, mean contrast-structure) of two gray 0..255 images (ssim_index_new of msssim.m)."""
    mx, my = _blur_valid(x), _blur_valid(y)
    sxx, syy, sxy = _blur_valid(x * x), _blur_valid(y * y), _blur_valid(x * y)
    mx2, my2, mxy = mx * mx, my * my, mx * my
    cs = (2 * (sxy - mxy) + C2) / (sxx - mx2 + syy - my2 + C2)
    lum = (2 * mxy + C1) / (mx2 + my2 + C1)
    return float((lum * cs).mean()), float(cs.mean())


def downsample(z: np.ndarray) -> np.ndarray:
    """imfilter(z, ones(2)/4, 'symmetric', 'same') then (1:2:end, 1:2:end)."""
    h, w = z.shape
    z = np.pad(z, ((0, h % 2), (0, w % 2)), mode="edge")
    return 0.25 * (z[0::2, 0::2] + z[1::2, 0::2] + z[0::2, 1::2] + z[1::2, 1::2])


def scale_terms(reference: np.ndarray, estimate: np.ndarray, name: str = "ms_ssim",
                uint8: bool = False) -> list[tuple[float, float]]:
    """Per scale (mean SSIM, mean cs), finest first, of two images in [0, 1]."""
    x, y = pair(name, reference, estimate, MIN_SIDE, uint8)
    x, y = gray(x, uint8), gray(y, uint8)
    terms = []
    for level in range(len(WEIGHTS)):
        if level:
            x, y = downsample(x), downsample(y)
        terms.append(ssim_terms(x, y))
    return terms


def ms_ssim(reference: np.ndarray, estimate: np.ndarray, name: str = "ms_ssim", uint8: bool = False,
            method: str = "product") -> float:
    """MS-SSIM of two images in [0, 1]; ``method`` product (default) or wtd_sum, as msssim.m's."""
    terms = scale_terms(reference, estimate, name, uint8)
    last = len(WEIGHTS) - 1
    values = [ssim if level == last else cs for level, (ssim, cs) in enumerate(terms)]
    if method == "wtd_sum":
        total = sum(WEIGHTS)
        return float(sum(v * w / total for v, w in zip(values, WEIGHTS)))
    score = 1.0
    for level, (value, w) in enumerate(zip(values, WEIGHTS)):
        if value < 0:
            what = "SSIM" if level == last else "contrast-structure term"
            raise MetricUndefinedError(f"{name}: the mean {what} at scale {level + 1} is negative ({value:.4g}: "
                                       "the estimate is anticorrelated with the reference); MS-SSIM is undefined")
        score *= value**w
    return score


class MSSSIM(IQAMetric):
    name = "ms_ssim"
    description = "multi-scale structural similarity (Wang et al., 2003)"
    higher_is_better = True
    label, format, value_range, order = "MS-SSIM", "{:.4f}", (0.0, 1.0), 12
    convention = ("msssim.m: images x255 (L = 255); colour -> MATLAB rgb2gray (0.2989, 0.5870, 0.1140); 5 "
                  "scales, weights 0.0448 0.2856 0.3001 0.2363 0.1333; 11x11 Gaussian sigma 1.5, K1 0.01, "
                  "K2 0.03, 'valid' windows; 2x2 mean ('symmetric') + every 2nd pixel between scales; "
                  "product pooling prod(cs_1..4^w) ssim_5^w5 (the paper's); both sides >= 176 px")
    identity = 1.0
    symmetric = True
    min_side = MIN_SIDE
    defaults = {"uint8": False, "method": "product"}
    choices = {"method": ("product", "wtd_sum")}

    @classmethod
    def describe(cls, opts):
        text = super().describe(opts)
        if opts.get("method") == "wtd_sum":
            text += "; method=wtd_sum: sum(w_i cs_i) + w_5 ssim_5, weights normalised (msssim.m 'wtd_sum')"
        return text

    def compute(self, reference, estimate):
        return ms_ssim(reference, estimate, self.name, self.uint8, self.params["method"])
