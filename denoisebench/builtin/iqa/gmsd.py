"""GMSD, gradient magnitude similarity deviation (Xue, Zhang, Mou & Bovik, IEEE TIP 2014), as GMSD.m.

The official script takes a gray image in 0..255: it filters with a 2×2 mean (conv2 'same', zero padding)
and keeps every 2nd pixel (so for an odd side the last kept row/column averages one pixel with zero, as in
the script), takes Prewitt gradients [1 0 -1; 1 0 -1; 1 0 -1]/3 (conv2 'same', zero padding), forms
GMS = (2 m1 m2 + 170) / (m1² + m2² + 170) and returns std2(GMS), the sample standard deviation (N - 1).
Colour images are converted with MATLAB's rgb2gray weights first (the calibration's rule; GMSD.m is gray-only).
Lower is better; GMSD(x, x) = 0; defined for constant images too (GMS = 1 where both gradients vanish).
"""

from __future__ import annotations

import numpy as np

from denoisebench.builtin.iqa._common import IQAMetric, average_downsample, conv2_same, gray, pair

T = 170.0
PREWITT_X = np.array([[1.0, 0.0, -1.0]] * 3) / 3.0
PREWITT_Y = PREWITT_X.T.copy()
MIN_SIDE = 4  # 2x downsampling, then a 3x3 gradient on at least 2x2 pixels


def gradient_magnitude(y: np.ndarray) -> np.ndarray:
    gx, gy = conv2_same(y, PREWITT_X), conv2_same(y, PREWITT_Y)
    return np.sqrt(gx * gx + gy * gy)


def gmsd(reference: np.ndarray, estimate: np.ndarray, name: str = "gmsd", uint8: bool = False) -> float:
    """GMSD of two images in [0, 1] (see the module docstring; ``uint8`` as the metric option)."""
    ref, est = pair(name, reference, estimate, MIN_SIDE, uint8)
    m1 = gradient_magnitude(average_downsample(gray(ref, uint8), 2))
    m2 = gradient_magnitude(average_downsample(gray(est, uint8), 2))
    gms = (2 * m1 * m2 + T) / (m1 * m1 + m2 * m2 + T)
    return float(np.std(gms, ddof=1))


class GMSD(IQAMetric):
    name = "gmsd"
    description = "gradient magnitude similarity deviation (Xue et al., TIP 2014)"
    higher_is_better = False
    label, format, value_range, order = "GMSD", "{:.4f}", (0.0, 1.0), 13
    convention = ("GMSD.m: images x255; colour -> MATLAB rgb2gray (0.2989, 0.5870, 0.1140); 2x2 mean, "
                  "conv2 'same' (zero padding), every 2nd pixel; Prewitt /3 gradients, zero padding; "
                  "T = 170; sample std (N-1) of the GMS map")
    identity = 0.0
    symmetric = True
    min_side = MIN_SIDE

    def compute(self, reference, estimate):
        return gmsd(reference, estimate, self.name, self.uint8)
