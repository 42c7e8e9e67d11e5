"""Per-image time of the full-reference IQA metrics (fsim, fsimc, ms_ssim, gmsd, vif; psnr and ssim for scale)
on a 481×321 image, gray and colour, interleaved, medians.

    .venv/bin/python benchmarks/bench_metrics.py [--repeats 15] [--threads 1]

Each repetition runs every case once, in an order that rotates between repetitions, so a drift in machine
speed hits every case alike. Cases:

- ``pair``: one call on a new (reference, estimate) pair, every cache cleared first (the cost of a lone call);
- ``run``: the reference already seen, a new estimate (what a run pays per denoised image: the worker scores
  every denoiser's output against the same clean image, and fsim/fsimc keep the reference's features);
- ``fsimc after fsim``: fsimc on the pair fsim just scored (a run computes both; the second is a lookup).

``--threads`` pins OpenCV, BLAS and OpenMP threads (default 1, as the harness's worker processes run). Wall
medians and minima are printed, and the median process CPU time, which a busy shared machine inflates less.
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
    ap.add_argument("--size", type=int, default=0, help="crop both images to SIZE x SIZE (e.g. 256, the embedded set)")
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
        if args.size:
            img = np.ascontiguousarray(img[:args.size, :args.size])
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
    piq = _piq_fsim(args.threads)
    for kind in clean:
        for name, m in metrics.items():
            cases.append((f"{name:8s} {kind:6s} pair", kind, m, "pair"))
            if name in ("fsim", "fsimc"):
                cases.append((f"{name:8s} {kind:6s} run", kind, m, "run"))
        cases.append((f"fsimc    {kind:6s} after fsim", kind, metrics["fsimc"], "after"))
        if piq is not None:  # the Python port the issue measured at 170 ms (piq; test-time only, never a dependency)
            cases.append((f"piq fsim {kind:6s} pair", kind, piq, "pair"))

    times = {c[0]: [] for c in cases}
    cpu = {c[0]: [] for c in cases}
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
            t, c = time.perf_counter(), time.process_time()
            m.compute(ref, est)
            times[label].append(time.perf_counter() - t)
            cpu[label].append(time.process_time() - c)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    shape = "x".join(map(str, clean["gray"].shape))
    print(f"image {shape} (H x W), {args.repeats} interleaved repeats, {args.threads} thread(s), load {load:.1f}")
    print(f"{'case':32s} {'median ms':>10s} {'min ms':>8s} {'median CPU ms':>14s}")
    for label, _, _, _ in cases:
        ts = times[label]
        print(f"{label:32s} {statistics.median(ts) * 1e3:10.1f} {min(ts) * 1e3:8.1f} "
              f"{statistics.median(cpu[label]) * 1e3:14.1f}")

    # where FSIM's time goes (gray): phase congruency step by step, in CPU time, as fsim.phase_congruency does it
    for label, img in (("481x321" if clean["gray"].shape == (321, 481) else "x".join(map(str, clean["gray"].shape)),
                        clean["gray"]),):
        y = img.astype(np.float64) * 255
        filters, _ = fsim_module.filter_bank(*y.shape)
        steps: dict[str, list[float]] = {}

        def tick(name, t0, acc):
            now = time.process_time()
            acc[name] = acc.get(name, 0.0) + now - t0
            return now

        for _ in range(args.repeats):
            acc: dict[str, float] = {}
            t = time.process_time()
            spectrum = scipy.fft.fft2(y).astype(np.complex64)
            t = tick("forward FFT", t, acc)
            for o in range(filters.shape[0]):
                product = spectrum[None] * filters[o]
                t = tick("filter products", t, acc)
                eo = scipy.fft.ifft2(product, axes=(-2, -1), overwrite_x=True)
                t = tick("16 inverse FFTs (complex64)", t, acc)
                an = np.abs(eo)
                an.sum(axis=0)
                t = tick("magnitudes and sums", t, acc)
                total = eo.sum(axis=0)
                zc = np.conj(total) / (np.abs(total) + np.float32(1e-4))
                t = tick("mean phase", t, acc)
                eo *= zc
                (total * zc).real.astype(np.float64) - np.abs(eo.imag).sum(axis=0, dtype=np.float64)
                t = tick("phase-deviation energy", t, acc)
                fsim_module._median_of_squares(an[0])
                t = tick("noise median", t, acc)
            t = time.process_time()
            fsim_module.phase_congruency(y)
            tick("phase congruency, whole", t, acc)
            for k, v in acc.items():
                steps.setdefault(k, []).append(v)
        print(f"FSIM phase congruency of one gray {label} image, CPU ms (median):")
        for k, v in steps.items():
            print(f"  {k:30s} {statistics.median(v) * 1e3:8.1f}")
    return 0


def _piq_fsim(threads: int):
    """piq's FSIM (chromatic on colour) as an object with .compute, or None when piq is not importable.

    piq's package __init__ needs torchvision; its fsim module alone needs only torch, so it is imported
    through a stub package."""
    import importlib
    import importlib.util
    import types

    try:
        import torch
    except ImportError:
        return None
    spec = importlib.util.find_spec("piq") if "piq" not in sys.modules else None
    if "piq" not in sys.modules:
        if spec is None or not spec.submodule_search_locations:
            return None
        pkg = types.ModuleType("piq")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["piq"] = pkg
    module = importlib.import_module("piq.fsim")
    torch.set_num_threads(threads)

    class PiqFSIM:
        @staticmethod
        def compute(ref, est):
            def t(a):
                a = torch.from_numpy(a)
                return (a[None, None] if a.ndim == 2 else a.permute(2, 0, 1)[None]).contiguous()

            return float(module.fsim(t(est), t(ref), data_range=1.0, chromatic=ref.ndim == 3))

    return PiqFSIM()


if __name__ == "__main__":
    sys.exit(main())
