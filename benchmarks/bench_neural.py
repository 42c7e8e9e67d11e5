"""Inference time of the shipped cnn and hybrid denoisers on one 481×321 gray BSD68 image (interleaved, medians).

    python benchmarks/bench_neural.py [--threads 2] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--image", default=os.path.join(os.environ.get("DENOISEBENCH_DATA", "/work/shared/datasets"),
                                                   "bsd68", "test001.png"))
    args = p.parse_args(argv)
    import torch
    from denoisebench_neural.denoisers import CNNDenoiser, HybridDenoiser

    from denoisebench.builtin.noise import Gaussian
    from denoisebench.images import load_image

    torch.set_num_threads(args.threads)
    clean = load_image(args.image, gray=True)
    noisy = Gaussian(sigma=25).apply(clean, np.random.default_rng(0))
    dens = {"cnn": CNNDenoiser(device="cpu"), "hybrid": HybridDenoiser(device="cpu")}
    times: dict[str, list[float]] = {k: [] for k in dens}
    for d in dens.values():  # warm-up (loads weights)
        d.denoise(noisy)
    for _ in range(args.repeats):
        for name, d in dens.items():
            t = time.perf_counter()
            d.denoise(noisy)
            times[name].append(time.perf_counter() - t)
    print(f"image {args.image} {clean.shape[1]}x{clean.shape[0]}, torch threads {args.threads}, "
          f"{args.repeats} interleaved repeats")
    for name, ts in times.items():
        print(f"{name}: median {statistics.median(ts):.3f} s, min {min(ts):.3f} s")
    print(f"ratio hybrid/cnn (medians): {statistics.median(times['hybrid']) / statistics.median(times['cnn']):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
