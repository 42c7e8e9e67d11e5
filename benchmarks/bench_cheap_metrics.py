"""PSNR, SSIM and the nine classification metrics of one cell, against scikit-image, interleaved, medians.

    .venv/bin/python benchmarks/bench_cheap_metrics.py [--repeats 40] [--threads 1]

Images: 481x321 (BSD68 size) gray and colour, float32 in [0, 1], a clean random texture and a noisy copy.
scikit-image is timed on those float32 arrays (what a caller passes; it then computes in float32) and on float64
copies made beforehand (the computation our float64 values equal: PSNR within 1e-12 dB, SSIM within 1e-6,
asserted here). OpenCV runs on --threads threads (1, as in the harness's workers, by default).
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
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    ssim_options = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
                        channel_axis=axis)

    def nine(a, b):
        cl.clear_caches()
        return [m.compute(a, b) for m in metrics]

    return {
        "psnr (ours)": lambda: psnr(x, y),
        "psnr (skimage)": lambda: sk_psnr(x, y, data_range=1),
        "psnr (skimage, float64)": lambda: sk_psnr(x64, y64, data_range=1),
        "ssim (ours)": lambda: ssim(x, y),
        "ssim (skimage)": lambda: sk_ssim(x, y, **ssim_options),
        "ssim (skimage, float64)": lambda: sk_ssim(x64, y64, **ssim_options),
        "9 classification, read-only": lambda: nine(xr, yr),
        "9 classification, writeable": lambda: nine(x, y),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1, as in the workers)")
    args = ap.parse_args()
    import cv2

    cv2.setNumThreads(args.threads)
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from denoisebench.builtin import classification as cl
    from denoisebench.builtin.metrics import psnr, ssim

    rng = np.random.default_rng(0)
    rows, deltas = [], {}
    for name, shape in (("gray", (321, 481)), ("colour", (321, 481, 3))):
        x = rng.random(shape, dtype=np.float32)
        y = np.clip(x + rng.normal(0, 0.1, shape).astype(np.float32), 0, 1)
        xr, yr = x.view(), y.view()
        xr.flags.writeable = yr.flags.writeable = False
        axis = -1 if len(shape) == 3 else None
        cases = make_cases(x, y, xr, yr, axis, psnr, ssim, peak_signal_noise_ratio, structural_similarity, cl)
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        d_psnr = abs(psnr(x, y) - peak_signal_noise_ratio(x64, y64, data_range=1))
        d_ssim = abs(ssim(x, y) - structural_similarity(x64, y64, gaussian_weights=True, sigma=1.5,
                                                        use_sample_covariance=False, data_range=1,
                                                        channel_axis=axis))
        assert d_psnr < 1e-12 and d_ssim < 1e-6, (d_psnr, d_ssim)
        deltas[name] = (d_psnr, d_ssim)
        times = {k: [] for k in cases}
        cpu = {k: [] for k in cases}
        for _ in range(args.repeats):
            for k, f in cases.items():  # interleaved
                t, c = time.perf_counter(), time.thread_time()
                f()
                times[k].append(time.perf_counter() - t)
                cpu[k].append(time.thread_time() - c)
        for k in cases:
            rows.append((name, k, 1e3 * float(np.median(times[k])), 1e3 * float(np.median(cpu[k]))))
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {load}; repeats {args.repeats}, "
          f"OpenCV threads {args.threads}, medians")
    for image, (d_psnr, d_ssim) in deltas.items():
        print(f"{image}: |psnr - skimage float64| = {d_psnr:.1e} dB, |ssim - skimage float64| = {d_ssim:.1e}")
    ms = {(image, what): (v, c) for image, what, v, c in rows}
    print("wall: perf_counter, CPU: this thread's CPU time (less sensitive to the other processes on the cores)")
    print(f"{'image':7} {'what':30} {'wall ms':>8} {'CPU ms':>8} {'skimage/ours wall':>18} {'CPU':>6}")
    for image, what, v, c in rows:
        ours = ms.get((image, what.split(" (")[0] + " (ours)"))
        ratio = f"{v / ours[0]:18.2f} {c / ours[1]:6.2f}" if ours and "skimage" in what else ""
        print(f"{image:7} {what:30} {v:8.3f} {c:8.3f} {ratio}")


if __name__ == "__main__":
    main()
