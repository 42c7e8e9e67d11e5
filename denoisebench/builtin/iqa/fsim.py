"""FSIM and FSIMc (Zhang, Zhang, Mou & Zhang, IEEE TIP 2011), following the authors' FeatureSIM.m.

Pipeline of the official script, reproduced step by step (images in 0..255, float64):

1. Colour: Y = 0.299 R + 0.587 G + 0.114 B, I = 0.596 R - 0.274 G - 0.322 B, Q = 0.211 R - 0.523 G + 0.312 B
   (NTSC YIQ); a gray image is Y itself and has I = Q = 1 (so FSIMc = FSIM on gray images).
2. Automatic downsampling: F = max(1, round(min(H, W) / 256)); each of Y, I, Q is filtered with an F×F mean
   (conv2 'same', zero padding) and every F-th pixel kept (481×321 -> F = 1; 512×384 -> F = 2).
3. Phase congruency of Y (Kovesi's phasecong2 as embedded in FeatureSIM.m): 4 scales (wavelengths 6, 12, 24,
   48), 4 orientations, log-Gabor sigmaOnf 0.55, angular spread dThetaOnSigma 1.2, a Butterworth low-pass
   (cutoff 0.45, order 15), noise threshold k = 2 from the median of the smallest-scale energy, divided by 1.7;
   all filtering by FFT (periodic boundaries).
4. Gradient magnitude with the Scharr kernels [3 0 -3; 10 0 -10; 3 0 -3]/16 (conv2 'same', zero padding).
5. S_PC = (2 PC1 PC2 + 0.85)/(PC1² + PC2² + 0.85), S_G = (2 G1 G2 + 160)/(G1² + G2² + 160),
   FSIM = sum(S_PC S_G PCm) / sum(PCm) with PCm = max(PC1, PC2); FSIMc multiplies in
   real((S_I S_Q)^0.03), S_I = (2 I1 I2 + 200)/(I1² + I2² + 200), likewise S_Q.

Where the time goes (481×321 gray, one image's phase congruency ≈ 58 ms CPU on the loaded 2-core dev machine,
docs/benchmarks.md): the 16 inverse complex FFTs 54 % (the length-321 = 3 × 107 axis is 2.7× slower than a
length-324 one; padding would change the periodic boundaries and the values), the elementwise work on the 16
responses (products, magnitudes, mean phase, phase-deviation energy) 36 %, the noise medians 2 %. A pair needs
two; a run scores every denoiser against the same clean image, whose features are cached (below). The filter
bank and its noise constants depend only on the image size and are built once per size.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from denoisebench.builtin.iqa._common import (
    LRU,
    YIQ,
    IQAMetric,
    MetricUndefinedError,
    average_downsample,
    conv2_same,
    digest,
    is_constant,
    matlab_round,
    pair,
)


def _scipy_fft():
    """scipy.fft, imported on first use (0.1-0.2 s: every command loads this module with the built-in metrics)."""
    import scipy.fft

    return scipy.fft


NSCALE, NORIENT, MIN_WAVELENGTH, MULT = 4, 4, 6, 2
SIGMA_ONF, DTHETA_ON_SIGMA, K_NOISE, EPSILON = 0.55, 1.2, 2.0, 1e-4
T1, T2, T3, T4, LAMBDA = 0.85, 160.0, 200.0, 200.0, 0.03
SCHARR_X = np.array([[3.0, 0.0, -3.0], [10.0, 0.0, -10.0], [3.0, 0.0, -3.0]]) / 16.0
SCHARR_Y = SCHARR_X.T.copy()
#: both sides of the image that phase congruency sees (after downsampling) must reach the coarsest
#: log-Gabor wavelength
MIN_SIDE = MIN_WAVELENGTH * MULT ** (NSCALE - 1)


def _frequency_grid(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised radius and sin/cos of the polar angle, zero frequency at [0, 0] (phasecong2's ranges)."""

    def axis(n: int) -> np.ndarray:
        if n % 2:
            return np.arange(-(n - 1) / 2, (n - 1) / 2 + 1) / (n - 1)
        return np.arange(-n / 2, n / 2) / n

    x, y = np.meshgrid(axis(cols), axis(rows))
    radius = np.fft.ifftshift(np.sqrt(x * x + y * y))
    theta = np.fft.ifftshift(np.arctan2(-y, x))
    return radius, np.sin(theta), np.cos(theta)


