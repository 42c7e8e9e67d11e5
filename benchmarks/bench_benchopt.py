"""denoisebench beside benchopt on the same grid, end to end, interleaved, medians.

    .venv/bin/python benchmarks/bench_benchopt.py [--repeats 3] [--venv /tmp/benchopt-venv]
                                                  [--noise gaussian:25,salt_pepper:10%] [--workdir DIR]

The grid: the embedded set (8 gray 256×256 images) × the --noise settings × the five classical filters and the
noisy input (96 cells with the two default settings), PSNR only. denoisebench runs it as

    denoisebench run --dataset embedded --denoisers mean,median,gaussian,wiener,switching_median
                     --noise ... --metrics psnr --output DIR --quiet          (figures on, report.md/html)

benchopt (installed with pip into a separate venv, --venv, created when missing; skipped with one line when it
cannot be installed) runs a benchmark this script writes under WORKDIR/benchmark: a Dataset per (image, setting)
that draws the noise exactly as denoisebench does (same seed, same noise model code), one Solver per filter (the
same denoisebench filter classes with the same default parameters, plus `noisy`, which returns its input), and an
Objective whose value is the PSNR (denoisebench's psnr). It runs as

    benchopt run BENCH -n 1 -r 1 --no-timeout --no-cache --no-display --output run-R   (plot + HTML on)

so both sides compute the same 96 denoisings and PSNRs (checked: every benchopt PSNR equals denoisebench's stored
value within 1e-9 dB) and the difference is the harness. Each repeat runs all three configurations in a rotating order;
wall and CPU (user + system, children included) of the whole command; medians and ratios are printed with
the load average. `denoisebench --no-figures` (report.md/html and tables, no figure files) is timed in the same
rotation.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILTERS = ("mean", "median", "gaussian", "wiener", "switching_median")
PIP_PACKAGES = ("benchopt", "opencv-python-headless", "scikit-image", "pluggy")

OBJECTIVE = '''
from benchopt import BaseObjective


class Objective(BaseObjective):
    name = "denoising PSNR"
    sampling_strategy = "run_once"
    min_benchopt_version = "1.5"

    def set_data(self, clean, noisy, noise):
        self.clean, self.noisy, self.noise = clean, noisy, noise

    def get_objective(self):
        return dict(noisy=self.noisy, noise=self.noise)

    def evaluate_result(self, denoised):
        from denoisebench.builtin.metrics import psnr

        value = psnr(self.clean, denoised)
        return dict(value=-value, psnr=value)

    def get_one_result(self):
        return dict(denoised=self.noisy)
'''

DATASET = '''
from benchopt import BaseDataset

SPECS = {specs!r}  # label -> (model, params, level), resolved by denoisebench's parser


class Dataset(BaseDataset):
    name = "embedded"
    parameters = {{"image_id": {ids!r}, "setting": list(SPECS)}}

    def get_data(self):
        from denoisebench.builtin import noise as noise_models
        from denoisebench.builtin.datasets import Embedded
        from denoisebench.interfaces import NoiseSpec
        from denoisebench.seeding import cell_rng, cell_seed

        model, params, level = SPECS[self.setting]
        spec = NoiseSpec.make(model, params, level)
        cls = next(c for c in noise_models.NOISE_MODELS if c.name == model)
        clean = Embedded().load(self.image_id)
        clean.setflags(write=False)  # as the worker hands it
        seed = cell_seed(0, "embedded", self.image_id, spec.key, 0)  # denoisebench's common random numbers
        noisy = cls(clip=True, **spec.kwargs).apply(clean, cell_rng(seed))
        noisy.setflags(write=False)
        return dict(clean=clean, noisy=noisy, noise=spec)
'''

SOLVER = '''
from benchopt import BaseSolver


class Solver(BaseSolver):
    name = {name!r}
    sampling_strategy = "run_once"

    def set_objective(self, noisy, noise):
        self.noisy, self.noise = noisy, noise
        if self.name == "noisy":
            return
        from denoisebench.builtin import classical
        from denoisebench.interfaces import params_key
        from denoisebench.seeding import cell_seed

        cls = next(c for c in classical.CLASSICAL if c.name == self.name)
        params = cls.default_params(noise)
        self.den = cls(**params)
        self.rng_seed = cell_seed(0, self.name, params_key(params), "denoiser", 0)
        self.needs = self.den.needs_noise_level

    def run(self, _):
        if self.name == "noisy":
            self.out = self.noisy
            return
        from denoisebench.seeding import cell_rng

        self.out = self.den.denoise(self.noisy.copy(), noise=self.noise if self.needs else None,
                                    rng=cell_rng(self.rng_seed))

    def get_result(self):
        return dict(denoised=self.out)
'''

COMPARE = '''
import json, sys
import pandas as pd
df = pd.read_parquet(sys.argv[1])
rows = [[str(i), str(s), str(n), float(v)] for i, s, n, v in
        zip(df["p_dataset_image_id"], df["p_dataset_setting"], df["solver_name"], df["objective_psnr"])]
print(json.dumps(rows))
'''


def load() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def ensure_venv(venv: Path) -> str | None:
    """The venv's benchopt executable, installing it when missing; None (with a printed reason) if impossible."""
    exe = venv / "bin" / "benchopt"
    if exe.exists():
        return str(exe)
    try:
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True, text=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PIP_PACKAGES], check=True,
                       capture_output=True, text=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        print(f"bench_benchopt: skipped: benchopt could not be installed into {venv} "
              f"({detail.strip().splitlines()[-1] if detail.strip() else type(exc).__name__})")
        return None
    return str(exe) if exe.exists() else None


