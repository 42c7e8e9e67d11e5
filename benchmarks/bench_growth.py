"""How the harness grows with the grid: 10^3 ... 10^5 cheap cells run end to end, 10^6 planned only.

    .venv/bin/python benchmarks/bench_growth.py [--sizes 1e3,1e4,1e5] [--plan-sizes 1e6] [--repeats 2]
                                                [--workdir /tmp/denoisebench-growth] [--jobs 1]

The grid (cheap cells, so the harness rather than the denoisers is measured): a folder of 50 gray 32×32 crops of
scikit-image's camera (written to WORKDIR/crops) × 5 Gaussian levels (sigma 5, 10, 15, 25, 50) × R repetitions ×
2 cells (the noisy row and `mean`), metric `psnr` only: 500·R cells, R = 2, 20, 200, 2000 for 10^3 ... 10^6.

For each run size, one `denoisebench run ... --quiet --no-figures` (new run directory) then
`denoisebench report RUN_DIR --no-figures` (terminal output discarded): wall time, the cell rate of the run's own
"N ok in X s" line (execution only) and of the whole command, the store (results.sqlite) and run directory sizes,
peak RSS of the largest process (GNU time's "Maximum resident set size", covering the workers) and of the whole
process tree (psutil, sampled every 0.2 s). For every size (run sizes and --plan-sizes): `run --dry-run` (wall and
RSS: imports, plugins, the plan) and make_plan alone in a fresh interpreter (wall and CPU). CPU of the report: user + system time of that process (GNU time). Sizes run in rising
order, the whole sequence --repeats times (medians); the load average is printed with every row.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIGMAS = (5, 10, 15, 25, 50)
N_IMAGES = 50
CELLS_PER_REP = N_IMAGES * len(SIGMAS) * 2

PLAN_SNIPPET = """
import json, sys, time
from denoisebench.config import Config
from denoisebench.engine.grid import make_plan
from denoisebench.pluginmanager import make_plugins
plugins = make_plugins()
config = Config(datasets=(sys.argv[1],), denoisers=("mean",), metrics=("psnr",),
                noise=tuple(f"gaussian:{s}" for s in sys.argv[3].split(",")), repetitions=int(sys.argv[2]))
