"""PSNR, SSIM and the nine classification metrics of one cell, against scikit-image, interleaved, medians.

    .venv/bin/python benchmarks/bench_cheap_metrics.py [--repeats 40]

Images: 481x321 (BSD68 size) gray and colour, float32 in [0, 1], a clean random texture and a noisy copy.
Classification: the nine metrics of one (clean, output) pair as the worker calls them (read-only arrays, so the
shared computation is found by identity) and with writeable arrays (found by a digest of the bytes).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def make_cases(x, y, xr, yr, axis, psnr, ssim, sk_psnr, sk_ssim, cl) -> dict:
    metrics = [cls() for cls in cl.METRICS]

    def nine(a, b):
        cl.clear_caches()
        return [m.compute(a, b) for m in metrics]

    return {
        "psnr (ours)": lambda: psnr(x, y),
        "psnr (skimage)": lambda: sk_psnr(x, y, data_range=1),
        "ssim (ours)": lambda: ssim(x, y),
        "ssim (skimage)": lambda: sk_ssim(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                          data_range=1, channel_axis=axis),
        "9 classification, read-only": lambda: nine(xr, yr),
        "9 classification, writeable": lambda: nine(x, y),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=40)
    args = ap.parse_args()
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from denoisebench.builtin import classification as cl
    from denoisebench.builtin.metrics import psnr, ssim

    rng = np.random.default_rng(0)
    rows = []
    for name, shape in (("gray", (321, 481)), ("colour", (321, 481, 3))):
        x = rng.random(shape, dtype=np.float32)
        y = np.clip(x + rng.normal(0, 0.1, shape).astype(np.float32), 0, 1)
        xr, yr = x.view(), y.view()
        xr.flags.writeable = yr.flags.writeable = False
        axis = -1 if len(shape) == 3 else None
        cases = make_cases(x, y, xr, yr, axis, psnr, ssim, peak_signal_noise_ratio, structural_similarity, cl)
        assert abs(psnr(x, y) - peak_signal_noise_ratio(x.astype(np.float64), y.astype(np.float64),
                                                        data_range=1)) < 1e-12
        times = {k: [] for k in cases}
        for _ in range(args.repeats):
            for k, f in cases.items():  # interleaved
                t = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t)
        for k, v in times.items():
            rows.append((name, k, 1e3 * float(np.median(v))))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
          f"repeats {args.repeats}, medians")
    print(f"{'image':7} {'what':30} {'ms':>8}")
    for image, what, ms in rows:
        print(f"{image:7} {what:30} {ms:8.3f}")


if __name__ == "__main__":
    main()
