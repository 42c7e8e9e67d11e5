"""Reproduce the published PSNR tables of DnCNN, FFDNet (and BM3D) and write docs/reproduction.md.

Protocol (``--protocol kair``; the DnCNN/FFDNet/KAIR test scripts): Gaussian noise sigma/255 added to the float
image and NOT clipped; the denoised output clipped to [0, 1] and rounded to uint8 levels; PSNR with peak 255 on
the uint8 values (= data range 1 on k/255 values); no border crop; the dataset value is the mean of per-image
PSNR; colour PSNR over all RGB values. One noise draw per image, from the harness's seeds (base seed 0).

Two ways to run, same numbers:

- ``--via harness`` runs ``denoisebench run --protocol kair`` once per dataset and reads the run's store;
- ``--via direct`` drives the registry classes (dataset, noise model, denoisers) with exactly that protocol,
  drawing the same noise as the harness (same seed derivation).
- ``--via auto`` (default) uses the harness when ``denoisebench run --help`` offers ``--protocol``.

Per-entry results are kept as JSON under ``--work`` (one file per model x set x sigma, so several processes can
fill one folder, e.g. BM3D in the background); ``--render`` only rewrites the Markdown from them.

    .venv/bin/python benchmarks/reproduce_reference.py                      # everything but BM3D
    .venv/bin/python benchmarks/reproduce_reference.py --models bm3d        # BM3D (hours on 2 cores)
    .venv/bin/python benchmarks/reproduce_reference.py --timing             # per-image inference times
    .venv/bin/python benchmarks/reproduce_reference.py --render             # docs/reproduction.md only

Data: ``--data`` or ``$DENOISEBENCH_DATA`` (default ``../shared/datasets`` beside the repository); weights:
``$DENOISEBENCH_WEIGHTS`` (default ``../shared/weights`` when present, else the verified download).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SIGMAS = (15, 25, 50)

DNCNN = ("K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, \"Beyond a Gaussian Denoiser: Residual Learning of Deep CNN "
         "for Image Denoising\", IEEE TIP 26(7), 2017")
FFDNET = ("K. Zhang, W. Zuo, L. Zhang, \"FFDNet: Toward a Fast and Flexible Solution for CNN-Based Image "
          "Denoising\", IEEE TIP 27(9), 2018")
SOURCES = {
    "dncnn_bsd68": f"{DNCNN}: the table of average PSNR on BSD68 (DnCNN-S, DnCNN-B; also in the cszn/DnCNN README)",
    "dncnn_set12": f"{DNCNN}: the table of PSNR on the 12 test images, row 'Average'",
    "dncnn_cbsd68": f"{DNCNN}: the colour table, average PSNR of CBM3D and CDnCNN-B on CBSD68",
    "ffdnet_color": f"{FFDNET}: the colour table (CBSD68, Kodak24, McMaster; CBM3D, CDnCNN, FFDNet)",
    "ffdnet_bsd68": f"{FFDNET}: the table of average PSNR on BSD68",
    "ffdnet_set12": f"{FFDNET}: the table of PSNR on Set12, row 'Average'",
    "bm3d_bsd68": ("the value quoted in issue 15 (31.08 / 28.57 / 25.60); the DnCNN paper's BSD68 table and the "
                   "cszn/DnCNN README list BM3D as 31.07 / 28.57 / 25.62"),
}
#: (model, dataset) -> (published PSNR at sigma 15, 25, 50; source key)
PUBLISHED: dict[tuple[str, str], tuple[tuple[float, float, float], str]] = {
    ("dncnn_s", "set12"): ((32.86, 30.44, 27.18), "dncnn_set12"),
    ("dncnn_s", "bsd68"): ((31.73, 29.23, 26.23), "dncnn_bsd68"),
    ("dncnn_b", "bsd68"): ((31.61, 29.16, 26.23), "dncnn_bsd68"),
    ("cdncnn_b", "cbsd68"): ((33.89, 31.23, 27.92), "dncnn_cbsd68"),
    ("cdncnn_b", "kodak24_crop500"): ((34.48, 32.03, 28.85), "ffdnet_color"),
    ("ffdnet", "set12"): ((32.75, 30.43, 27.32), "ffdnet_set12"),
    ("ffdnet", "bsd68"): ((31.63, 29.19, 26.29), "ffdnet_bsd68"),
    ("ffdnet", "cbsd68"): ((33.87, 31.21, 27.96), "ffdnet_color"),
    ("ffdnet", "kodak24_crop500"): ((34.63, 32.13, 28.98), "ffdnet_color"),
    ("bm3d", "bsd68"): ((31.08, 28.57, 25.60), "bm3d_bsd68"),
}
TITLES = {"dncnn_s": "DnCNN-S", "dncnn_b": "DnCNN-B", "cdncnn_b": "CDnCNN-B", "ffdnet": "FFDNet", "bm3d": "BM3D"}
SET_TITLES = {"set12": "Set12", "bsd68": "BSD68", "cbsd68": "CBSD68", "kodak24_crop500": "Kodak24 (500×500)"}
TOLERANCE = 0.02
#: noise draws per image. Set12 has 12 small images: the mean PSNR of one draw spreads by 0.015-0.02 dB from
#: draw to draw (measured: 5 draws of DnCNN-S / FFDNet at sigma 25 and 50), as much as the tolerance, so Set12
#: entries average 5 draws. The other sets have 6-10 M pixels (spread below 0.006 dB): one draw. Set by set size,
#: the same for every model and sigma; never per entry.
REPETITIONS = {"set12": 5}


# ------------------------------------------------------------------------------------------------ protocol


def psnr_uint8(clean: np.ndarray, out: np.ndarray) -> float:
    """KAIR: clean and output as uint8 (output clipped and rounded), PSNR with peak 255, no crop."""
    a = np.round(np.clip(clean, 0, 1) * 255.0).astype(np.float64)
    b = np.round(np.clip(out, 0, 1) * 255.0).astype(np.float64)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def noise_spec(sigma: float):
    from denoisebench.interfaces import NoiseSpec

    return NoiseSpec.make("gaussian", {"sigma": float(sigma)}, str(int(sigma)))


def seeded_rng(dataset: str, image_id: str, spec, base_seed: int = 0, repetition: int = 0) -> np.random.Generator:
    """The generator the harness uses for this cell's noise (same derivation, so the same noisy image)."""
    try:
        from denoisebench.seeding import cell_rng, cell_seed
    except ImportError:  # the module moved: an equivalent derivation (same sha256 recipe)
        import hashlib

        text = f"{int(base_seed)}|{dataset}|{image_id}|{spec.key}|{int(repetition)}"
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1
        return np.random.Generator(np.random.PCG64(seed))
    return cell_rng(cell_seed(base_seed, dataset, image_id, spec.key, repetition))