def resolve_specs(noise: list[str]) -> dict[str, tuple]:
    from denoisebench.pluginmanager import make_plugins
    from denoisebench.selection import parse_noise

    specs = parse_noise(noise, make_plugins().noise_models)
    return {s.label.replace(" ", "_"): (s.model, dict(s.params), s.level) for s in specs}


def write_benchmark(bench: Path, specs: dict[str, tuple], ids: list[str]) -> None:
    shutil.rmtree(bench, ignore_errors=True)
    (bench / "datasets").mkdir(parents=True)
    (bench / "solvers").mkdir()
    (bench / "objective.py").write_text(OBJECTIVE)
    (bench / "datasets" / "embedded.py").write_text(DATASET.format(specs=specs, ids=ids))
    for name in ("noisy", *FILTERS):
        (bench / "solvers" / f"{name}.py").write_text(SOLVER.format(name=name))


def run_timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of a command; CPU = user + system time of it and its waited-for children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"bench_benchopt: {' '.join(cmd)} exited {proc.returncode}:\n"
                         f"{(proc.stdout + proc.stderr).strip()[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def check_values(venv: Path, parquet: Path, run_dir: Path, specs: dict[str, tuple]) -> tuple[int, float]:
    """Every benchopt PSNR against denoisebench's stored one: (number compared, largest |difference| in dB)."""
    out = subprocess.run([str(venv / "bin" / "python"), "-c", COMPARE, str(parquet)], capture_output=True,
                         text=True, check=True)
    rows = json.loads(out.stdout)
    db = sqlite3.connect(run_dir / "results.sqlite")
    stored = {}
    for image_id, level, denoiser, value in db.execute(
            "SELECT c.image_id, c.noise || ' ' || c.noise_level, c.denoiser, m.value FROM cells c "
            "JOIN metrics m ON m.key = c.key WHERE m.metric = 'psnr'"):
        stored[(image_id, level.replace(" ", "_"), denoiser)] = value
    worst, n = 0.0, 0
    for image_id, setting, solver, value in rows:
        key = (image_id, setting, solver)
        if key not in stored:
            raise SystemExit(f"bench_benchopt: benchopt row {key} has no denoisebench cell")
        worst, n = max(worst, abs(stored[key] - value)), n + 1
    return n, worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)  # a multiple of 3: each configuration first equally
    ap.add_argument("--venv", default="/tmp/benchopt-venv", help="benchopt's venv (created when missing)")
    ap.add_argument("--noise", default="gaussian:25,salt_pepper:10%")
    ap.add_argument("--workdir", default="/tmp/denoisebench-vs-benchopt")
    args = ap.parse_args()
    venv, work = Path(args.venv), Path(args.workdir)
    benchopt = ensure_venv(venv)
    if benchopt is None:
        return
    version = subprocess.run([benchopt, "--version"], capture_output=True, text=True).stdout.strip()
    noise = [s for s in args.noise.split(",") if s]
    specs = resolve_specs(noise)
    from denoisebench.builtin.datasets import Embedded

    ids = Embedded().ids()
    bench = work / "benchmark"
    write_benchmark(bench, specs, ids)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    noise_args = [a for s in noise for a in ("--noise", s)]
    n_cells = len(ids) * len(specs) * (len(FILTERS) + 1)
    tools = ("denoisebench", "benchopt", "denoisebench --no-figures")
    times: dict[str, list[float]] = {t: [] for t in tools}
    cpus: dict[str, list[float]] = {t: [] for t in tools}
    loads = []
    last = {}
    for r in range(args.repeats):
        for tool in tools[r % 3:] + tools[:r % 3]:  # rotating order
            loads.append(load())
            if tool.startswith("denoisebench"):
                out = work / f"{tool.replace(' --', '-')}-{r}"
                shutil.rmtree(out, ignore_errors=True)
                cmd = [str(ROOT / ".venv" / "bin" / "denoisebench"), "run", "--dataset", "embedded", "--denoisers",
                       ",".join(FILTERS), *noise_args, "--metrics", "psnr", "--output", str(out), "--quiet"]
                cmd += ["--no-figures"] if "no-figures" in tool else []
            else:
                out = bench / "outputs" / f"run-{r}.parquet"  # inside the benchmark: benchopt plots only there
                out.unlink(missing_ok=True)
                cmd = [benchopt, "run", str(bench), "-n", "1", "-r", "1", "--no-timeout", "--no-cache",
                       "--no-display", "--output", f"run-{r}"]
            wall, cpu = run_timed(cmd, env, work)
            times[tool].append(wall)
            cpus[tool].append(cpu)
            last[tool] = out
            print(f"[{r + 1}/{args.repeats}] {tool}: {wall:.1f} s wall, {cpu:.1f} s CPU (load {loads[-1]})",
                  flush=True)
    n, worst = check_values(venv, last["benchopt"], last["denoisebench"], specs)
    if n != n_cells:
        raise SystemExit(f"bench_benchopt: benchopt gave {n} results, expected {n_cells}")
    figures = sorted(p.name for p in last["denoisebench"].rglob("*.png"))
    print(f"\n{os.cpu_count()} cores, {args.repeats} repeats (alternating order), medians; {version}; grid: "
          f"{len(ids)} embedded images x {len(specs)} settings ({', '.join(specs)}) x {len(FILTERS)} filters + "
          f"noisy = {n_cells} cells, PSNR; benchopt PSNRs equal denoisebench's within {worst:.1e} dB ({n} values); "
          f"denoisebench wrote {len(figures)} figure files; load {loads[0]} -> {load()}")
    med = {k: statistics.median(v) for k, v in times.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    print("| tool | wall s (median) | CPU s (median) | walls | wall / benchopt | CPU / benchopt |")
    print("|---|---:|---:|---|---:|---:|")
    for tool in tools:
        runs = ", ".join(f"{t:.1f}" for t in times[tool])
        print(f"| {tool} | {med[tool]:.1f} | {cpu[tool]:.1f} | {runs} | {med[tool] / med['benchopt']:.2f} "
              f"| {cpu[tool] / cpu['benchopt']:.2f} |")

if __name__ == "__main__":
    main()
