"""What building the report costs: ``build_report(store)`` on existing run directories, for one or more source trees.

    .venv/bin/python benchmarks/bench_report.py --run grid4800=/tmp/rep19/grid4800 --run all=/tmp/rep19/all \\
        --tree before=/tmp/rep19/before-tree --repeats 5

Each measurement is a fresh process (``PYTHONPATH`` = the tree; this checkout when no ``--tree`` names it
``after``) that imports pandas, scipy.stats and statsmodels first (``run`` imports them while the cells run, so
their import time is not the report's), opens the run's store, builds the report once to warm the lazy imports, then
times ``--inner`` builds and keeps their median. Trees are interleaved ABBA within each repeat; the table gives the
median over repeats of those medians, the ratio to the first tree and the load average (``os.getloadavg``) seen.
Every process also hashes the rendered report.md and report.html (and the terminal tables at 80 and 200 columns),
and the script says whether the trees rendered the same bytes.

Make the runs first, e.g. the cheap grid of issue 19 (a folder of 40 gray 256x256 PNGs, see bench_overhead.py)::

    denoisebench run --dataset FOLDER $(for s in 5 10 15 20 25 30 35 40 45 50 55 60; do printf -- "--noise gaussian:$s "; done) \\
        --repetitions 10 --denoisers mean --metrics psnr --quiet --no-figures --output RUN_DIR
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import hashlib, io, json, os, statistics, sys, time
import pandas, scipy.stats, statsmodels.stats.anova, statsmodels.stats.multitest  # noqa: F401
from rich.console import Console
from denoisebench.store import Store
from denoisebench.reporting.html import render_html
from denoisebench.reporting.markdown import render_markdown
from denoisebench.reporting.tables import build_report
from denoisebench.reporting.terminal import print_report, print_summary

run, inner = sys.argv[1], int(sys.argv[2])
import denoisebench
assert os.path.samefile(os.path.dirname(os.path.dirname(denoisebench.__file__)), sys.argv[3]), denoisebench.__file__
store = Store(run)
report = build_report(store)
times = []
for _ in range(inner):
    t0 = time.perf_counter()
    build_report(store)
    times.append(time.perf_counter() - t0)
digest = hashlib.sha256(render_markdown(report).encode() + render_html(report, run).encode())
for width in (80, 200):
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=True)
    print_report(report, console)
    print_summary(report, console)
    digest.update(out.getvalue().encode())
print(json.dumps({"median": statistics.median(times), "load": os.getloadavg()[0], "sha256": digest.hexdigest()}))
"""


def measure(tree: Path, run: Path, inner: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # -P: not the working directory first on sys.path (it would shadow PYTHONPATH when run from a checkout)
    out = subprocess.run([sys.executable, "-P", "-c", CHILD, str(run), str(inner), str(tree)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def labelled(values: list[str], what: str) -> dict[str, Path]:
    out = {}
    for value in values:
        label, sep, path = value.partition("=")
        if not sep or not Path(path).is_dir():
            raise SystemExit(f"--{what} {value!r}: pass LABEL=DIRECTORY (an existing directory)")
        out[label] = Path(path)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="append", required=True, help="LABEL=RUN_DIR (repeatable)")
    ap.add_argument("--tree", action="append", default=[], help="LABEL=SOURCE_TREE (repeatable); 'after' = "
                                                                 "this checkout unless given")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--inner", type=int, default=3, help="timed builds per process (their median is kept)")
    args = ap.parse_args(argv)
    runs = labelled(args.run, "run")
    trees = labelled(args.tree, "tree")
    trees.setdefault("after", ROOT)
    results: dict[tuple[str, str], list[dict]] = {}
    for r in range(args.repeats):
        order = list(trees) if r % 2 == 0 else list(reversed(trees))  # ABBA
        for run_label, run in runs.items():
            for tree_label in order:
                res = measure(trees[tree_label], run, args.inner)
                results.setdefault((run_label, tree_label), []).append(res)
                print(f"  repeat {r + 1} {run_label} {tree_label}: {res['median']:.3f} s  load {res['load']:.2f}",
                      file=sys.stderr)
    first = next(iter(trees))
    print(f"build_report median of {args.repeats} processes x median of {args.inner} builds")
    print("| run | tree | median (s) | ratio to " + first + " | load average | output |")
    print("|:---|:---|---:|---:|---|:---|")
    for run_label in runs:
        base = statistics.median(x["median"] for x in results[(run_label, first)])
        digests = {x["sha256"] for t in trees for x in results[(run_label, t)]}
        for tree_label in trees:
            rs = results[(run_label, tree_label)]
            med = statistics.median(x["median"] for x in rs)
            loads = [x["load"] for x in rs]
            print(f"| {run_label} | {tree_label} | {med:.3f} | {med / base:.2f} | {min(loads):.2f}–{max(loads):.2f} | "
                  f"{'identical' if len(digests) == 1 else 'DIFFERENT'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
