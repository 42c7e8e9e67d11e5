"""Benchmark LPIPS (v0.1 alex) on CPU: time per 481×321 image, batched, median of interleaved repeats.

    .venv/bin/python benchmarks/bench_lpips.py [--threads 2] [--repeats 7] [--batch-size 8]

Three ways of evaluating the same 8 (reference, estimate) pairs, interleaved in every repeat so that the
machine's speed drift hits them alike:

- ``pairs``: distinct references, batched (two AlexNet passes per pair);
- ``shared-ref``: one reference and 8 estimates, its features cached (the harness pattern: every denoiser and
  noise level is compared with the same clean image), one pass per estimate;
- ``one-by-one``: ``compute()`` per pair (batch 1), no feature cache.

The load average is printed: the wall-clock figure means something only when it is below the core count.
The process CPU time (summed over threads) is printed too: it is less sensitive to other jobs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np

CBSD68 = Path(os.environ.get("DENOISEBENCH_DATA", "/work/shared/datasets")) / "cbsd68"


def load_pairs(n: int):
    from denoisebench.builtin.noise import Gaussian
    from denoisebench.images import load_image

    refs = []
    for path in sorted(CBSD68.glob("*.png")):
        img = load_image(path)
        if img.shape == (321, 481, 3):
            refs.append(img)
        if len(refs) == n:
            break
    noise = Gaussian(sigma=25)
    ests = [noise.apply(r, np.random.default_rng(i)) for i, r in enumerate(refs)]
    return refs, ests


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--images", type=int, default=8)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from denoisebench.builtin.lpips import LPIPS

    refs, ests = load_pairs(args.images)
    n = len(refs)
    pairs = LPIPS(device="cpu", batch_size=args.batch_size, ref_cache=0)
    shared = LPIPS(device="cpu", batch_size=args.batch_size, ref_cache=4)
    single = LPIPS(device="cpu", batch_size=1, ref_cache=0)
    for m in (pairs, shared, single):
        m.setup()
    configs = {
        "pairs": lambda: pairs.compute_batch(refs, ests),
        "shared-ref": lambda: shared.compute_batch([refs[0]] * n, ests),
        "one-by-one": lambda: [single.compute(r, e) for r, e in zip(refs, ests)],
    }
    for run in configs.values():  # warm-up (oneDNN primitive creation, reference cache)
        run()
    times: dict[str, list[float]] = {k: [] for k in configs}
    cpu: dict[str, list[float]] = {k: [] for k in configs}
    loads = []
    for _ in range(args.repeats):
        for name, run in configs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - t0) / n * 1000)
            cpu[name].append((time.process_time() - c0) / n * 1000)
        loads.append(os.getloadavg()[0])

    print(f"LPIPS v0.1 alex, CPU, torch {torch.__version__}, {args.threads} threads, {n} images 481x321, "
          f"batch {args.batch_size}, {args.repeats} interleaved repeats, weights: {pairs.source}")
    print(f"load average during the run: median {statistics.median(loads):.1f} on {os.cpu_count()} cores")
    base = statistics.median(times["pairs"])
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:11s} median {med:7.1f} ms/image  (min {min(values):7.1f}, x{med / base:.2f} vs pairs; "
              f"CPU time {statistics.median(cpu[name]):7.1f} ms/image over all threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
