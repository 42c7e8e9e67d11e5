"""What process isolation costs: two source trees of denoisebench, interleaved, one command at a time.

    git archive OLD_COMMIT denoisebench | tar -x -C /tmp/before     # the tree before isolation
    cp -r denoisebench /tmp/after                                  # this tree
    .venv/bin/python benchmarks/bench_isolation.py /tmp/before /tmp/after --what import,list,quick,all --repeats 3

Each repeat runs every command once per tree, alternating which tree goes first (ABBA), each with
``PYTHONPATH=<tree>`` in a fresh process and a fresh run directory; prints one JSON line per command and the
medians. Commands: ``import`` (``python -c "import denoisebench"``), ``list`` (``denoisebench list``), ``quick``
(``denoisebench run --quick --quiet``), ``all`` (``denoisebench run --all --quiet``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "import": ["-c", "import denoisebench"],
    "list": ["-m", "denoisebench", "list"],
    "quick": ["-m", "denoisebench", "run", "--quick", "--quiet"],
    "all": ["-m", "denoisebench", "run", "--all", "--quiet"],
}


def once(tree: str, what: str, scratch: str) -> float:
    argv = [sys.executable, *COMMANDS[what]]
    out = None
    if what in ("quick", "all"):
        out = tempfile.mkdtemp(dir=scratch)
        argv += ["--output", out]
    env = {**os.environ, "PYTHONPATH": tree}
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    if out:
        shutil.rmtree(out, ignore_errors=True)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--what", default="import,list,quick")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    scratch = tempfile.mkdtemp(prefix="bench-isolation-")
    times: dict[tuple[str, str], list[float]] = {}
    for what in args.what.split(","):
        for i in range(args.repeats):
            order = [("before", args.before), ("after", args.after)]
            for label, tree in order if i % 2 == 0 else order[::-1]:
                wall = once(tree, what, scratch)
                times.setdefault((what, label), []).append(wall)
                print(json.dumps({"what": what, "tree": label, "wall": round(wall, 3),
                                  "load": round(os.getloadavg()[0], 2)}), flush=True)
    for what in args.what.split(","):
        b, a = statistics.median(times[(what, "before")]), statistics.median(times[(what, "after")])
        print(f"{what}: before median {b:.2f} s, after median {a:.2f} s, after/before {a / b:.2f}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
