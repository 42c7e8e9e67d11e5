"""Our `cnn` and `hybrid` beside the reference denoisers (DnCNN-S, DnCNN-B, FFDNet, BM3D told the true sigma) on
BSD68 and Set12 at Gaussian sigma 15 / 25 / 50 under ``--protocol kair``, in ONE harness run; writes the mean
PSNR / SSIM table into ``plugins/denoisebench-neural/RESULTS.md`` between the markers
``<!-- side-by-side:start -->`` and ``<!-- side-by-side:end -->`` (nothing else in that file is touched).

    DENOISEBENCH_DATA=/work/shared/datasets DENOISEBENCH_WEIGHTS=/work/shared/weights \\
        .venv/bin/python plugins/denoisebench-neural/scripts/side_by_side.py            # run (or resume), write
    .venv/bin/python plugins/denoisebench-neural/scripts/side_by_side.py --table-only  # rewrite from the store

New shipped weights of `cnn` / `hybrid`: run the first command again. The harness resumes the same run directory
(same options, same seeds: the same noisy images), and because the neural denoisers record the shipped weights'
sha256 prefix in their parameters (``weights=shipped:<sha>``, part of each cell's key), only the cnn / hybrid
cells of the new weights are computed; the reference and BM3D cells are kept. The table uses, for cnn / hybrid,
only the cells of the weights installed now (older ones stay in the store and are listed as ignored).

BM3D (PyPI ``bm3d``, non-commercial licence) is not installed in ``.venv`` as a plugin: for this run only, a
throw-away folder holding a ``denoisebench_bm3d`` dist-info (its entry point) is put on ``PYTHONPATH`` with
``plugins/denoisebench-bm3d``, so the harness and its worker processes discover it like an installed plugin.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RESULTS = REPO / "plugins" / "denoisebench-neural" / "RESULTS.md"
START, END = "<!-- side-by-side:start -->", "<!-- side-by-side:end -->"
DATASETS = ("bsd68", "set12")
SIGMAS = (15, 25, 50)
OURS = ("cnn", "hybrid")
REFERENCES = ("dncnn_s", "dncnn_b", "ffdnet", "bm3d")
DENOISERS = OURS + REFERENCES
TITLES = {"noisy": "noisy input", "cnn": "cnn (ours)", "hybrid": "hybrid (ours)", "dncnn_s": "DnCNN-S",
          "dncnn_b": "DnCNN-B", "ffdnet": "FFDNet", "bm3d": "BM3D (sigma known)"}
SET_TITLES = {"bsd68": "BSD68", "set12": "Set12"}
#: images of each standard set (a column is reported only when every image has an ok cell)
IMAGES = {"bsd68": 68, "set12": 12}
DEFAULT_RUN = REPO / "reports" / "side-by-side"
BM3D_DIST = "denoisebench_bm3d-0.1.0.dist-info"


def run_options(run_dir: Path, jobs: int) -> list[str]:
    """The run's options: fixed, so running again resumes the same directory (same config identity)."""
    opts = ["run", "--protocol", "kair", *sum((["--dataset", d] for d in DATASETS), []),
            "--denoisers", ",".join(DENOISERS), "--noise", ",".join(f"gaussian:{s}" for s in SIGMAS),
            "--metrics", "psnr,ssim", "--output", str(run_dir), "--no-figures", "--summary-only", "-j", str(jobs)]
    return opts


def bm3d_overlay(root: Path) -> str:
    """A folder with the BM3D plugin's dist-info (entry point ``bm3d = denoisebench_bm3d.plugin``); returns the
    PYTHONPATH that makes the harness (and its workers) discover the plugin from the source tree."""
    info = root / BM3D_DIST
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: denoisebench-bm3d\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[denoisebench]\nbm3d = denoisebench_bm3d.plugin\n")
    return os.pathsep.join([str(root), str(REPO / "plugins" / "denoisebench-bm3d")])


