"""What the harness costs per cell: ``denoisebench run`` against a plain Python loop over the same registry objects.

    .venv/bin/python benchmarks/bench_overhead.py --grids all,grid4800,grid960 --repeats 3
    .venv/bin/python benchmarks/bench_overhead.py --grids grid4800 --jobs 1,2 --tree before=/tmp/before-19
    .venv/bin/python benchmarks/bench_overhead.py --profile grid4800            # cProfile top-10, both sides

Grids (each run as a whole command in a fresh process, fresh run directory, ``--quiet --no-figures``):

- ``all``: ``run --all --no-figures`` (the embedded dataset, every denoiser, noise setting and metric);
- ``grid4800``: ``--denoisers mean --metrics psnr`` on a folder of 40 gray 256x256 images (the 8 embedded images
  in 5 orientations, written as 8-bit PNG) x 120 noise/repetition settings (Gaussian sigma 5, 10, ..., 60 x
  ``--repetitions 10``): 4,800 denoiser cells (the harness also stores the noisy input's row of each, 9,600 rows
  in all; the plain loop scores the noisy input too); ``grid4800s``: the same on 128x128 crops (four corners and
  the centre of each embedded image), a quarter of the pixels per cell;
- ``grid960``: the same 120 settings on the embedded dataset (8 images, 256x256): 960 denoiser cells.

The plain loop (``--plain GRID``, run by this script in a fresh process, with the workers' intra-op thread count)
is what one would write by hand with the same registry objects: load the plugins, list the images and noise specs, draw each noisy image from the same seed
(:func:`denoisebench.seeding.cell_seed`), call each denoiser (channel by channel when it does not handle colour),
clip, call each metric's ``compute``, append a dict per cell to a list and write it as CSV. It checks nothing,
isolates nothing and stores nothing else; its values equal the harness's (``--check`` compares them).

Configurations are interleaved: each repeat runs every configuration once, in an order that alternates (ABBA), and
the table gives medians and ratios with the load average (``os.getloadavg``) seen at each run. ``--tree
LABEL=PATH`` adds the harness (and plain loop) of another source tree (``git archive COMMIT | tar -x -C PATH``) via
``PYTHONPATH``. The trees and the installed plugins are byte-compiled first (:func:`compile_sources`). ``--profile GRID`` prints cProfile's top 10 (by internal time) of the main process of ``run`` and
of the worker side (``run_task`` over the grid's tasks in this process).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
SIGMAS = list(range(5, 61, 5))  # 12 Gaussian levels
REPETITIONS = 10  # x 12 = 120 noise/repetition settings
CROP = 128


def crops_folder(scratch: Path, small: bool = False) -> Path:
    """40 gray images as 8-bit PNG (exact: the embedded images are 8-bit levels): the 8 embedded 256x256 images
    in 5 orientations (as is, rotated by 90, 180, 270 degrees, transposed); ``small``: 128x128 crops of them
    (four corners and the centre)."""
    folder = scratch / ("crops40-128" if small else "crops40")
    if folder.is_dir() and len(list(folder.glob("*.png"))) == 40:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    import numpy as np

    from denoisebench.datasets import dataset_from_spec
    from denoisebench.images import save_image
    from denoisebench.pluginmanager import make_plugins

    ds = dataset_from_spec(make_plugins(), "embedded")
    for image_id in ds.ids():
        img = ds.load(image_id)
        h, w = img.shape[:2]
        if small:
            views = {tag: img[y:y + CROP, x:x + CROP] for tag, (y, x) in {
                "tl": (0, 0), "tr": (0, w - CROP), "bl": (h - CROP, 0), "br": (h - CROP, w - CROP),
                "c": ((h - CROP) // 2, (w - CROP) // 2)}.items()}
        else:
            views = {"r0": img, "r90": np.rot90(img, 1), "r180": np.rot90(img, 2), "r270": np.rot90(img, 3),
                     "t": img.T}
        for tag, view in views.items():
            save_image(folder / f"{image_id}_{tag}.png", np.ascontiguousarray(view))
    return folder


def grid_args(grid: str, scratch: Path) -> list[str]:
    """The ``denoisebench run`` selection of a grid."""
    if grid == "all":
        return ["--all"]
    noise = [a for s in SIGMAS for a in ("--noise", f"gaussian:{s}")]
    dataset = ["--dataset", str(crops_folder(scratch, grid == "grid4800s"))] if grid.startswith("grid4800") else []
    return [*dataset, *noise, "--repetitions", str(REPETITIONS), "--denoisers", "mean", "--metrics", "psnr"]


# ------------------------------------------------------------------------------------------------- plain loop
def plain_loop(grid: str, scratch: Path, out_csv: Path) -> int:
    """The hand-written loop; returns the number of denoiser cells it ran."""
    import numpy as np

    from denoisebench.datasets import dataset_from_spec
    from denoisebench.interfaces import params_key
    from denoisebench.pluginmanager import make_plugins
    from denoisebench.seeding import cell_rng, cell_seed
    from denoisebench.selection import parse_noise

    plugins = make_plugins()
    if grid == "all":
        spec, label, repetitions = "embedded", "embedded", 1
        noise = parse_noise([], plugins.noise_models)
        denoisers = list(plugins.denoisers.names())
        metrics = list(plugins.metrics.names())
    else:
        folder = crops_folder(scratch, grid == "grid4800s")
        spec = str(folder) if grid.startswith("grid4800") else "embedded"
        label = f"folder:{folder.name}" if grid.startswith("grid4800") else "embedded"
        repetitions = REPETITIONS
        noise = parse_noise([f"gaussian:{s}" for s in SIGMAS], plugins.noise_models)
        denoisers, metrics = ["mean"], ["psnr"]
    dataset = dataset_from_spec(plugins, spec)
    scorers = {}
    for name in metrics:
        m = plugins.metrics.get(name)()
        try:
            m.setup()
        except Exception:  # unavailable here: the harness records it as such and computes nothing either
            continue
        scorers[name] = m
    instances: dict[tuple[str, str], object] = {}
    rows: list[dict] = []
    cells = 0
    for image_id in dataset.ids():
        clean = dataset.load(image_id)
        for ns in noise:
            model = plugins.noise_models.get(ns.model)(clip=True, **ns.kwargs)
            for rep in range(repetitions):
                seed = cell_seed(0, label, image_id, ns.key, rep)
                noisy = model.apply(clean, cell_rng(seed))
                outputs = {"noisy": (noisy, None)}
                for name in denoisers:
                    cls = plugins.denoisers.get(name)
                    params = cls.default_params(ns)
                    key = (name, params_key(params))
                    try:
                        if key not in instances:
                            instances[key] = cls(**params)
                        den = instances[key]
                        rng = cell_rng(cell_seed(seed, name, params_key(params), "denoiser", 0))
                        level = ns if den.needs_noise_level else None
                        t0 = time.perf_counter()
                        if noisy.ndim == 3 and not den.handles_color:
                            out = np.stack([np.asarray(den.denoise(np.array(noisy[..., c]), noise=level, rng=rng))
                                            for c in range(noisy.shape[2])], axis=-1)
                        else:
                            out = den.denoise(noisy.copy(), noise=level, rng=rng)
                        seconds = time.perf_counter() - t0
                    except Exception as exc:  # unavailable (no weights, no package): no values, like the harness
                        rows.append({"image": image_id, "noise": ns.key, "rep": rep, "denoiser": name,
                                     "error": type(exc).__name__})
                        continue
                    outputs[name] = (np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0), seconds)
                    cells += 1
                for name, (out, seconds) in outputs.items():
                    row = {"image": image_id, "noise": ns.key, "rep": rep, "denoiser": name, "seconds": seconds}
                    for mname, m in scorers.items():
                        try:
                            row[mname] = float(m.compute(clean, out))
                        except Exception:
                            row[mname] = None
                    rows.append(row)
    fields = sorted({k for r in rows for k in r})
    with open(out_csv, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(rows)
    return cells


# ------------------------------------------------------------------------------------------------- timing
def once(kind: str, grid: str, tree: Path, jobs: int, scratch: Path, keep: Path | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its workers: user + system) of one fresh run."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = Path(tempfile.mkdtemp(dir=scratch, prefix="run-"))
    if kind == "plain":
        # the same intra-op thread count as the harness's workers (DENOISEBENCH_THREADS, default 1): otherwise
        # torch and BLAS use one thread per core, and on a shared machine spin-wait
        threads = os.environ.get("DENOISEBENCH_THREADS", "1")
        env.update({v: threads for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                         "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")})
        argv = [sys.executable, str(HERE), "--plain", grid, "--scratch", str(scratch), "--csv", str(out / "cells.csv")]
    else:
        argv = [sys.executable, "-m", "denoisebench", "run", *grid_args(grid, scratch), "--quiet", "--no-figures",
                "-j", str(jobs), "--output", str(out / "run"), "--allow-errors"]
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers are reaped by run: they count too
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    if keep is not None:
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(out, keep)
    shutil.rmtree(out, ignore_errors=True)
    return wall, cpu


def check_values(grid: str, tree: Path, scratch: Path) -> str:
    """Run both once and compare the plain loop's PSNR values with the harness's stored ones."""
    keep_h, keep_p = scratch / "check-harness", scratch / "check-plain"
    once("harness", grid, tree, 1, scratch, keep_h)
    once("plain", grid, tree, 1, scratch, keep_p)
    import sqlite3

    db = sqlite3.connect(keep_h / "run" / "results.sqlite")
    stored = {(i, n, r, d): v for i, n, r, d, v in db.execute(
        "SELECT image_id, noise_key, repetition, denoiser, value FROM cells JOIN metrics USING (key) "
        "WHERE metric = 'psnr'")}
    with open(keep_p / "cells.csv") as fh:
        plain = {(r["image"], r["noise"], int(r["rep"]), r["denoiser"]): float(r["psnr"])
                 for r in csv.DictReader(fh) if r.get("psnr")}
    same = sum(1 for k, v in plain.items() if stored.get(k) == v)
    return f"{grid}: {same}/{len(plain)} plain-loop PSNR values equal the stored ones ({len(stored)} stored)"


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def compile_sources(trees: list[tuple[str, str]]) -> None:
    """Byte-compile each tree's package and the installed plugins' sources, as ``pip install`` does: where
    PYTHONDONTWRITEBYTECODE is set (this machine sets it) nothing writes ``.pyc`` files, and every process of a
    run (the main one and each worker) would compile every module it imports (≈ 0.045 s each), which no
    installed copy does."""
    import compileall
    import importlib.util

    dirs = [Path(tree) / "denoisebench" for _, tree in trees]  # ROOT's own too: its __pycache__ is ignored
    for name in ("denoisebench_neural", "denoisebench_reference"):
        spec = importlib.util.find_spec(name)
        dirs += [Path(d) for d in (spec.submodule_search_locations or [])] if spec else []
    for d in dirs:
        compileall.compile_dir(str(d), quiet=1)


def compare(args, scratch: Path) -> None:
    trees = ([] if args.only_trees else [("after", ROOT)]) + [tuple(t.split("=", 1)) for t in args.tree]
    raw = set(args.no_compile.split(",")) if args.no_compile else set()
    if "all" not in raw:
        compile_sources([t for t in trees if t[0] not in raw])
    jobs = [int(j) for j in args.jobs.split(",")]
    for grid in args.grids.split(","):
        configs = []
        for label, tree in trees:
            configs += [(f"{label} harness -j {j}", "harness", Path(tree), j) for j in jobs]
            configs.append((f"{label} plain loop", "plain", Path(tree), 1))
        times: dict[str, list[tuple[float, float, float]]] = {c[0]: [] for c in configs}
        for i in range(args.repeats):
            for name, kind, tree, j in configs if i % 2 == 0 else configs[::-1]:
                before = loadavg()
                wall, cpu = once(kind, grid, tree, j, scratch)
                times[name].append((wall, cpu, before))
                print(json.dumps({"grid": grid, "config": name, "wall": round(wall, 3), "cpu": round(cpu, 3),
                                  "load": before}), flush=True)
        selection = " ".join(grid_args(grid, scratch)).replace(str(scratch), "SCRATCH")
        print(f"\n{grid}: {selection}; {args.repeats} interleaved repeats")
        print("| configuration | walls (s) | load before each | median wall (s) | wall / plain | -j 1 / this "
              "| paired: wall / plain | paired: -j 1 / this | median CPU (s) | CPU / plain |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")

        def median(name: str, k: int, times=times) -> float:
            return statistics.median(t[k] for t in times[name])

        def paired(num: str, den: str, times=times) -> float:
            """The median over repeats of the ratio within each repeat (the machine's speed drifts between
            repeats; the configurations of one repeat ran back to back)."""
            return statistics.median(a[0] / b[0] for a, b in zip(times[num], times[den]))

        for name, kind, _, _ in configs:
            label = name.split(" ")[0]
            med, cpu = median(name, 0), median(name, 1)
            plain, plain_cpu = median(f"{label} plain loop", 0), median(f"{label} plain loop", 1)
            one = f"{label} harness -j 1"
            speed = f"{median(one, 0) / med:.2f}" if kind == "harness" and 1 in jobs else ""
            speed_p = f"{paired(one, name):.2f}" if kind == "harness" and 1 in jobs else ""
            print(f"| {name} | {', '.join(f'{t[0]:.2f}' for t in times[name])} | "
                  f"{', '.join(f'{t[2]:.1f}' for t in times[name])} | {med:.2f} | {med / plain:.2f} | {speed} "
                  f"| {paired(name, f'{label} plain loop'):.2f} | {speed_p} | {cpu:.2f} | {cpu / plain_cpu:.2f} |")
        print(f"load average now: {os.getloadavg()}", flush=True)


# ------------------------------------------------------------------------------------------------- profile
def profile(grid: str, scratch: Path, top: int) -> None:
    """cProfile's top ``top`` (internal time) of the ``run`` command's main process, then of the worker side."""
    import cProfile
    import pstats

    out = Path(tempfile.mkdtemp(dir=scratch, prefix="prof-"))
    argv = ["run", *grid_args(grid, scratch), "--quiet", "--no-figures", "--output", str(out / "run")]
    from denoisebench.cli import main as cli_main

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(cli_main, argv)
    wall = time.perf_counter() - t0
    print(f"== main process of `denoisebench {' '.join(argv[:1])} {grid}`: {wall:.2f} s wall, load {loadavg()}")
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)

    from denoisebench.config import Config
    from denoisebench.engine.grid import make_plan
    from denoisebench.engine.worker import run_task
    from denoisebench.pluginmanager import make_plugins

    plugins = make_plugins()
    sel = grid_args(grid, scratch)
    noise = [sel[i + 1] for i, a in enumerate(sel) if a == "--noise"]
    ds = [sel[i + 1] for i, a in enumerate(sel) if a == "--dataset"] or ["embedded"]
    config = (Config(datasets=tuple(ds), denoisers=("mean",), noise=tuple(noise), metrics=("psnr",),
                     repetitions=REPETITIONS) if grid != "all" else Config())
    plan = make_plan(config, plugins)
    run_task(plan.tasks[0], plugins=plugins)  # loads and warms as a worker would before its first task
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for task in plan.tasks:
        run_task(task, plugins=plugins)
    prof.disable()
    wall = time.perf_counter() - t0
    print(f"== worker side: run_task over the {len(plan.tasks)} tasks ({plan.n_cells} cells) in this process: "
          f"{wall:.2f} s, load {loadavg()}")
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)
    shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-compile", default="", metavar="LABELS",
                    help="comma-separated --tree labels not to byte-compile first (see compile_sources); all: "
                         "compile nothing, not even the plugins")
    ap.add_argument("--grids", default="grid960,grid4800,all", help="comma-separated: all, grid4800, grid4800s, grid960")
    ap.add_argument("--jobs", default="1", help="comma-separated -j values of the harness (e.g. 1,2)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tree", action="append", default=[], metavar="LABEL=PATH",
                    help="also time the harness and plain loop of another source tree")
    ap.add_argument("--only-trees", action="store_true",
                    help="time only the --tree trees, not this checkout (e.g. a copy of it that edits cannot reach)")
    ap.add_argument("--check", action="store_true", help="check that the plain loop's values equal the harness's")
    ap.add_argument("--profile", metavar="GRID", help="print cProfile's top 10 for GRID instead of timing")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--scratch", help=argparse.SUPPRESS)
    ap.add_argument("--plain", metavar="GRID", help=argparse.SUPPRESS)
    ap.add_argument("--csv", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.plain:  # one plain-loop run (a child of this script)
        plain_loop(args.plain, Path(args.scratch), Path(args.csv))
        return
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="bench-overhead-"))
    crops_folder(scratch)
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} CPUs", flush=True)
    try:
        if args.profile:
            profile(args.profile, scratch, args.top)
        elif args.check:
            for grid in args.grids.split(","):
                print(check_values(grid, ROOT, scratch), flush=True)
        else:
            compare(args, scratch)
    finally:
        if not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
