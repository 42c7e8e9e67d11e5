"""Time each built-in filter and metric (our fast path) against its scipy/skimage reference, interleaved.

Each repetition runs every case once, fast then reference (order alternating between repetitions), so drifts in
machine speed hit both sides alike; we print the median times and the ratio reference/fast. Usage:

    .venv/bin/python benchmarks/bench_filters.py [--repeats 15] [--image PATH]

The default image is a 321×481 (H×W) crop of skimage.data.camera(), the size of a BSD68 image; pass
``--image ../shared/datasets/bsd68/test001.png`` for a real BSD68 one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
import scipy.ndimage as ndi
import scipy.signal
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from denoisebench.builtin import metrics
from denoisebench.builtin.classical import Gaussian, Mean, Median, SwitchingMedian, Wiener
from denoisebench.builtin.noise import Gaussian as GaussianNoise
from denoisebench.builtin.noise import SaltPepper
from denoisebench.images import load_image
from denoisebench.seeding import cell_rng


def cases(clean: np.ndarray):
    g = GaussianNoise(sigma=25).apply(clean, cell_rng(1))  # float values: cv2 float / partition paths
    sp = SaltPepper(amount=0.3).apply(clean, cell_rng(2))  # exactly k/255: cv2 uint8 path
    g64 = g.astype(np.float64)

    def sk_ssim(a, b):
        return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                     data_range=1.0)

    c64 = clean.astype(np.float64)

    return [
        ("median 3, float", lambda: Median(size=3).denoise(g), lambda: ndi.median_filter(g, 3, mode="nearest")),
        ("median 7, float", lambda: Median(size=7).denoise(g), lambda: ndi.median_filter(g, 7, mode="nearest")),
        ("median 5, s&p (uint8)", lambda: Median(size=5).denoise(sp), lambda: ndi.median_filter(sp, 5, mode="nearest")),
        ("median 7, s&p (uint8)", lambda: Median(size=7).denoise(sp), lambda: ndi.median_filter(sp, 7, mode="nearest")),
        ("gaussian sigma 1", lambda: Gaussian(sigma=1.0).denoise(g),
         lambda: ndi.gaussian_filter(g, 1.0, mode="reflect", truncate=4.0)),
        ("mean 5", lambda: Mean(size=5).denoise(g), lambda: ndi.uniform_filter(g, 5, mode="reflect")),
        ("wiener 5 (zero border)", lambda: Wiener(size=5, border="zero").denoise(g),
         lambda: scipy.signal.wiener(g64, 5)),
        ("switching median, s&p 30% (vs scipy median 5)", lambda: SwitchingMedian().denoise(sp),
         lambda: ndi.median_filter(sp, 5, mode="nearest")),
        ("switching median adaptive (vs scipy median 5)", lambda: SwitchingMedian(detection="adaptive").denoise(sp),
         lambda: ndi.median_filter(sp, 5, mode="nearest")),
        ("ssim (vs skimage on float32, computes in float32)", lambda: metrics.ssim(clean, g), lambda: sk_ssim(clean, g)),
        ("ssim (vs skimage on float64)", lambda: metrics.ssim(clean, g), lambda: sk_ssim(c64, g64)),
        ("psnr", lambda: metrics.psnr(clean, g), lambda: peak_signal_noise_ratio(clean, g, data_range=1.0)),
    ]


def clock(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--image", default=None, help="a gray image file (default: camera crop 321x481)")
    args = ap.parse_args()
    if args.image:
        clean = load_image(args.image, gray=True)
    else:
        clean = data.camera()[100:421, 16:497].astype(np.float32) / np.float32(255)
    todo = cases(clean)
    times = {name: ([], []) for name, _, _ in todo}
    for _name, fast, ref in todo:  # warm-up (imports, caches)
        fast(), ref()
    for rep in range(args.repeats):
        for name, fast, ref in todo:
            if rep % 2:
                times[name][1].append(clock(ref))
                times[name][0].append(clock(fast))
            else:
                times[name][0].append(clock(fast))
                times[name][1].append(clock(ref))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"image {clean.shape[0]}x{clean.shape[1]} (HxW), {args.repeats} interleaved repeats, median times; "
          f"load average {load} on {os.cpu_count()} CPUs")
    print(f"{'case':52s} {'ours ms':>9s} {'ref ms':>9s} {'ref/ours':>9s}")
    for name, (ours, ref) in times.items():
        a, b = statistics.median(ours) * 1e3, statistics.median(ref) * 1e3
        print(f"{name:52s} {a:9.2f} {b:9.2f} {b / a:9.1f}")


if __name__ == "__main__":
    main()
