"""Inference time of neural denoisers on one 481×321 gray BSD68 image (interleaved, medians).

    python benchmarks/bench_neural.py [LABEL=KIND:WEIGHTS ...] [--threads 2] [--repeats 7]

Without model arguments it times the shipped ``cnn`` and ``hybrid``. ``LABEL=KIND:WEIGHTS`` times any weights file
(KIND cnn|hybrid; WEIGHTS '' for the shipped ones), so a new model can be timed against the shipped one before it
ships: every model runs with its denoiser's default tile (512 px since Round 3.2, so the whole BSD68 image; round-4
encoder–decoder weights on the whole image).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("model", nargs="*", default=["cnn=cnn:", "hybrid=hybrid:"],
                   help="LABEL=KIND:WEIGHTS (kind cnn|hybrid; WEIGHTS '' for the shipped ones); default: the shipped two")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--image", default=os.path.join(os.environ.get("DENOISEBENCH_DATA", "/work/shared/datasets"),
                                                   "bsd68", "test001.png"))
    args = p.parse_args(argv)
    import torch
    from denoisebench_neural import weights
    from denoisebench_neural.denoisers import CNNDenoiser, HybridDenoiser
    from denoisebench_neural.models import param_count

    from denoisebench.builtin.noise import Gaussian
    from denoisebench.images import load_image

    torch.set_num_threads(args.threads)
    clean = load_image(args.image, gray=True)
    noisy = Gaussian(sigma=25).apply(clean, np.random.default_rng(0))
    dens, info = {}, {}
    for spec in args.model:
        label, rest = spec.split("=", 1)
        kind, path = rest.split(":", 1)
        cls = CNNDenoiser if kind == "cnn" else HybridDenoiser
        model, _ = weights.load_file(path) if path else weights.load_shipped(kind)
        params = {**cls.default_params(), "device": "cpu", **({"weights": path} if path else {})}
        if model.cfg.arch == "unet":
            params["tile"] = 4096  # whole image
        den = cls(**params)
        den.denoise(noisy)  # warm-up (loads weights)
        dens[label] = den
        info[label] = (param_count(model), den.params["tile"])
    times: dict[str, list[float]] = {k: [] for k in dens}
    for _ in range(args.repeats):
        for label, d in dens.items():
            t = time.perf_counter()
            d.denoise(noisy)
            times[label].append(time.perf_counter() - t)
    base = statistics.median(next(iter(times.values())))
    print(f"{args.image}: {clean.shape[0]}×{clean.shape[1]} (H×W) gray, torch threads {args.threads}, "
          f"{args.repeats} interleaved repeats; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("| model | params | tile | median (s) | min (s) | × first |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, ts in times.items():
        med = statistics.median(ts)
        print(f"| {label} | {info[label][0]:,} | {info[label][1]} | {med:.3f} | {min(ts):.3f} | {med / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
