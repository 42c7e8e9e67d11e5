"""Common random numbers: the noise of a cell depends only on (base seed, dataset, image, noise spec, repetition)."""

from __future__ import annotations

import hashlib

import numpy as np


def cell_seed(base_seed: int, dataset: str, image_id: str, noise_key: str, repetition: int) -> int:
    """A stable 63-bit seed from a sha256 of the cell's noise identity (independent of the denoiser)."""
    text = f"{int(base_seed)}|{dataset}|{image_id}|{noise_key}|{int(repetition)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def cell_rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))