def entries(models: set[str] | None, sets: set[str] | None) -> list[tuple[str, str]]:
    return [(m, d) for (m, d) in PUBLISHED if (not models or m in models) and (not sets or d in sets)]


def result_path(work: Path, model: str, dataset: str, sigma: int) -> Path:
    return work / f"{model}__{dataset}__{sigma}.json"


# ------------------------------------------------------------------------------------------------ direct


def run_direct(todo: list[tuple[str, str]], data: Path, work: Path, max_images: int, log) -> None:
    from denoisebench.datasets import dataset_from_spec
    from denoisebench.pluginmanager import make_plugins

    plugins = make_plugins()
    if any(m == "bm3d" for m, _ in todo) and "bm3d" not in plugins.denoisers:
        plugins = make_plugins(extra_plugins=[("bm3d", source_tree_plugin("denoisebench-bm3d", "denoisebench_bm3d"))])
    by_set: dict[str, list[str]] = {}
    for model, dataset in todo:
        by_set.setdefault(dataset, []).append(model)
    for dataset, models in by_set.items():
        ds = dataset_from_spec(plugins, f"{dataset}:root={data}")
        ids = ds.ids()[:max_images] if max_images else ds.ids()
        clean = {i: ds.load(i) for i in ids}
        for sigma in SIGMAS:
            spec = noise_spec(sigma)
            todo_models = [m for m in models if not result_path(work, m, dataset, sigma).is_file()]
            if not todo_models:
                continue
            noise = plugins.noise_models.get("gaussian")(clip=False, **spec.kwargs)
            reps = REPETITIONS.get(dataset, 1)
            noisy = {(i, r): noise.apply(clean[i], seeded_rng(dataset, i, spec, repetition=r))
                     for i in ids for r in range(reps)}
            for model in todo_models:
                cls = plugins.denoisers.get(model)
                den = cls(**cls.default_params(spec))
                values, seconds, t_all = {}, [], time.perf_counter()
                for (i, r), x in noisy.items():
                    t0 = time.perf_counter()
                    if x.ndim == 3 and not cls.handles_color:
                        out = np.stack([den.denoise(np.ascontiguousarray(x[..., c]), noise=spec)
                                        for c in range(x.shape[2])], axis=-1)
                    else:
                        out = den.denoise(x.copy(), noise=spec if cls.needs_noise_level else None)
                    seconds.append(time.perf_counter() - t0)
                    values[f"{i}#{r}"] = psnr_uint8(clean[i], out)
                den.close()
                save(work, model, dataset, sigma, values, "direct (registry classes, KAIR protocol)",
                     statistics.median(seconds))
                log(f"{model:9s} {dataset:16s} sigma {sigma:2d}: {np.mean(list(values.values())):.3f} dB "
                    f"({len(values)} cells, {time.perf_counter() - t_all:.0f} s)")


