"""VIF, visual information fidelity in the wavelet domain (Sheikh & Bovik, IEEE TIP 2006), as vifvec.m.

This is the authors' *wavelet* VIF (``vifvec``), not the pixel-domain VIFp (``vifp_mscale``):

- a steerable pyramid, 4 levels, 6 orientations, Simoncelli's sp5Filters, 'reflect1' borders (reflection
  about the edge pixel), built as matlabPyrTools' buildSpyr does; the subbands used are vifvec's
  [4 7 10 13 16 19 22 25]: orientations 1 and 4 (0° and 90°) at each of the 4 levels;
- per subband the GSM model with M×M = 3×3 vectors: the covariance Cu of all overlapping 3×3 blocks, the
  field s² = v' Cu⁻¹ v / 9 on the non-overlapping blocks, Cu's eigenvalues λ_j;
- the distortion channel g, σ_v² per 3×3 block from box-window statistics ('reflect1'; the window is
  2^lev + 1 with vifvec's lev = ceil((sub - 1)/6): 17×17 at the finest level down to 3×3 at the coarsest),
  with vifsub_est_M's clamps (tol 1e-15);
- VIF = Σ_subbands Σ_j Σ log2(1 + g² s² λ_j / (σ_v² + σ_n²)) / Σ_subbands Σ_j Σ log2(1 + s² λ_j / σ_n²),
  σ_n² = 0.4, after dropping ceil(((winsize - 1)/2)/3) blocks at each border.

Images are scaled to 0..255; colour images are converted with MATLAB's rgb2gray weights first (the
calibration's rule; vifvec.m is gray-only). Not symmetric: the first image is the reference. VIF(x, x) = 1,
and VIF > 1 is possible (a contrast-enhanced estimate; a lightly noisy estimate of a very smooth reference,
where the fitted gain is unreliable), so no identity value is declared. Both sides must be >= 72 pixels (4 levels of a 9-tap
pyramid: buildSpyr refuses smaller); a constant reference is an error (Cu is singular, 0/0).
"""

from __future__ import annotations

import cv2
import numpy as np

from denoisebench.builtin.iqa._common import IQAMetric, MetricUndefinedError, gray, pair
from denoisebench.builtin.iqa.sp5 import BAND_FILTERS, LO0FILT, LOFILT

M = 3
SIGMA_NSQ = 0.4
TOL = 1e-15
LEVELS = 4
ORIENTATIONS_USED = (0, 3)  # bands 1 and 4 of each level (vifvec subbands 25/22, 19/16, 13/10, 7/4)
MIN_SIDE = 9 * 2 ** (LEVELS - 1)  # 72: buildSpyr's maxPyrHt for the 9-tap lofilt


_F32 = {"lo0": LO0FILT.astype(np.float32), "lo": LOFILT.astype(np.float32),
        **{b: BAND_FILTERS[b].astype(np.float32) for b in ORIENTATIONS_USED}}


def _corr(img: np.ndarray, filt: np.ndarray) -> np.ndarray:
    """matlabPyrTools corrDn(img, filt, 'reflect1') for an odd, centred filter (correlation, no flip).

    Single precision (the pyramid is linear; 5x faster in OpenCV than float64): VIF moves by < 2e-8.
    """
    return cv2.filter2D(img, cv2.CV_32F, filt, borderType=cv2.BORDER_REFLECT_101)


