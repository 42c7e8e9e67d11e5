"""Small synthetic test images for the conformance kit (deterministic, offline, no files).

Non-square (48×64) so transposed outputs are caught; values span roughly [0.05, 0.95] with smooth regions,
edges and texture, so filters have something to do and nothing sits exactly on the [0, 1] bounds.
"""

from __future__ import annotations

import functools

import numpy as np

from denoisebench.interfaces import NoiseSpec

SHAPE = (48, 64)
#: the noise spec the kit passes to non-blind denoisers (and uses to make its noisy inputs)
GAUSSIAN_25 = NoiseSpec.make("gaussian", {"sigma": 25.0}, "25")
#: one spec per built-in noise type at a mid level: the harness may hand any of them to a denoiser
STANDARD_NOISE = (
    GAUSSIAN_25,
    NoiseSpec.make("speckle", {"var": 0.04}, "0.04"),
    NoiseSpec.make("salt_pepper", {"amount": 0.1, "salt_ratio": 0.5}, "10%"),
    NoiseSpec.make("mixed", {"sigma": 15.0, "amount": 0.1}, "15+10%"),
    NoiseSpec.make("poisson", {"peak": 16.0}, "16"),
)


@functools.cache
def _gray(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    ramp = 0.2 + 0.5 * x / max(w - 1, 1)
    disc = ((y - h / 2) ** 2 + (x - w / 3) ** 2 < (min(h, w) / 4) ** 2) * 0.25
    stripes = 0.08 * np.sin(y / 1.7) * (x > 2 * w / 3)
    img = np.clip(ramp + disc + stripes, 0.05, 0.95).astype(np.float32)
    img.setflags(write=False)
    return img


def gray_image(shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """A fresh, writeable float32 H×W test image in [0.05, 0.95]."""
    return _gray(tuple(shape)).copy()


def color_image(shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """A fresh float32 H×W×3 test image whose channels differ (catches channel mix-ups)."""
    g = _gray(tuple(shape))
    img = np.stack([g, np.flipud(g), 1.0 - g], axis=-1)
    return np.ascontiguousarray(img, dtype=np.float32)


def add_gaussian(clean: np.ndarray, sigma: float = 25.0, seed: int = 0, clip: bool = True) -> np.ndarray:
    """``clean`` + N(0, (sigma/255)^2) from a seeded generator (clipped to [0, 1] by default), float32."""
    rng = np.random.default_rng(seed)
    noisy = clean + rng.standard_normal(clean.shape) * (sigma / 255.0)
    if clip:
        noisy = np.clip(noisy, 0.0, 1.0)
    return noisy.astype(np.float32)


def add_salt_pepper(clean: np.ndarray, amount: float = 0.1, seed: int = 0) -> np.ndarray:
    """``clean`` with a fraction ``amount`` of pixels set to 0 or 1 (half each) by a seeded generator, float32."""
    rng = np.random.default_rng(seed)
    u = rng.random(clean.shape)
    noisy = np.array(clean, dtype=np.float32)
    noisy[u < amount / 2] = 0.0
    noisy[(u >= amount / 2) & (u < amount)] = 1.0
    return noisy