def source_tree_plugin(dist: str, package: str):
    """A plugin of this repository that is not installed (e.g. denoisebench-bm3d, non-commercial licence),
    imported from its source folder and registered for this process only."""
    import importlib

    sys.path.insert(0, str(REPO / "plugins" / dist))
    return importlib.import_module(f"{package}.plugin")


def save(work: Path, model: str, dataset: str, sigma: int, values: dict, via: str, median_s: float | None) -> None:
    work.mkdir(parents=True, exist_ok=True)
    draws: dict[str, list[float]] = {}
    for key, v in values.items():
        draws.setdefault(key.rpartition("#")[2], []).append(v)
    draw_means = [float(np.mean(v)) for _, v in sorted(draws.items(), key=lambda kv: int(kv[0]))]
    record = {"model": model, "dataset": dataset, "sigma": sigma, "via": via, "n": len(values),
              "images": len(values) // max(len(draws), 1), "draws": len(draws), "draw_means": draw_means,
              "mean_psnr": float(np.mean(list(values.values()))), "per_image": values,
              "median_seconds_per_image": median_s,
              "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path = result_path(work, model, dataset, sigma)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, path)


# ------------------------------------------------------------------------------------------------ harness


def harness_has_protocol() -> bool:
    exe = REPO / ".venv" / "bin" / "denoisebench"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "denoisebench"]
    try:
        out = subprocess.run([*cmd, "run", "--help"], capture_output=True, text=True, timeout=120)
    except Exception:  # noqa: BLE001
        return False
    return out.returncode == 0 and "--protocol" in out.stdout


def run_harness(todo: list[tuple[str, str]], data: Path, work: Path, max_images: int, log) -> None:
    exe = REPO / ".venv" / "bin" / "denoisebench"
    cmd0 = [str(exe)] if exe.exists() else [sys.executable, "-m", "denoisebench"]
    by_set: dict[str, list[str]] = {}
    for model, dataset in todo:
        if any(not result_path(work, model, dataset, s).is_file() for s in SIGMAS):
            by_set.setdefault(dataset, []).append(model)
    for dataset, models in by_set.items():
        reps = REPETITIONS.get(dataset, 1)
        run_dir = work / f"run-{dataset}-{'-'.join(sorted(models))}{f'-r{reps}' if reps > 1 else ''}"
        cmd = [*cmd0, "run", "--protocol", "kair", "--dataset", f"{dataset}:root={data}",
               "--denoisers", ",".join(models), "--metrics", "psnr", "--output", str(run_dir),
               "--quiet", "--no-figures", *sum((["--noise", f"gaussian:{s}"] for s in SIGMAS), [])]
        if max_images:
            cmd += ["--max-images", str(max_images)]
        if reps > 1:
            cmd += ["--repetitions", str(reps)]
        t0 = time.perf_counter()
        log("$ " + " ".join(cmd))
        rc = subprocess.run(cmd).returncode
        rows = read_store(run_dir)
        if rc != 0:  # e.g. the report step failed after every cell was stored: the store is what counts
            log(f"denoisebench run exited with status {rc}; using the cells in {run_dir} if they are complete")
        for model in models:
            for sigma in SIGMAS:
                sel = [r for r in rows if r["denoiser"] == model and r["noise_level"] == str(sigma)]
                expected = sum(1 for r in rows if r["denoiser"] == "noisy" and r["noise_level"] == str(sigma))
                bad = [r for r in sel if r["status"] != "ok"]
                if bad:
                    raise SystemExit(f"{model} {dataset} sigma {sigma}: {len(bad)} cells not ok: {bad[0]['error']}")
                if not sel or len(sel) != expected:
                    raise SystemExit(f"{model} {dataset} sigma {sigma}: {len(sel)} of {expected} cells in {run_dir}")
                values = {f"{r['image_id']}#{r['repetition']}": r["psnr"] for r in sel}
                save(work, model, dataset, sigma, values, "harness (denoisebench run --protocol kair)",
                     statistics.median([r["seconds"] for r in sel]) if sel else None)
        log(f"{dataset}: {', '.join(models)} done in {time.perf_counter() - t0:.0f} s")


