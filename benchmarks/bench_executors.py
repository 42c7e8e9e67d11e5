"""Throughput of the executors on one grid: local -j1/-j2, dask --workers 1/2, dask on a warm (running) cluster.

    .venv/bin/python benchmarks/bench_executors.py [--images 8] [--repeats 3] [--denoisers ...] [--out FILE.md]

Every configuration runs the same grid into a fresh store; configurations are interleaved (the order rotates
each repeat) so drifting machine speed hits all of them alike; the table gives medians over repeats and ratios to
local -j1. Times are end-to-end: they include starting the pool or the LocalCluster and loading the plugins in
fresh workers ("start s" is the dask part of it). The "warm" rows stand for ``--scheduler tcp://...``: a cluster
started once, whose workers already ran the grid once (plugins, datasets, models loaded). Scheduler overhead per
task is measured twice: no-op round trips through a warm 1-worker cluster, and (warm 1 worker − local -j1) / tasks
on the real grid.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def noop(x):
    return x


def grid(args):
    from denoisebench.config import Config

    return Config(datasets=(args.dataset,), denoisers=tuple(args.denoisers.split(",")), noise=tuple(args.noise),
                  metrics=tuple(args.metrics.split(",")), max_images=args.images, seed=0)


def run_once(name, make, config, plugins, root: Path) -> dict:
    from denoisebench.engine.grid import make_plan
    from denoisebench.engine.provenance import open_store
    from denoisebench.engine.runner import execute

    plan = make_plan(config, plugins)
    store = open_store(root / f"{name}-{time.monotonic_ns()}", config, plugins, plan)
    t0 = time.perf_counter()
    ex = make()
    started = 0.0
    if hasattr(ex, "start"):  # dask: start the cluster and load the plugins in every worker
        from denoisebench.engine.worker import get_state

        ex.start().run(get_state, ex.disable)
        started = time.perf_counter() - t0
    try:
        counts = execute(plan, store, ex, plugins)
    finally:
        ex.close()
        store.close()
    wall = time.perf_counter() - t0
    ok = counts.get("ok", 0)
    assert ok == plan.n_cells, f"{name}: {counts}"
    return {"wall": wall, "start": started, "cells": plan.n_cells, "tasks": len(plan.tasks)}


def noop_overhead(n: int, root: Path) -> float:
    """Seconds per task for no-op tasks through a warm 1-worker LocalCluster, windowed like the executor."""
    from distributed import as_completed

    from denoisebench.engine.dask_executor import DaskExecutor

    with DaskExecutor(workers=1, local_directory=str(root / "scratch-noop")) as ex:
        client = ex.start()
        client.submit(noop, -1, pure=False).result()
        t0 = time.perf_counter()
        pending = as_completed()
        submitted = 0
        while submitted < min(n, 8):
            pending.add(client.submit(noop, submitted, pure=False))
            submitted += 1
        for fut in pending:
            fut.result()
            if submitted < n:
                pending.add(client.submit(noop, submitted, pure=False))
                submitted += 1
        return (time.perf_counter() - t0) / n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="embedded")
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--denoisers", default="median,mean,gaussian,wiener,switching_median")
    p.add_argument("--noise", action="append", default=None)
    p.add_argument("--metrics", default="psnr,ssim,mse,mae")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--noop", type=int, default=200, help="no-op tasks for the overhead measurement")
    p.add_argument("--out", help="also write the table (Markdown) here")
    args = p.parse_args(argv)
    args.noise = args.noise or ["gaussian:25", "salt_pepper:10%"]

    from denoisebench.engine.dask_executor import DaskExecutor
    from denoisebench.engine.local import LocalExecutor
    from denoisebench.pluginmanager import make_plugins

    plugins = make_plugins()
    config = grid(args)
    root = Path(tempfile.mkdtemp(prefix="bench-executors-"))
    scratch = str(root / "scratch")
    # warm clusters stand for `--scheduler tcp://...` (a running cluster): started once, warmed by one run
    warm1 = DaskExecutor(workers=1, local_directory=scratch)
    warm2 = DaskExecutor(workers=2, local_directory=scratch)
    addr1, addr2 = warm1.start().scheduler.address, warm2.start().scheduler.address
    configs = {
        "local -j1": lambda: LocalExecutor(1, plugins=plugins),
        "local -j2": lambda: LocalExecutor(2),
        "dask --workers 1": lambda: DaskExecutor(workers=1, local_directory=scratch),
        "dask --workers 2": lambda: DaskExecutor(workers=2, local_directory=scratch),
        "dask warm 1 worker": lambda: DaskExecutor(scheduler=addr1),
        "dask warm 2 workers": lambda: DaskExecutor(scheduler=addr2),
        "dask warm 2 workers, batch 4": lambda: DaskExecutor(scheduler=addr2, batch=4),
    }
    names = list(configs)
    samples: dict[str, list[dict]] = {n: [] for n in names}
    for name in ("local -j1", "dask warm 1 worker", "dask warm 2 workers"):  # imports, caches, first touches
        run_once("warmup", configs[name], config, plugins, root)
    for rep in range(args.repeats):
        order = names[rep % len(names):] + names[: rep % len(names)]
        for name in order:
            samples[name].append(run_once(name.replace(" ", "_").replace(",", ""), configs[name], config, plugins,
                                          root))
            s = samples[name][-1]
            print(f"repeat {rep + 1}: {name:<24} {s['wall']:.2f} s ({s['cells'] / s['wall']:.1f} cells/s)",
                  file=sys.stderr)
    warm1.close()
    warm2.close()
    per_task_noop = noop_overhead(args.noop, root)

    cells, tasks = samples[names[0]][0]["cells"], samples[names[0]][0]["tasks"]
    med = {n: statistics.median(s["wall"] for s in samples[n]) for n in names}
    start = {n: statistics.median(s["start"] for s in samples[n]) for n in names}
    lines = [
        f"grid: {args.dataset}, {args.images} images × {len(args.noise)} noise settings ({', '.join(args.noise)}) × "
        f"(noisy + {args.denoisers}); metrics {args.metrics}: {cells} cells in {tasks} tasks; "
        f"{args.repeats} interleaved repeats, medians",
        "",
        "| executor | wall s | cells/s | × local -j1 | start s |",
        "|---|---:|---:|---:|---:|",
    ]
    for n in names:
        st = f"{start[n]:.2f}" if start[n] else "–"
        lines.append(f"| {n} | {med[n]:.2f} | {cells / med[n]:.1f} | {med['local -j1'] / med[n]:.2f} | {st} |")
    overhead_grid = (med["dask warm 1 worker"] - med["local -j1"]) / tasks
    lines += [
        "",
        f"scheduler overhead per task: {per_task_noop * 1e3:.1f} ms (no-op round trip, warm 1-worker cluster, "
        f"{args.noop} tasks); {overhead_grid * 1e3:.1f} ms on this grid ((dask warm 1 worker − local -j1) / "
        f"{tasks} tasks); median task here: "
        f"{med['local -j1'] / tasks * 1e3:.1f} ms",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