c, t = time.process_time(), time.perf_counter()
plan = make_plan(config, plugins)
print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "cells": plan.n_cells}))
"""


def make_crops(folder: Path) -> None:
    import cv2
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    img = data.camera()
    for k in range(N_IMAGES):
        i, j = divmod(k, 10)
        crop = img[40 + 40 * i: 72 + 40 * i, 20 + 45 * j: 52 + 45 * j]
        cv2.imwrite(str(folder / f"c{k:03d}.png"), crop)


def tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def timed(cmd: list[str], env: dict[str, str]) -> dict:
    """Run cmd under /usr/bin/time -v (when present); wall, stdout, largest-process and sampled tree peak RSS."""
    gnu_time = Path("/usr/bin/time")
    full = ([str(gnu_time), "-v"] if gnu_time.exists() else []) + cmd
    t = time.perf_counter()
    proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    peak = [0]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.2):
            peak[0] = max(peak[0], tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"bench_growth: {' '.join(cmd)} exited {proc.returncode}: {err.strip()[-2000:]}")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    cpu = [float(v) for v in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", err)]
    return {"wall": wall, "out": out, "max_rss_mb": int(m.group(1)) / 1024 if m else None,
            "tree_rss_mb": peak[0] / 2**20 or None, "cpu": sum(cpu) if cpu else None}


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def grid_args(crops: Path, reps: int) -> list[str]:
    noise = [a for s in SIGMAS for a in ("--noise", f"gaussian:{s}")]
    return ["--dataset", f"folder:{crops}", "--denoisers", "mean", "--metrics", "psnr", *noise,
            "--repetitions", str(reps)]


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def measure(size: int, crops: Path, work: Path, run: bool, jobs: int, env: dict[str, str]) -> dict:
    reps = size // CELLS_PER_REP
    exe = [sys.executable, "-m", "denoisebench"]
    row: dict = {"size": size, "load_start": load()}
    dry = timed(exe + ["run", *grid_args(crops, reps), "--output", str(work / "dry"), "--dry-run"], env)
    row.update(dry_wall=dry["wall"], dry_rss_mb=dry["max_rss_mb"])
    plan = subprocess.run([sys.executable, "-c", PLAN_SNIPPET, f"folder:{crops}", str(reps),
                           ",".join(map(str, SIGMAS))], capture_output=True,
                          text=True, env=env, cwd=ROOT, check=True)
    got = json.loads(plan.stdout.strip().splitlines()[-1])
    assert got["cells"] == size, (got, size)
    row.update(plan_wall=got["wall"], plan_cpu=got["cpu"])
    if run:
        out = work / f"run-{size}"
        shutil.rmtree(out, ignore_errors=True)
        res = timed(exe + ["run", *grid_args(crops, reps), "--output", str(out), "--quiet", "--no-figures",
                           "-j", str(jobs)], env)
        m = re.search(r"(\d+) ok in ([\d.]+) s", res["out"])
        if not m or int(m.group(1)) != size:
            raise SystemExit(f"bench_growth: the {size}-cell run did not end '{size} ok': {res['out'][-500:]}")
        exec_s = float(m.group(2))
        rep = timed(exe + ["report", str(out), "--no-figures"], env)
        row.update(run_wall=res["wall"], exec_s=exec_s, cells_per_s=size / exec_s, cells_per_s_wall=size / res["wall"],
                   run_rss_mb=res["max_rss_mb"], run_tree_mb=res["tree_rss_mb"],
                   store_mb=(out / "results.sqlite").stat().st_size / 2**20, dir_mb=du(out) / 2**20,
                   report_wall=rep["wall"], report_cpu=rep["cpu"], report_rss_mb=rep["max_rss_mb"])
        shutil.rmtree(out, ignore_errors=True)
    row["load_end"] = load()
    return row


def parse_sizes(text: str) -> list[int]:
    sizes = [int(float(s)) for s in text.split(",") if s.strip()]
    for s in sizes:
        if s % CELLS_PER_REP:
            raise SystemExit(f"bench_growth: size {s} is not a multiple of {CELLS_PER_REP} cells (one repetition "
                             "of the grid); pass e.g. 1e3,1e4,1e5")
    return sizes


def fmt(v, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1e3,1e4,1e5", help="cells of the runs measured end to end")
    ap.add_argument("--plan-sizes", default="1e6", help="cells planned only (run --dry-run, make_plan)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--workdir", default="/tmp/denoisebench-growth")
    args = ap.parse_args()
    work = Path(args.workdir)
    crops = work / "crops"
    make_crops(crops)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs, plans = parse_sizes(args.sizes), parse_sizes(args.plan_sizes)
    rows: dict[int, list[dict]] = {}
    for r in range(args.repeats):
        for size in runs + plans:
            row = measure(size, crops, work, size in runs, args.jobs, env)
            rows.setdefault(size, []).append(row)
            print(f"[{r + 1}/{args.repeats}] {size} cells: " + json.dumps(
                {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)

    def med(size, key):
        vals = [row[key] for row in rows[size] if row.get(key) is not None]
        return statistics.median(vals) if vals else None

    print(f"\n{os.cpu_count()} cores, -j {args.jobs}, {args.repeats} repeats, medians; grid: {N_IMAGES} crops 32x32 "
          f"x {len(SIGMAS)} gaussian levels x R reps x 2 cells (noisy, mean), psnr")
    print("| cells | run wall s | exec cells/s | cells/s (whole command) | store MB | B/cell | report --no-figures s wall / CPU "
          "| peak RSS run MB (largest / tree) | report RSS MB | dry-run s (RSS MB) | make_plan s wall / CPU | load |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for size in runs + plans:
        store = med(size, "store_mb")
        per_cell = None if store is None else store * 2**20 / size
        loads = ", ".join(f"{row['load_start']}→{row['load_end']}" for row in rows[size])
        print(f"| {size:,} | {fmt(med(size, 'run_wall'), '.1f')} | {fmt(med(size, 'cells_per_s'), ',.0f')} "
              f"| {fmt(med(size, 'cells_per_s_wall'), ',.0f')} | {fmt(store, '.2f')} | {fmt(per_cell, '.0f')} "
              f"| {fmt(med(size, 'report_wall'), '.2f')} / {fmt(med(size, 'report_cpu'), '.2f')} | {fmt(med(size, 'run_rss_mb'), '.0f')} / "
              f"{fmt(med(size, 'run_tree_mb'), '.0f')} | {fmt(med(size, 'report_rss_mb'), '.0f')} "
              f"| {fmt(med(size, 'dry_wall'), '.2f')} ({fmt(med(size, 'dry_rss_mb'), '.0f')}) "
              f"| {fmt(med(size, 'plan_wall'), '.2f')} / {fmt(med(size, 'plan_cpu'), '.2f')} | {loads} |")


if __name__ == "__main__":
    main()