def read_store(run_dir: Path) -> list[dict]:
    """Rows (denoiser, image_id, noise_level, status, error, seconds, psnr) from a run's results.sqlite."""
    import sqlite3

    db = sqlite3.connect(run_dir / "results.sqlite")
    cols = {r[1] for r in db.execute("PRAGMA table_info(cells)")}
    seconds = "seconds" if "seconds" in cols else "NULL"
    q = (f"SELECT c.denoiser, c.image_id, c.repetition, c.noise_level, c.status, c.error, {seconds}, m.value "
         f"FROM cells c LEFT JOIN metrics m ON m.key = c.key AND m.metric = 'psnr'")
    keys = ("denoiser", "image_id", "repetition", "noise_level", "status", "error", "seconds", "psnr")
    return [dict(zip(keys, r)) for r in db.execute(q)]


# ------------------------------------------------------------------------------------------------ extra draws


def run_draws(data: Path, work: Path, sigma: int, n: int, log) -> None:
    """Set12 at ``sigma``: the KAIR-protocol mean of DnCNN-S and FFDNet for ``n`` noise draws (the harness's seeds,
    repetitions 0..n-1), to measure how far one draw's mean moves on a 12-image set."""
    from denoisebench.datasets import dataset_from_spec
    from denoisebench.pluginmanager import make_plugins

    plugins = make_plugins()
    ds = dataset_from_spec(plugins, f"set12:root={data}")
    spec = noise_spec(sigma)
    noise = plugins.noise_models.get("gaussian")(clip=False, **spec.kwargs)
    names = ("dncnn_s", "ffdnet")
    dens = {m: plugins.denoisers.get(m)(**plugins.denoisers.get(m).default_params(spec)) for m in names}
    means: dict[str, list[float]] = {m: [] for m in names}
    for r in range(n):
        vals: dict[str, list[float]] = {m: [] for m in names}
        for i in ds.ids():
            clean = ds.load(i)
            noisy = noise.apply(clean, seeded_rng("set12", i, spec, repetition=r))
            for m in names:
                vals[m].append(psnr_uint8(clean, dens[m].denoise(noisy, noise=spec)))
        for m in names:
            means[m].append(float(np.mean(vals[m])))
        log(f"draw {r}: " + ", ".join(f"{m} {means[m][-1]:.3f}" for m in names))
    work.mkdir(parents=True, exist_ok=True)
    (work / f"set12_draws_{sigma}.json").write_text(json.dumps({"sigma": sigma, "draw_means": means}, indent=1))


# ------------------------------------------------------------------------------------------------ timing