def subbands(img: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The 8 subbands vifvec uses (float64), finest level first, as (level 1..4, band)."""
    lo = _corr(img.astype(np.float32), _F32["lo0"])
    out = []
    for level in range(1, LEVELS + 1):
        for b in ORIENTATIONS_USED:
            out.append((level, _corr(lo, _F32[b]).astype(np.float64)))
        if level < LEVELS:
            lo = np.ascontiguousarray(_corr(lo, _F32["lo"])[::2, ::2])
    return out


def _block_stats(z: np.ndarray, winsize: int) -> np.ndarray:
    """corrDn(z, ones(winsize), 'reflect1', [3 3], [2 2], size - 1): window sums centred on each 3×3 block."""
    s = cv2.boxFilter(z, cv2.CV_64F, (winsize, winsize), normalize=False, borderType=cv2.BORDER_REFLECT_101)
    return s[1::M, 1::M]


def _channel(y: np.ndarray, yn: np.ndarray, winsize: int) -> tuple[np.ndarray, np.ndarray]:
    """vifsub_est_M for one subband (already cropped to a multiple of M): the gain g and noise variance vv."""
    n = winsize * winsize
    mean_x = _block_stats(y, winsize) / n
    mean_y = _block_stats(yn, winsize) / n
    cov_xy = _block_stats(y * yn, winsize) - n * mean_x * mean_y
    ss_x = _block_stats(y * y, winsize) - n * mean_x * mean_x
    ss_y = _block_stats(yn * yn, winsize) - n * mean_y * mean_y
    ss_x[ss_x < 0] = 0
    ss_y[ss_y < 0] = 0
    g = cov_xy / (ss_x + TOL)
    vv = (ss_y - g * cov_xy) / n
    small_x = ss_x < TOL
    g[small_x] = 0
    vv[small_x] = ss_y[small_x]
    small_y = ss_y < TOL
    g[small_y] = 0
    vv[small_y] = 0
    neg = g < 0
    vv[neg] = ss_y[neg]
    g[neg] = 0
    vv[vv <= TOL] = TOL
    return g, vv


def _gsm(y: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """refparams_vecgsm for one subband (cropped to a multiple of M): the s² field and Cu's eigenvalues.

    Cu is the (population) covariance of all overlapping 3×3 blocks; its 45 distinct entries are sums of
    products of shifted views of the subband (no 9×N copy).
    """
    h, w = y.shape
    views = [y[k:h - (M - 1) + k, j:w - (M - 1) + j] for j in range(M) for k in range(M)]
    n = views[0].size
    mean = np.array([v.sum() for v in views]) / n
    cu = np.empty((M * M, M * M))
    for a in range(M * M):
        for b in range(a, M * M):
            cu[a, b] = cu[b, a] = np.einsum("ij,ij->", views[a], views[b]) / n - mean[a] * mean[b]
    try:
        inv = np.linalg.inv(cu)
    except np.linalg.LinAlgError:
        inv = None
    if inv is None or not np.all(np.isfinite(inv)):
        raise MetricUndefinedError(f"{name}: a reference subband has a singular 3x3 block covariance (a flat or "
                                   "constant reference); VIF is undefined")
    blocks = np.stack([y[k::M, j::M].ravel() for j in range(M) for k in range(M)])
    ss = np.einsum("ij,jn,in->n", inv, blocks, blocks) / (M * M)
    return ss.reshape(h // M, w // M), np.linalg.eigvalsh(cu)


def vif(reference: np.ndarray, estimate: np.ndarray, name: str = "vif", uint8: bool = False) -> float:
    """VIF of an estimate against a reference, both in [0, 1] (``uint8`` as the metric option)."""
    ref, est = pair(name, reference, estimate, MIN_SIDE, uint8)
    ref, est = gray(ref, uint8), gray(est, uint8)
    num = den = 0.0
    for (level, y), (_, yn) in zip(subbands(ref), subbands(est)):
        # vifvec's lev = ceil((sub - 1) / 6) counts from the coarsest level: 3x3 windows there, 17x17 at the finest
        winsize = 2 ** (LEVELS + 1 - level) + 1
        h, w = (y.shape[0] // M) * M, (y.shape[1] // M) * M
        y, yn = y[:h, :w], yn[:h, :w]
        g, vv = _channel(y, yn, winsize)
        ss, lam = _gsm(y, name)
        off = -(-((winsize - 1) // 2) // M)
        g, vv, ss = (a[off:a.shape[0] - off, off:a.shape[1] - off] for a in (g, vv, ss))
        gg = (g * g * ss / (vv + SIGMA_NSQ)).ravel()
        ss = ss.ravel()
        for lj in lam:
            num += float(np.log2(1 + gg * lj).sum())
            den += float(np.log2(1 + ss * (lj / SIGMA_NSQ)).sum())
    if not den > 0:
        raise MetricUndefinedError(f"{name}: the reference carries no information (its subbands are flat); "
                                   "VIF is 0/0")
    return num / den


class VIF(IQAMetric):
    name = "vif"
    description = "visual information fidelity, wavelet domain (vifvec; Sheikh & Bovik, TIP 2006)"
    higher_is_better = True
    label, format, value_range, order = "VIF", "{:.4f}", (0.0, None), 14
    convention = ("vifvec.m (wavelet VIF, not VIFp): images x255; colour -> MATLAB rgb2gray (0.2989, 0.5870, "
                  "0.1140); steerable pyramid sp5Filters, 4 levels, reflect1 borders; subbands 4 7 10 13 16 19 "
                  "22 25; 3x3 GSM vectors, sigma_n^2 0.4; first image = reference; both sides >= 72 px")
    #: VIF(x, x) = 1, but 1 is not the best value (a contrast-enhanced estimate, or a lightly noisy one of a very
    #: smooth reference, scores above it) and a flat x is undefined; so no identity is declared, which is what
    #: tells tables and the conformance kit not to treat 1 as the optimum
    identity = None
    symmetric = False
    min_side = MIN_SIDE

    def compute(self, reference, estimate):
        return vif(reference, estimate, self.name, self.uint8)
