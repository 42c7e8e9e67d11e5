"""Sweep each classical filter's parameter grid on Train400 and print the best size/sigma per noise level.

The per-noise defaults in denoisebench/builtin/classical.py come from this sweep (mean PSNR over 16 Train400
images, 180x180 gray), so they are not tuned on the benchmark images. Usage:

    DENOISEBENCH_TRAIN400=../shared/datasets/train400 .venv/bin/python benchmarks/tune_defaults.py
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from denoisebench.builtin.classical import CLASSICAL
from denoisebench.builtin.noise import NOISE_MODELS
from denoisebench.images import load_image
from denoisebench.seeding import cell_rng

GRIDS = {
    "median": [{"size": s} for s in (3, 5, 7, 9)],
    "gaussian": [{"sigma": s} for s in (0.5, 0.8, 1.0, 1.2, 1.5, 2.0)],
    "mean": [{"size": s} for s in (3, 5, 7)],
    "wiener": [{"size": s} for s in (3, 5, 7)],
    "switching_median": [{"detection": d} for d in ("extremes", "adaptive")],
}


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2))


def mean_psnr(denoiser, images, noisy) -> float:
    return float(np.mean([psnr(x, denoiser.denoise(y)) for x, y in zip(images, noisy, strict=True)]))


def main() -> None:
    folder = Path(os.environ.get("DENOISEBENCH_TRAIN400", "../shared/datasets/train400"))
    images = [load_image(p) for p in sorted(folder.glob("*.png"))[::25]]
    denoisers = {cls.name: cls for cls in CLASSICAL}
    for model in NOISE_MODELS:
        for spec in model.standard_specs():
            noise = model(**spec.kwargs)
            noisy = [noise.apply(x, cell_rng(1000 + i)) for i, x in enumerate(images)]
            line = []
            for name, grid in GRIDS.items():
                cls = denoisers[name]
                scores = [mean_psnr(cls(**params), images, noisy) for params in grid]
                best = next(iter(grid[int(np.argmax(scores))].values()))
                chosen = cls.default_params(spec)
                default = mean_psnr(cls(**chosen), images, noisy)
                line.append(f"{name} best {best} ({max(scores):.2f}) default {chosen} ({default:.2f})")
            print(f"{spec.label:18s} " + " | ".join(line), flush=True)


if __name__ == "__main__":
    main()
