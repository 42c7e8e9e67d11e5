"""Training data: a seeded 70/15/15 split of a folder of clean images, augmented noisy/clean patch batches,
and a fixed validation set covering every noise type and standard level.

Noise comes from the registered built-in noise models (:mod:`denoisebench.builtin.noise`), so training uses
exactly the definitions the harness measures with. Every batch is a pure function of (seed, step): a resumed
run sees the same stream, and two models trained with the same seed see the same patches and noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from denoisebench.builtin.noise import Gaussian, Mixed, SaltPepper, Speckle
from denoisebench.errors import DatasetError
from denoisebench.images import IMAGE_SUFFIXES, load_image

NOISE_TYPES = (Gaussian, Speckle, SaltPepper, Mixed)
SCALES = (1.0, 0.9, 0.8, 0.7)


def noise_settings() -> list[tuple[str, str, dict]]:
    """(model name, level label, params) for every standard level of the four training noise types."""
    return [(cls.name, level, p) for cls in NOISE_TYPES for level, p in cls.levels.items()]


def default_data_dir() -> Path:
    """Train400 through the registered ``train400`` dataset: ``$DENOISEBENCH_DATA/train400`` when present, else
    downloaded from its pinned URLs into the cache; every file sha256-verified either way."""
    from denoisebench.datasets import dataset_from_spec
    from denoisebench.pluginmanager import make_plugins

    return Path(dataset_from_spec(make_plugins(), "train400").prepare())


def list_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: no such folder; pass --data with a folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) < 3:
        raise DatasetError(f"{folder}: found {len(files)} images; pass a folder with at least 3 images")
    return files


def split(files: list[Path], seed: int, fractions=(0.70, 0.15)) -> dict[str, list[Path]]:
    """Seeded train/val/test split (70/15/15 by default); each part gets at least one image."""
    order = np.random.default_rng([seed, 0x5911]).permutation(len(files))
    n = len(files)
    n_train = max(1, int(round(fractions[0] * n)))
    n_val = max(1, min(n - n_train - 1, int(round(fractions[1] * n))))
    pick = [files[i] for i in order]
    return {"train": pick[:n_train], "val": pick[n_train:n_train + n_val], "test": pick[n_train + n_val:]}


def load_gray(files: list[Path]) -> list[np.ndarray]:
    return [load_image(f, gray=True) for f in files]


def add_noise(clean: np.ndarray, model: str, params: dict, rng: np.random.Generator) -> np.ndarray:
    cls = {c.name: c for c in NOISE_TYPES}[model]
    return cls(**params).apply(clean, rng)


def saturate(p: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Contrast stretch that clips: (p − c)·g + 0.5 clipped to [0, 1], gain g ~ U(2, 5), centre c ~ U(0.25, 0.75),
    so the patch gets truly black and white regions (night scenes, documents, clipped highlights)."""
    g, c = rng.uniform(2.0, 5.0), rng.uniform(0.25, 0.75)
    return np.clip((p - c) * g + 0.5, 0, 1).astype(np.float32)


class PatchSampler:
    """Random patches with rotation/flip/scale augmentation and per-patch noise (type, then level, uniform).

    ``sizes``: patch sides to draw from, one per step (uniform); a step of side s has round(size·(patch/s)²)
    patches, so every step holds about the same number of pixels (and costs about the same). Empty: always
    ``patch``. ``saturate``: the probability that a patch goes through :func:`saturate` before the noise.
    """

    def __init__(self, images: list[np.ndarray], patch: int, seed: int, sizes: tuple[int, ...] = (),
                 saturate: float = 0.0):
        import cv2

        self.patch, self.seed, self.saturate = patch, seed, saturate
        self.sizes = tuple(sizes)
        smallest = min((patch, *self.sizes))
        self.pyramid = []
        for im in images:
            for s in SCALES:
                h, w = int(im.shape[0] * s), int(im.shape[1] * s)
                if min(h, w) >= smallest:
                    scaled = im if s == 1.0 else cv2.resize(im, (w, h), interpolation=cv2.INTER_CUBIC)
                    self.pyramid.append(np.clip(scaled, 0, 1).astype(np.float32))
        for side in (patch, *self.sizes):
            if not any(min(im.shape) >= side for im in self.pyramid):
                raise DatasetError(f"no training image is at least {side}×{side}; pass a smaller patch size")

    def batch(self, step: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, 0xBA7C, step])
        side, pool = self.patch, self.pyramid
        if self.sizes:
            side = self.sizes[rng.integers(len(self.sizes))]
            size = max(1, round(size * (self.patch / side) ** 2))
            pool = [im for im in self.pyramid if min(im.shape) >= side]
        clean = np.empty((size, 1, side, side), np.float32)
        noisy = np.empty_like(clean)
        for i in range(size):
            im = pool[rng.integers(len(pool))]
            y = rng.integers(im.shape[0] - side + 1)
            x = rng.integers(im.shape[1] - side + 1)
            p = np.rot90(im[y:y + side, x:x + side], k=int(rng.integers(4)))
            if rng.integers(2):
                p = p[:, ::-1]
            p = np.ascontiguousarray(p)
            if self.saturate > 0 and rng.random() < self.saturate:
                p = saturate(p, rng)
            cls = NOISE_TYPES[rng.integers(len(NOISE_TYPES))]
            levels = list(cls.levels.values())
            params = levels[rng.integers(len(levels))]
            clean[i, 0] = p
            noisy[i, 0] = cls(**params).apply(p, rng)
        return noisy, clean


def fixed_set(images: list[np.ndarray], crop: int, seed: int) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """Centre crops of every image × every noise setting, with fixed noise: (model, level, noisy, clean)."""
    out = []
    for k, im in enumerate(images):
        c = min(crop, *im.shape)
        y, x = (im.shape[0] - c) // 2, (im.shape[1] - c) // 2
        clean = np.ascontiguousarray(im[y:y + c, x:x + c])
        for j, (model, level, params) in enumerate(noise_settings()):
            rng = np.random.default_rng([seed, 0x7A1, k, j])
            out.append((model, level, add_noise(clean, model, params, rng), clean))
    return out
