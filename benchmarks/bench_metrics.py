"""Per-image time of the full-reference IQA metrics (fsim, fsimc, ms_ssim, gmsd, vif; psnr and ssim for scale)
on a 481×321 image, gray and colour, interleaved, medians.

    .venv/bin/python benchmarks/bench_metrics.py [--repeats 15] [--threads 1]

Each repetition runs every case once, in an order that rotates between repetitions, so a drift in machine
speed hits every case alike. Cases:

- ``pair``: one call on a new (reference, estimate) pair, every cache cleared first (the cost of a lone call);
- ``run``: the reference already seen, a new estimate (what a run pays per denoised image: the worker scores
  every denoiser's output against the same clean image, and fsim/fsimc keep the reference's features);
- ``fsimc after fsim``: fsimc on the pair fsim just scored (a run computes both; the second is a lookup).

``--threads`` pins OpenCV, BLAS and OpenMP threads (default 1, as the harness's worker processes run).
A breakdown of FSIM's phase congruency (the 16 inverse FFTs against the rest) closes the output.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--gray", default="../shared/datasets/bsd68/test001.png")
    ap.add_argument("--color", default="../shared/datasets/cbsd68/101085.png")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import cv2
    import numpy as np
    import scipy.fft
    from skimage import data

    from denoisebench.builtin import metrics as builtin
    from denoisebench.builtin.iqa import FSIM, GMSD, MSSSIM, VIF, FSIMc
    from denoisebench.builtin.iqa import fsim as fsim_module
    from denoisebench.images import load_image

    cv2.setNumThreads(args.threads)

    def image(path, color):
        if os.path.isfile(path):
            img = load_image(path)
        else:  # a 321×481 crop of a skimage sample image (no shared datasets here)
            src = data.astronaut() if color else data.camera()
            img = (src[:321, :481] / 255.0).astype(np.float32)
        if img.shape[0] > img.shape[1]:
            img = np.ascontiguousarray(np.swapaxes(img, 0, 1))
        return img

    rng = np.random.default_rng(0)
    clean = {"gray": image(args.gray, False), "colour": image(args.color, True)}

    def noisy(kind):
        c = clean[kind]
        return np.clip(c + rng.normal(0, 25 / 255, c.shape), 0, 1).astype(np.float32)

    def clear():
        fsim_module._FEATURES.clear()
        fsim_module._PAIRS.clear()

    metrics = {"fsim": FSIM(), "fsimc": FSIMc(), "ms_ssim": MSSSIM(), "gmsd": GMSD(), "vif": VIF(),
               "psnr": builtin.PSNR(), "ssim": builtin.SSIM()}
    cases = []
    for kind in clean:
        for name, m in metrics.items():
            cases.append((f"{name:8s} {kind:6s} pair", kind, m, "pair"))
            if name in ("fsim", "fsimc"):
                cases.append((f"{name:8s} {kind:6s} run", kind, m, "run"))
        cases.append((f"fsimc    {kind:6s} after fsim", kind, metrics["fsimc"], "after"))

    times = {c[0]: [] for c in cases}
    for rep in range(args.repeats):
        order = cases[rep % len(cases):] + cases[:rep % len(cases)]
        for label, kind, m, mode in order:
            est = noisy(kind)
            ref = clean[kind]
            if mode == "pair":
                clear()
                ref = ref.copy()
            elif mode == "run":
                metrics["fsim"].compute(ref, noisy(kind))  # the reference's features are in the cache now
            else:  # after: fsim scored this pair already
                metrics["fsim"].compute(ref, est)
            t = time.perf_counter()
            m.compute(ref, est)
            times[label].append(time.perf_counter() - t)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    shape = "x".join(map(str, clean["gray"].shape))
    print(f"image {shape} (H x W), {args.repeats} interleaved repeats, {args.threads} thread(s), load {load:.1f}")
    print(f"{'case':32s} {'median ms':>10s} {'min ms':>8s}")
    for label, _, _, _ in cases:
        ts = times[label]
        print(f"{label:32s} {statistics.median(ts) * 1e3:10.1f} {min(ts) * 1e3:8.1f}")

    # where FSIM's time goes (gray): the inverse FFTs of phase congruency against the whole call
    y = clean["gray"].astype(np.float64) * 255
    filters, _ = fsim_module.filter_bank(*y.shape)
    spectrum = scipy.fft.fft2(y).astype(np.complex64)
    parts = {"16 inverse FFTs (complex64)": [], "phase congruency, one image": [], "fsim pair (2 PC + rest)": []}
    for _ in range(args.repeats):
        t = time.perf_counter()
        for o in range(filters.shape[0]):
            scipy.fft.ifft2(spectrum[None] * filters[o], axes=(-2, -1), overwrite_x=True)
        parts["16 inverse FFTs (complex64)"].append(time.perf_counter() - t)
        t = time.perf_counter()
        fsim_module.phase_congruency(y)
        parts["phase congruency, one image"].append(time.perf_counter() - t)
        t = time.perf_counter()
        fsim_module.fsim_pair(clean["gray"], noisy("gray"), cache=False)
        parts["fsim pair (2 PC + rest)"].append(time.perf_counter() - t)
    print("FSIM breakdown, gray:")
    for label, ts in parts.items():
        print(f"  {label:30s} {statistics.median(ts) * 1e3:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