def run_timing(data: Path, work: Path, repeats: int, log) -> None:
    """Per-image inference time of each model on one 481x321 image (BSD68 / CBSD68 test001), interleaved."""
    import torch

    from denoisebench.datasets import dataset_from_spec
    from denoisebench.pluginmanager import make_plugins

    plugins = make_plugins()
    gray = dataset_from_spec(plugins, f"bsd68:root={data}")
    color = dataset_from_spec(plugins, f"cbsd68:root={data}")
    g, c = gray.load(gray.ids()[0]), color.load(color.ids()[0])
    spec = noise_spec(25)
    models = [("dncnn_s", g), ("dncnn_b", g), ("ffdnet", g), ("cdncnn_b", c), ("ffdnet", c)]
    dens = {}
    for name, img in models:
        cls = plugins.denoisers.get(name)
        key = f"{name} ({'gray' if img.ndim == 2 else 'colour'})"
        dens[key] = (cls(**cls.default_params(spec)), cls, img.astype(np.float32) + np.float32(0.0))
    times: dict[str, list[float]] = {k: [] for k in dens}
    for _key, (den, cls, img) in dens.items():  # warm-up: weights loaded, first call excluded
        den.denoise(img, noise=spec if cls.needs_noise_level else None)
    for _ in range(repeats):
        for key, (den, cls, img) in dens.items():
            t0 = time.perf_counter()
            den.denoise(img, noise=spec if cls.needs_noise_level else None)
            times[key].append(time.perf_counter() - t0)
    if "bm3d" not in plugins.denoisers:
        try:
            plugins = make_plugins(extra_plugins=[("bm3d", source_tree_plugin("denoisebench-bm3d", "denoisebench_bm3d"))])
        except ImportError as exc:  # the bm3d package itself is missing
            log(f"bm3d not timed: {exc}")
    if "bm3d" in plugins.denoisers:
        cls = plugins.denoisers.get("bm3d")
        den = cls(**cls.default_params(spec))
        times["bm3d (gray)"] = []
        for _ in range(max(1, repeats // 5)):  # seconds per call: a few calls, after the CNN rounds
            t0 = time.perf_counter()
            den.denoise(g.copy(), noise=spec)
            times["bm3d (gray)"].append(time.perf_counter() - t0)
    out = {"shape": "481x321 (gray 321x481, colour 321x481x3)", "repeats": repeats,
           "torch_threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
           "cpu_count": os.cpu_count(), "median_s": {k: statistics.median(v) for k, v in times.items()},
           "min_s": {k: min(v) for k, v in times.items()}, "n": {k: len(v) for k, v in times.items()},
           "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    work.mkdir(parents=True, exist_ok=True)
    (work / "timing.json").write_text(json.dumps(out, indent=1, sort_keys=True))
    for k, v in out["median_s"].items():
        log(f"{k:20s} median {v * 1000:8.0f} ms  (min {out['min_s'][k] * 1000:.0f} ms, n={out['n'][k]})")


# ------------------------------------------------------------------------------------------------ report


def render(work: Path, output: Path) -> str:
    lines = [
        "# Reproducing the published DnCNN / FFDNet / BM3D tables",
        "",
        "Generated by `benchmarks/reproduce_reference.py` (do not edit by hand). Models: the `denoisebench-reference`",
        "plugin (DnCNN-S, DnCNN-B, CDnCNN-B, FFDNet from the authors' official MatConvNet weights, converted to",
        "safetensors) and the `denoisebench-bm3d` plugin (BM3D, PyPI `bm3d`, sigma known).",
        "",
        "**Protocol** (`--protocol kair`, the DnCNN / FFDNet / KAIR test scripts): Gaussian noise sigma/255 added",
        "to the float image and not clipped; the output clipped to [0, 1] and rounded to uint8 levels; PSNR with",
        "peak 255 on the uint8 values (= data range 1 on k/255 values); no border crop; mean of the per-image PSNR;",
        "colour PSNR over all RGB values. Noise from the harness's seeds (base seed 0): one draw per image, five on",
        "Set12 (below). Our noise realisation differs from the authors' MATLAB `randn('seed', 0)` draws, which alone",
        f"moves a mean by about 0.01 dB on the large sets. Target: within {TOLERANCE} dB of every published value.",
        "\"ours\" is the mean over images (and draws); \"spread\" is the standard deviation of the per-draw means.",
        "",
        "| model | set | sigma | published | ours | ours − published | images × draws | one draw: first, spread | run via |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    misses, missing = [], []
    for (model, dataset), (values, _src) in PUBLISHED.items():
        for sigma, pub in zip(SIGMAS, values):
            path = result_path(work, model, dataset, sigma)
            if not path.is_file():
                missing.append(f"{TITLES[model]} {SET_TITLES[dataset]} sigma {sigma}")
                lines.append(f"| {TITLES[model]} | {SET_TITLES[dataset]} | {sigma} | {pub:.2f} | not run | | | | |")
                continue
            r = json.loads(path.read_text())
            diff = r["mean_psnr"] - pub
            flag = "" if abs(diff) <= TOLERANCE else " **(miss)**"
            if flag:
                misses.append((model, dataset, sigma, diff))
            via = "harness" if r["via"].startswith("harness") else "direct"
            dm = r.get("draw_means") or [r["mean_psnr"]]
            one = f"{dm[0]:.3f}, ±{statistics.stdev(dm):.3f}" if len(dm) > 1 else f"{dm[0]:.3f}"
            lines.append(f"| {TITLES[model]} | {SET_TITLES[dataset]} | {sigma} | {pub:.2f} | {r['mean_psnr']:.3f} | "
                         f"{diff:+.3f}{flag} | {r.get('images', r['n'])} × {len(dm)} | {one} | {via} |")
    n_run = sum(1 for (m, d) in PUBLISHED for sg in SIGMAS if result_path(work, m, d, sg).is_file())
    groups = {"Set12 (the noise draw of a 12-image set, below)": [x for x in misses if x[1] == "set12"],
              "BM3D (another implementation than the published one, below)": [x for x in misses if x[0] == "bm3d"]}
    other = [x for x in misses if x[1] != "set12" and x[0] != "bm3d"]
    why = "; ".join(f"{len(v)} {k}" for k, v in groups.items() if v)
    if other:
        why += ("; " if why else "") + f"{len(other)} other"
    lines += ["", f"**{n_run - len(misses)} of {n_run} entries run are within {TOLERANCE} dB** of the published value"
              + (f". Misses (marked): {why}." if misses else "."), ""]
    if missing:
        lines += [f"Not run: {', '.join(missing)} (see below).", ""]
    lines += ["Sources of the published values (as quoted in issue 15 and `shared/weights/MANIFEST.md`; the table",
              "captions are given rather than table numbers, which were not re-checked against the PDFs here):", ""]
    used = []
    for (_m, _d), (_v, src) in PUBLISHED.items():
        if src not in used:
            used.append(src)
    for src in used:
        who = ", ".join(f"{TITLES[m]} {SET_TITLES[d]}" for (m, d), (_v, s) in PUBLISHED.items() if s == src)
        lines.append(f"- {who}: {SOURCES[src]}.")
    lines += ["", NOTES_CHECKS.strip().replace("{large}", large_set_summary(work)), ""]
    lines += set12_section(work, misses)
    lines += bm3d_section(work)
    timing = work / "timing.json"
    if timing.is_file():
        t = json.loads(timing.read_text())
        lines += ["## Inference time per image", "",
                  f"One {t['shape']} image (the first of BSD68 / CBSD68), sigma 25, {t['repeats']} interleaved rounds "
                  f"over the models after one warm-up call each; median and minimum per call. CPU only "
                  f"({t['cpu_count']} cores shared with other jobs, torch threads {t['torch_threads']}, float32). "
                  "Timings on this machine kind drift up to 15× between periods: compare the models with each other, "
                  "not with other tables.", "",
                  "| model | median | min | calls | median / FFDNet gray |", "|---|---:|---:|---:|---:|"]
        order = ["dncnn_s (gray)", "dncnn_b (gray)", "ffdnet (gray)", "cdncnn_b (colour)", "ffdnet (colour)", "bm3d (gray)"]
        base = t["median_s"].get("ffdnet (gray)")
        for k in sorted(t["median_s"], key=lambda k: order.index(k) if k in order else len(order)):
            v = t["median_s"][k]
            ratio = f"{v / base:.1f}×" if base else ""
            lines.append(f"| {k} | {v * 1000:.0f} ms | {t['min_s'][k] * 1000:.0f} ms | {t['n'][k]} | {ratio} |")
        if "bm3d (gray)" in t["median_s"]:
            lines += ["", "BM3D was timed with a few calls after the CNN rounds (not interleaved: one call takes seconds)."]
        lines += ["", "No CUDA device was available here, so there are no GPU timings (on CUDA the plugin runs float32 "
                  "with TF32 off).", ""]
    lines += ["## How to regenerate", "",
              "    .venv/bin/python benchmarks/reproduce_reference.py             # DnCNN / FFDNet entries",
              "    .venv/bin/python benchmarks/reproduce_reference.py --models bm3d",
              "    .venv/bin/python benchmarks/reproduce_reference.py --timing",
              "    .venv/bin/python benchmarks/reproduce_reference.py --draws 20 --sigma 50   # the Set12 draws table",
              "    .venv/bin/python benchmarks/reproduce_reference.py --render    # this file from the saved results",
              "", "Per-image values are kept in the `--work` folder (default `reports/reproduce_reference/`).", ""]
    text = "\n".join(lines)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return text


NOTES_CHECKS = """
## What the agreement rests on

- **Conversion.** The MatConvNet kernels (HDF5 stores MATLAB arrays with their axes reversed; MATLAB drops a
  trailing singleton axis) are converted to PyTorch `(out, in, kh, kw)`. The converted `dncnn_sigma25.mat` equals
  the author's own PyTorch conversion `kair_dncnn_25.pth` exactly (max |difference| 0; the kernels with the spatial
  axes left unswapped differ by up to 1.9), in `plugins/denoisebench-reference/tests` and `tests/test_reference_models.py`.
- **FFDNet sub-pixel order.** `vl_nnSubP` numbers the four sub-images of a channel row-offset-fastest, PyTorch's
  `pixel_unshuffle` column-offset-fastest; the first conv's inputs and the last conv's outputs are permuted once
  (tested against a transcription of the MATLAB loop).
- **Padding.** FFDNet needs even sizes: an odd last row/column is repeated and cropped back, as the authors'
  `Demo_AWGN_*.m` do. BSD68/CBSD68 are 481×321 (both sides odd), so every FFDNet BSD68/CBSD68 entry uses it.
- **Colour order.** RGB throughout (MATLAB's `imread` returns RGB, and so does our loader; nothing is BGR).
- **Protocol.** The harness's `--protocol kair` values equal an independent computation on the registry classes
  (noise from the same seeds, outputs clipped and rounded, PSNR on uint8 with peak 255) to 1e-6 dB per image.
- **Same networks, large sets.** On BSD68, CBSD68 and Kodak24 (6–10 M pixels per set, where one noise draw moves
  the mean by less than about 0.006 dB) the DnCNN / FFDNet entries are {large}; a wrong kernel orientation,
  sub-pixel order, padding or colour order would cost far more than that.
"""


def large_set_summary(work: Path) -> str:
    diffs = [json.loads(result_path(work, m, d, sg).read_text())["mean_psnr"] - v[SIGMAS.index(sg)]
             for (m, d), (v, _s) in PUBLISHED.items() if d != "set12" and m != "bm3d" for sg in SIGMAS
             if result_path(work, m, d, sg).is_file()]
    if not diffs:
        return "no entry has been run yet"
    worst = max(abs(x) for x in diffs)
    return (f"all {len(diffs)} within {worst:.3f} dB of the published values, {sum(abs(x) <= 0.01 for x in diffs)} "
            f"of them within 0.01 dB")

def bm3d_section(work: Path) -> list[str]:
    done = [sg for sg in SIGMAS if result_path(work, "bm3d", "bsd68", sg).is_file()]
    out = ["## BM3D", ""]
    if done:
        out.append(f"BM3D (`bm3d` {_version('bm3d')}, profile `np`, told the true sigma) through the `denoisebench-bm3d` "
                   "plugin, which is not installed in this environment (its licence is non-commercial): the script "
                   "registers it from `plugins/denoisebench-bm3d` for its own process and drives the registry classes "
                   "with the same protocol and seeds (\"run via: direct\").")
        diffs = [json.loads(result_path(work, "bm3d", "bsd68", sg).read_text())["mean_psnr"]
                 - PUBLISHED[("bm3d", "bsd68")][0][SIGMAS.index(sg)] for sg in done]
        out += ["", f"Our BM3D values are {min(diffs):+.3f} to {max(diffs):+.3f} dB from the published ones, the same "
                "sign at every sigma. The published figures were made with the BM3D code of 2016-2017 (the authors' "
                "release of Dabov et al. 2007); the PyPI `bm3d` package is the later implementation of Mäkinen, Azzari "
                "and Foi (2019/2020) with its own default profile, a different implementation of the method from the "
                "one that was measured. The protocol is not the cause: the same protocol, images and noise reproduce "
                "every DnCNN / FFDNet BSD68 entry within 0.01 dB. The older code is not available here to confirm it.", ""]
    if len(done) < len(SIGMAS):
        out.append(f"{'Sigma ' + ', '.join(str(sg) for sg in SIGMAS if sg not in done) + ' not' if done else 'Not'} "
                   "run here: one BSD68 image takes 12 s to several minutes on this machine's 2 shared cores, so the "
                   "204 calls take an hour or more; `--models bm3d` runs them.")
    return out + [""]


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def spread_range(work: Path) -> str:
    sds = []
    for m, d in PUBLISHED:
        for sg in SIGMAS:
            path = result_path(work, m, d, sg)
            if d == "set12" and path.is_file():
                dm = json.loads(path.read_text()).get("draw_means") or []
                if len(dm) > 1:
                    sds.append(statistics.stdev(dm))
    return f"{min(sds):.3f}–{max(sds):.3f}" if sds else "(not measured)"


def set12_section(work: Path, misses) -> list[str]:
    """Why Set12 entries move: the spread of one draw's mean, with extra draws when they were measured."""
    out = ["## Set12: one noise draw is not enough", "",
           f"Set12 has 12 images of 256² or 512² pixels, so the mean PSNR of one noise draw moves from draw to draw by "
           f"about as much as the {TOLERANCE} dB target: the spread column above (standard deviation of the per-draw "
           f"means over the {REPETITIONS.get('set12', 1)} draws) is {spread_range(work)} dB. The Set12 entries therefore "
           f"average {REPETITIONS.get('set12', 1)} draws (a rule by set size, the same for every model and sigma).",
           ""]
    for path in sorted(work.glob("set12_draws_*.json")):
        d = json.loads(path.read_text())
        sg = d["sigma"]
        out += [f"Measured further at sigma {sg}: {len(next(iter(d['draw_means'].values())))} draws with the harness's "
                f"seeds (`--draws N --sigma {sg}`):", "",
                "| model | published | mean of the draws | its standard error | one draw: spread | lowest, highest |",
                "|---|---:|---:|---:|---:|---|"]
        for m, v in d["draw_means"].items():
            v = np.asarray(v)
            pub = PUBLISHED[(m, "set12")][0][SIGMAS.index(sg)]
            out.append(f"| {TITLES[m]} | {pub:.2f} | {v.mean():.3f} | {v.std(ddof=1) / np.sqrt(len(v)):.3f} | "
                       f"±{v.std(ddof=1):.3f} | {v.min():.3f}, {v.max():.3f} |")
        out.append("")
    out += [SET12_FINDINGS.strip(), ""]
    return out


SET12_FINDINGS = """
What this means. The same networks reproduce BSD68, CBSD68 and Kodak24 (above), so the Set12 gap is not the
conversion, the padding or the colour order, and the harness's Set12 values equal the direct computation. It is
the noise draw. The authors' test demos draw one MATLAB `randn('seed', 0)` realisation per image, and on Set12 one
draw's mean spreads by ±0.02 dB at sigma 50. To see whether our noise itself is at fault (float32 ziggurat normals
in the harness), FFDNet at sigma 50 was also run, with a separate script, on 20 draws from each of three other
streams: numpy `default_rng` float32 (as the harness), `default_rng` float64 and the legacy `RandomState` float64
gave 27.309, 27.301 and 27.305 dB (standard errors 0.004-0.006). The streams agree, so the float32 noise is not the
cause; the harness's own first 20 seeds happen to sit lower (27.292 dB), and the mean of all 80 draws, 27.302 dB, is
0.018 dB below the published single draw, within one single-draw spread. DnCNN-S at sigma 50 (20 harness draws:
27.152 dB, published 27.18) is likewise within 1.5 spreads. We did not pick seeds to match: the harness's seeds
(base seed 0) are used throughout, and the Set12 rows show them.
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", help="comma-separated subset of: " + ", ".join(TITLES))
    p.add_argument("--sets", help="comma-separated subset of: " + ", ".join(SET_TITLES))
    p.add_argument("--via", choices=["auto", "harness", "direct"], default="auto")
    p.add_argument("--data", default=os.environ.get("DENOISEBENCH_DATA", str(SHARED / "datasets")))
    p.add_argument("--work", default=str(REPO / "reports" / "reproduce_reference"))
    p.add_argument("--output", default=str(REPO / "docs" / "reproduction.md"))
    p.add_argument("--max-images", type=int, default=0, help="first N images of each set (a quick check)")
    p.add_argument("--timing", action="store_true", help="measure per-image inference times instead")
    p.add_argument("--repeats", type=int, default=15, help="timing repetitions per model")
    p.add_argument("--render", action="store_true", help="only rewrite the Markdown from the saved results")
    p.add_argument("--draws", type=int, default=0, metavar="N",
                   help="measure N noise draws of Set12 (DnCNN-S, FFDNet) at --sigma instead")
    p.add_argument("--sigma", type=int, default=50, choices=SIGMAS)
    args = p.parse_args(argv)
    if not os.environ.get("DENOISEBENCH_WEIGHTS") and (SHARED / "weights").is_dir():
        os.environ["DENOISEBENCH_WEIGHTS"] = str(SHARED / "weights")
    work, data = Path(args.work), Path(args.data)

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    if args.timing:
        run_timing(data, work, args.repeats, log)
    elif args.draws:
        run_draws(data, work, args.sigma, args.draws, log)
    elif not args.render:
        todo = entries(set(args.models.split(",")) if args.models else {m for m in TITLES if m != "bm3d"},
                       set(args.sets.split(",")) if args.sets else None)
        via = args.via
        if via == "auto":
            via = "harness" if harness_has_protocol() else "direct"
        log(f"{len(todo)} model x set entries x {len(SIGMAS)} sigmas via {via}")
        (run_harness if via == "harness" else run_direct)(todo, data, work, args.max_images, log)
    render(work, Path(args.output))
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