def run_harness(run_dir: Path, jobs: int) -> int:
    for var in ("DENOISEBENCH_DATA", "DENOISEBENCH_WEIGHTS"):
        if not os.environ.get(var):
            raise SystemExit(f"side_by_side: ${var} is not set; export DENOISEBENCH_DATA=/work/shared/datasets "
                             "DENOISEBENCH_WEIGHTS=/work/shared/weights (or your own copies)")
    if importlib.util.find_spec("bm3d") is None:
        raise SystemExit("side_by_side: the PyPI package bm3d is not importable here; pip install bm3d (free for "
                         "non-commercial use only), or run with tox -e bm3d's environment")
    exe = Path(sys.executable).with_name("denoisebench")
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "denoisebench"]),
           *run_options(run_dir, jobs)]
    with tempfile.TemporaryDirectory(prefix="sbs-bm3d-") as tmp:
        pythonpath = os.pathsep.join(p for p in (bm3d_overlay(Path(tmp)), os.environ.get("PYTHONPATH", "")) if p)
        print("$ PYTHONPATH=" + pythonpath + " " + " ".join(cmd), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": pythonpath}).returncode
        print(f"denoisebench run: exit status {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
    return rc


def current_weights() -> dict[str, str]:
    """cnn / hybrid -> the ``weights`` parameter their cells get with the weights installed now."""
    from denoisebench_neural.weights import manifest

    return {m: f"shipped:{manifest()[m]['sha256'][:12]}" for m in OURS}


def collect(run_dir: Path) -> tuple[dict, dict]:
    """(means, info): means[(denoiser, dataset, sigma)] = {psnr, ssim, n, expected, not_ok}; info: provenance."""
    import pandas as pd

    from denoisebench.store import Store

    with Store(run_dir) as store:
        cells = store.cells()
        config = store.get_meta("config", {})
    cells["sigma"] = [json.loads(p or "{}").get("sigma") for p in cells["noise_params"]]
    weights = current_weights()
    wparam = [json.loads(p or "{}").get("weights") for p in cells["params"]]
    stale = (cells["denoiser"].isin(OURS)
             & pd.Series([w != weights.get(d) for d, w in zip(cells["denoiser"], wparam)], index=cells.index))
    ignored = sorted({f"{d} {w}" for d, w, s in zip(cells["denoiser"], wparam, stale) if s})
    cells = cells[~stale]
    means: dict = {}
    for dataset in DATASETS:
        expected = IMAGES[dataset]
        for sigma in SIGMAS:
            for den in ("noisy",) + DENOISERS:
                sub = cells[(cells["dataset"] == dataset) & (cells["denoiser"] == den) & (cells["sigma"] == sigma)]
                ok = sub[sub["status"] == "ok"]
                means[(den, dataset, sigma)] = {
                    "psnr": float(ok["psnr"].mean()) if len(ok) else None,
                    "ssim": float(ok["ssim"].mean()) if len(ok) else None,
                    "n": len(ok), "expected": expected, "not_ok": sorted(set(sub[sub["status"] != "ok"]["status"])),
                    "median_s": float(ok["seconds"].median()) if den != "noisy" and len(ok) else None}
    finished = cells["finished_at"].dropna()
    info = {"config": config, "weights": weights, "ignored": ignored, "cells": len(cells),
            "first": str(finished.min()) if len(finished) else "", "last": str(finished.max()) if len(finished) else ""}
    return means, info


def published() -> dict:
    """(model, dataset) -> (PSNR at sigma 15, 25, 50), the values docs/reproduction.md quotes (with sources);
    read from the script that writes that page, benchmarks/reproduce_reference.py."""
    path = REPO / "benchmarks" / "reproduce_reference.py"
    spec = importlib.util.spec_from_file_location("_reproduce_reference", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {key: values for key, (values, _src) in mod.PUBLISHED.items() if key[1] in DATASETS}


def _bold_best(values: list[float | None], spec: str) -> list[str]:
    shown = [None if v is None else spec.format(v) for v in values]
    top = max((float(s) for s in shown if s is not None), default=None)
    return [("—" if s is None else f"**{s}**" if top is not None and float(s) == top else s) for s in shown]


def table(means: dict, metric: str, spec: str, pub: dict | None) -> list[str]:
    cols = [(d, s) for d in DATASETS for s in SIGMAS]
    head = "| model | " + " | ".join(f"{SET_TITLES[d]} {s}" for d, s in cols) + " |"
    lines = [head, "|---|" + "---:|" * len(cols)]
    rows = {den: [] for den in DENOISERS}
    for d, s in cols:
        vals = []
        for den in DENOISERS:
            m = means[(den, d, s)]
            vals.append(m[metric] if m["n"] == m["expected"] and m["n"] else None)
        for den, text in zip(DENOISERS, _bold_best(vals, spec)):
            m = means[(den, d, s)]
            if m["n"] != m["expected"]:
                text = f"n/a ({m['n']} of {m['expected']} ok{'; ' + ', '.join(m['not_ok']) if m['not_ok'] else ''})"
            rows[den].append(text)
    for den in DENOISERS:
        lines.append(f"| {TITLES[den]} | " + " | ".join(rows[den]) + " |")
    noisy = [means[("noisy", d, s)][metric] for d, s in cols]
    lines.append("| noisy input | " + " | ".join("—" if v is None else spec.format(v) for v in noisy) + " |")
    if pub:
        for den in REFERENCES:
            vals = [pub.get((den, d), (None,) * 3)[SIGMAS.index(s)] for d, s in cols]
            if any(v is not None for v in vals):
                lines.append(f"| {TITLES[den]} — *published* | "
                             + " | ".join("—" if v is None else f"*{v:.2f}*" for v in vals) + " |")
    return lines


def render(run_dir: Path, means: dict, info: dict) -> list[str]:
    pub = published()
    rel = run_dir.relative_to(REPO) if run_dir.is_relative_to(REPO) else run_dir
    w = info["weights"]
    n_img = {d: means[("noisy", d, SIGMAS[0])]["expected"] for d in DATASETS}
    out = [START, "## Side by side: our models and the reference denoisers (BSD68, Set12, Gaussian, `--protocol kair`)",
           "",
           f"One harness run, `{rel}` ({n_img['bsd68']} BSD68 + {n_img['set12']} Set12 images × sigma 15 / 25 / 50, "
           "one noise draw per image, base seed 0: every model sees the same noisy images; on Set12 one draw's mean "
           "moves by about 0.015-0.02 dB from draw to draw, which is why docs/reproduction.md averages 5 draws "
           "there and its Set12 values differ from these in the second decimal). Protocol `kair`: "
           "noise not clipped, outputs clipped and rounded to uint8 before PSNR/SSIM, PSNR with peak 255, no border "
           "crop, mean of per-image values. References from the `denoisebench-reference` plugin (the authors' "
           "official weights), BM3D from the `denoisebench-bm3d` plugin (PyPI `bm3d`, profile `np`, told the true "
           f"sigma). Our weights: cnn `{w['cnn']}`, hybrid `{w['hybrid']}` (sha256 prefixes of the shipped files). "
           "Best measured value per column in bold. *Published* rows are the papers' values as quoted, with their "
           "sources, in `docs/reproduction.md` (DnCNN / FFDNet papers; BM3D as quoted in issue 15), not ours; "
           "\"—\" where no value is quoted there.",
           "", "### Mean PSNR (dB)", "", *table(means, "psnr", "{:.2f}", pub),
           "", *gap_lines(means), "", "### Mean SSIM", "", *table(means, "ssim", "{:.4f}", None), "",
           "Median seconds per image (cell wall time as stored, on the shared 2-core CPU beside other jobs, with "
           "the worker count of the run that computed the cells, `-j` 1 or 2; not a benchmark): " + ", ".join(
               f"{den} {_median_s(means, den):.2f}" for den in DENOISERS if _median_s(means, den) is not None) + ".",
           "",
           f"Cells finished {info['first'][:16]} – {info['last'][:16]} UTC"
           + (f"; cells of older neural weights in the store, not used here: {', '.join(info['ignored'])}"
              if info["ignored"] else "") + ". Regenerate with the command below: after new cnn / hybrid weights only "
           "their 2 × 240 cells run (checked by planning this run with a changed weights digest: 480 of 1680 cells "
           "pending), the reference and BM3D cells are kept from the store, same seeds, so no second run is needed:",
           "", "```",
           "DENOISEBENCH_DATA=/work/shared/datasets DENOISEBENCH_WEIGHTS=/work/shared/weights \\",
           "    .venv/bin/python plugins/denoisebench-neural/scripts/side_by_side.py",
           "```", "", END]
    return out


def gap_lines(means: dict) -> list[str]:
    """PSNR of our better model minus the best reference and minus BM3D, per column (complete columns only)."""
    def val(den, d, s):
        m = means[(den, d, s)]
        return m["psnr"] if m["n"] == m["expected"] and m["n"] else None

    parts = {"the best reference": [], "BM3D": []}
    for d in DATASETS:
        for s in SIGMAS:
            ours = [v for v in (val(o, d, s) for o in OURS) if v is not None]
            refs = [v for v in (val(r, d, s) for r in REFERENCES) if v is not None]
            bm3d = val("bm3d", d, s)
            label = f"{SET_TITLES[d]} {s}"
            if ours and refs:
                parts["the best reference"].append(f"{label} {max(ours) - max(refs):+.2f}")
            if ours and bm3d is not None:
                parts["BM3D"].append(f"{label} {max(ours) - bm3d:+.2f}")
    return [f"Our better model minus {what} (PSNR, dB): {', '.join(v)}." for what, v in parts.items() if v]


def _median_s(means: dict, den: str) -> float | None:
    vals = [means[(den, d, s)]["median_s"] for d in DATASETS for s in SIGMAS if means[(den, d, s)]["median_s"]]
    return sorted(vals)[len(vals) // 2] if vals else None


def write_results(block: list[str], path: Path = RESULTS) -> None:
    text = path.read_text()
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise SystemExit(f"{path}: needs exactly one {START} ... {END} pair (in that order); add them where the "
                         "table goes")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(head + "\n".join(block) + tail)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run-dir", type=Path, default=DEFAULT_RUN, help=f"run directory (default {DEFAULT_RUN})")
    p.add_argument("-j", "--jobs", type=int, default=2, help="worker processes of the harness run (default 2)")
    p.add_argument("--table-only", action="store_true", help="do not run: write the table from the run's store")
    p.add_argument("--print", dest="print_only", action="store_true", help="print the block, do not edit RESULTS.md")
    args = p.parse_args(argv)
    run_dir = args.run_dir.resolve()
    if not args.table_only:
        rc = run_harness(run_dir, args.jobs)
        if rc not in (0, 3):  # 3: some cells failed; the table says which columns are incomplete
            return rc
    if not (run_dir / "results.sqlite").is_file():
        raise SystemExit(f"{run_dir}: no results.sqlite; run without --table-only first")
    means, info = collect(run_dir)
    block = render(run_dir, means, info)
    if args.print_only:
        print("\n".join(block))
    else:
        write_results(block)
        print(f"wrote the side-by-side table into {RESULTS} ({datetime.now(timezone.utc):%H:%M} UTC)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
