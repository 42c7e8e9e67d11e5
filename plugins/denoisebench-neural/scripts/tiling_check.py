"""Whole image vs tiled inference of weights files on a large image (the check of tests/test_neural_tiling.py, for
any weights): a 1000×1450 mosaic of Set12 images (08–12, and 01 upsampled 2×), Gaussian sigma 25, seed 0.

    python plugins/denoisebench-neural/scripts/tiling_check.py LABEL=KIND:WEIGHTS ... [--tile 1024 --overlap 256]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="+", help="LABEL=KIND:WEIGHTS (kind cnn|hybrid; WEIGHTS '' for the shipped ones)")
    p.add_argument("--tile", type=int, action="append", help="tile side(s) to compare with the whole pass (default 1024, 512)")
    p.add_argument("--overlap", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    import torch
    from denoisebench_neural.denoisers import CNNDenoiser, HybridDenoiser

    from denoisebench.builtin.noise import Gaussian
    from denoisebench.images import load_image

    torch.set_num_threads(args.threads)
    data = Path(os.environ.get("DENOISEBENCH_DATA", "/work/shared/datasets")) / "set12"
    ims = [load_image(data / n, gray=True) for n in ["08.png", "09.png", "10.png", "11.png", "12.png", "01.png"]]
    ims = [im if im.shape == (512, 512) else np.kron(im, np.ones((2, 2), np.float32)) for im in ims]
    clean = np.vstack([np.hstack(ims[:3]), np.hstack(ims[3:])])[:1000, :1450]
    noisy = Gaussian(sigma=25).apply(clean, np.random.default_rng(0))

    def psnr(out):
        return 10 * np.log10(1 / np.mean((out.astype(np.float64) - clean) ** 2))

    print("| model | tiling | PSNR (dB) | Δ PSNR vs whole (dB) | max abs Δ | time (s) |")
    print("|---|---|---:|---:|---:|---:|")
    for spec in args.model:
        label, rest = spec.split("=", 1)
        kind, path = rest.split(":", 1)
        cls = CNNDenoiser if kind == "cnn" else HybridDenoiser
        params = {**cls.default_params(), "device": "cpu", "batch": 1, **({"weights": path} if path else {})}
        t = time.perf_counter()
        whole = cls(**{**params, "tile": 4096}).denoise(noisy)
        tw = time.perf_counter() - t
        print(f"| {label} | whole image | {psnr(whole):.4f} | | | {tw:.1f} |")
        for tile in args.tile or [1024, 512]:
            t = time.perf_counter()
            tiled = cls(**{**params, "tile": tile, "overlap": args.overlap}).denoise(noisy)
            tt = time.perf_counter() - t
            print(f"| {label} | tile {tile}, overlap {args.overlap} | {psnr(tiled):.4f} | "
                  f"{psnr(tiled) - psnr(whole):+.5f} | {np.abs(tiled - whole).max():.2e} | {tt:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