@functools.lru_cache(maxsize=8)
def filter_bank(rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """(filters, noise_factor): the log-Gabor × angular filters, shape (NORIENT, NSCALE, rows, cols), and per
    orientation the constant c_o with EstNoiseEnergy² = c_o · medianE2n (phasecong2's noise model)."""
    radius, sintheta, costheta = _frequency_grid(rows, cols)
    radius[0, 0] = 1.0
    # Butterworth low-pass, radius 0.45, order 15 (lowpassfilter.m); it uses the grid before the radius fudge
    # only at [0, 0], where the log-Gabors are zeroed anyway
    lp = 1.0 / (1.0 + (radius / 0.45) ** (2 * 15))
    log_gabor = np.empty((NSCALE, rows, cols))
    for s in range(NSCALE):
        fo = 1.0 / (MIN_WAVELENGTH * MULT**s)
        log_gabor[s] = np.exp(-(np.log(radius / fo) ** 2) / (2 * math.log(SIGMA_ONF) ** 2)) * lp
        log_gabor[s, 0, 0] = 0.0
    theta_sigma = math.pi / NORIENT / DTHETA_ON_SIGMA
    filters = np.empty((NORIENT, NSCALE, rows, cols))
    noise_factor = np.empty(NORIENT)
    for o in range(NORIENT):
        angl = o * math.pi / NORIENT
        ds = sintheta * math.cos(angl) - costheta * math.sin(angl)
        dc = costheta * math.cos(angl) + sintheta * math.sin(angl)
        spread = np.exp(-(np.abs(np.arctan2(ds, dc)) ** 2) / (2 * theta_sigma**2))
        filters[o] = log_gabor * spread
        em_n = float(np.sum(filters[o, 0] ** 2))  # mean squared filter value at the smallest scale
        ifft_filt = np.real(_scipy_fft().ifft2(filters[o])) * math.sqrt(rows * cols)
        sum_an2 = float(np.sum(ifft_filt**2))
        total = ifft_filt.sum(axis=0)
        sum_aiaj = float((np.sum(total**2) - sum_an2) / 2)  # sum over scale pairs si < sj
        # noisePower = meanE2n / EM_n, meanE2n = -median / log(0.5); EstNoiseEnergy2 = 2 nP ΣAn² + 4 nP ΣAiAj
        noise_factor[o] = (2 * sum_an2 + 4 * sum_aiaj) / em_n / -math.log(0.5)
    filters = filters.astype(np.float32)
    filters.setflags(write=False)
    noise_factor.setflags(write=False)
    return filters, noise_factor


def _median_of_squares(a: np.ndarray) -> float:
    """MATLAB ``median(a(:).^2)`` for a >= 0 (the two middle values averaged when the count is even)."""
    flat = a.ravel()
    n = flat.size
    if n % 2:
        m = float(np.partition(flat, n // 2)[n // 2])
        return m * m
    part = np.partition(flat, [n // 2 - 1, n // 2])
    lo, hi = float(part[n // 2 - 1]), float(part[n // 2])
    return (lo * lo + hi * hi) / 2


def phase_congruency(im: np.ndarray) -> np.ndarray:
    """Phase congruency map of a gray float64 image (FeatureSIM.m's phasecong2).

    Per orientation, with EO_s = E_s + i O_s the response at scale s and z = ΣEO_s / (|ΣEO_s| + epsilon) the
    mean phase: phasecong2's Energy = Σ_s (E_s MeanE + O_s MeanO - |E_s MeanO - O_s MeanE|) is
    Re(ΣEO_s · conj z) - Σ_s |Im(EO_s · conj z)|, computed that way (fewer passes over the 16 fields).
    The responses are single precision (complex64 inverse FFTs, 1.7x faster than complex128 at 481×321);
    the filter design, the image spectrum and the pooling are float64. Against an all-float64 computation
    the PC maps differ by < 1e-5 and FSIM by < 1e-6.
    """
    rows, cols = im.shape
    filters, noise_factor = filter_bank(rows, cols)
    fft = _scipy_fft()
    imagefft = fft.fft2(im).astype(np.complex64)
    energy_all = np.zeros((rows, cols))
    an_all = np.zeros((rows, cols))
    sigma_factor = math.sqrt(math.pi / 2) + K_NOISE * math.sqrt(2 - math.pi / 2)
    eps = np.float32(EPSILON)
    for o in range(NORIENT):
        eo = fft.ifft2(imagefft[None] * filters[o], axes=(-2, -1), overwrite_x=True)
        an = np.abs(eo)
        an_all += an.sum(axis=0)
        total = eo.sum(axis=0)
        zc = np.conj(total) / (np.abs(total) + eps)  # conj of the mean phase vector (MeanE - i MeanO)
        eo *= zc  # real: E MeanE + O MeanO; imag: O MeanE - E MeanO
        energy = (total * zc).real.astype(np.float64) - np.abs(eo.imag).sum(axis=0, dtype=np.float64)
        # noise: the median of An^2 at the smallest scale -> Rayleigh parameter -> threshold, / 1.7 for PC_2
        tau = math.sqrt(noise_factor[o] * _median_of_squares(an[0]) / 2)
        energy_all += np.maximum(energy - tau * sigma_factor / 1.7, 0.0)
    return energy_all / an_all


def _gradient(y: np.ndarray) -> np.ndarray:
    gx, gy = conv2_same(y, SCHARR_X), conv2_same(y, SCHARR_Y)
    return np.sqrt(gx * gx + gy * gy)


class _Features(NamedTuple):
    pc: np.ndarray
    grad: np.ndarray
    i: np.ndarray | None
    q: np.ndarray | None


#: features of recent images (the clean reference repeats for every denoiser of a cell) and the scores of
#: recent pairs (fsim and fsimc of one run score the same pairs: the second is a lookup)
_FEATURES = LRU(4)
_PAIRS = LRU(256)


def _features(img: np.ndarray, f: int, name: str, what: str) -> _Features:
    """PC and gradient of the (downsampled) luminance, and the downsampled I, Q, of one 0..255 image."""
    if img.ndim == 2:
        y, i, q = average_downsample(img, f), None, None
    else:
        r, g, b = img[..., 0], img[..., 1], img[..., 2]
        y, i, q = (average_downsample(c[0] * r + c[1] * g + c[2] * b, f) for c in YIQ)
    if min(y.shape) < MIN_SIDE:
        raise MetricUndefinedError(f"{name}: downsampled image {y.shape[0]}x{y.shape[1]} is smaller than "
                                   f"the coarsest filter wavelength {MIN_SIDE}")
    if is_constant(y):
        raise MetricUndefinedError(f"{name}: the {what} is constant (zero variance); phase congruency is 0/0 "
                                   f"there, so {name} is undefined")
    return _Features(phase_congruency(y), _gradient(y), i, q)


def fsim_pair(reference: np.ndarray, estimate: np.ndarray, name: str = "fsim", uint8: bool = False,
              cache: bool = True) -> tuple[float, float]:
    """(FSIM, FSIMc) of two images in [0, 1] (gray: both equal), as FeatureSIM.m returns them.

    ``uint8`` rounds both images to 8-bit levels first (FeatureSIM.m on 8-bit files). With ``cache``, the
    features of an image seen in one of the last few calls and the scores of a pair seen recently are reused
    (keyed by a digest of the array contents, so a changed array is never mistaken for an old one).
    """
    if not cache:
        return _score(reference, estimate, name, uint8, lambda img, f, what: _features(img, f, name, what))
    ref_key, est_key = digest(np.asarray(reference), uint8), digest(np.asarray(estimate), uint8)
    hit = _PAIRS.get((ref_key, est_key))
    if hit is not None:
        return hit

    def features(img, f, what):
        key = ref_key if what == "reference" else est_key
        feats = _FEATURES.get(key)
        if feats is None:
            feats = _features(img, f, name, what)
            _FEATURES.put(key, feats)
        return feats

    result = _score(reference, estimate, name, uint8, features)
    _PAIRS.put((ref_key, est_key), result)
    return result


def _score(reference, estimate, name, uint8, features) -> tuple[float, float]:
    ref, est = pair(name, reference, estimate, MIN_SIDE, uint8)
    f = max(1, matlab_round(min(ref.shape[:2]) / 256))
    a, b = features(ref, f, "reference"), features(est, f, "estimate")
    s_pc = (2 * a.pc * b.pc + T1) / (a.pc * a.pc + b.pc * b.pc + T1)
    s_g = (2 * a.grad * b.grad + T2) / (a.grad * a.grad + b.grad * b.grad + T2)
    pcm = np.maximum(a.pc, b.pc)
    weight = float(pcm.sum())
    if not weight > 0:
        raise MetricUndefinedError(f"{name}: phase congruency is zero everywhere in both images (no feature "
                                   "above the noise threshold); FSIM is 0/0")
    sim = s_g * s_pc * pcm
    fsim = float(sim.sum()) / weight
    if a.i is None:
        return fsim, fsim
    s_i = (2 * a.i * b.i + T3) / (a.i * a.i + b.i * b.i + T3)
    s_q = (2 * a.q * b.q + T4) / (a.q * a.q + b.q * b.q + T4)
    # real(z^0.03) of a possibly negative real z: |z|^0.03 cos(0.03 pi) where z < 0 (MATLAB's principal power)
    prod = s_i * s_q
    chroma = np.abs(prod) ** LAMBDA * np.where(prod < 0, math.cos(LAMBDA * math.pi), 1.0)
    fsimc = float((sim * chroma).sum()) / weight
    return fsim, fsimc


class FSIM(IQAMetric):
    name = "fsim"
    description = "feature similarity, luminance only (Zhang et al., TIP 2011)"
    higher_is_better = True
    label, format, value_range, order = "FSIM", "{:.4f}", (0.0, 1.0), 10
    convention = ("FeatureSIM.m: images x255; colour -> Y of NTSC YIQ (0.299, 0.587, 0.114); automatic "
                  "downsampling by F = max(1, round(min(H,W)/256)) (F x F mean, conv2 'same', every F-th "
                  "pixel); phase congruency (4 scales from wavelength 6, 4 orientations, FFT) and Scharr "
                  "gradient; T1 0.85, T2 160; PC-max-weighted mean")
    identity = 1.0
    symmetric = True
    min_side = MIN_SIDE

    def compute(self, reference, estimate):
        return fsim_pair(reference, estimate, self.name, self.uint8)[0]


class FSIMc(IQAMetric):
    name = "fsimc"
    description = "feature similarity with chrominance (FSIMc, Zhang et al., TIP 2011)"
    higher_is_better = True
    label, format, value_range, order = "FSIMc", "{:.4f}", (0.0, 1.0), 11
    convention = ("FeatureSIM.m FSIMc: as fsim, times real((S_I S_Q)^0.03) on the YIQ chrominance "
                  "(T3 = T4 = 200); gray images give FSIMc = FSIM (I = Q = 1, as in the script)")
    identity = 1.0
    symmetric = True
    min_side = MIN_SIDE

    def compute(self, reference, estimate):
        return fsim_pair(reference, estimate, self.name, self.uint8)[1]
