"""Regenerate the calibration table in docs/metrics.md (between the calibration-table markers).

    .venv/bin/python scripts/calibration_table.py [--check]

Computes every metric of denoisebench.builtin.iqa.calibration.ROWS on the five TID2013 pairs in
../shared/datasets/iqa_calibration (beside the checkout) and writes official / ours / |Δ| per pair. With
``--check`` it only reports whether docs/metrics.md is up to date (exit 1 if not).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from denoisebench.builtin.iqa import calibration as C
from denoisebench.pluginmanager import make_plugins

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "metrics.md"
START, END = "<!-- calibration-table:start -->", "<!-- calibration-table:end -->"


def _fmt(v: float) -> str:
    return f"{v:.2f}" if abs(v) >= 10 else f"{v:.5f}" if abs(v) >= 0.01 else f"{v:.6g}"


def _opts(options) -> str:
    return ", ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in options.items())


def render(entries) -> str:
    head = "| ours (options) | official column | tolerance | max abs Δ | " + " | ".join(C.IDS) + " |"
    lines = [head, "|" + "---|" * (4 + len(C.IDS)), ]
    for e in entries:
        row = e["row"]
        opts = _opts(row.options)
        name = f"`{row.metric}`" + (f" ({opts})" if opts else "") + (" on rgb2gray-uint8 input" if row.prepare else "")
        tol = "—" if row.tolerance is None else f"{row.tolerance:g}"
        if e["unavailable"]:
            lines.append(f"| {name} | {row.official} | {tol} | unavailable here: {e['unavailable']} |"
                         + " |" * len(C.IDS))
            continue
        deltas = {i: abs(e["ours"][i] - e["official"][i]) for i in C.IDS}
        cells = [f"{e['official'][i]:g} / {_fmt(e['ours'][i])} / {deltas[i]:.1e}" for i in C.IDS]
        lines.append(f"| {name} | {row.official} | {tol} | {max(deltas.values()):.1e} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Each cell: official / ours / |Δ|. Notes:")
    lines.append("")
    for e in entries:
        row = e["row"]
        opts = _opts(row.options)
        lines.append(f"- `{row.metric}`{f' ({opts})' if opts else ''}{' on rgb2gray-uint8 input' if row.prepare else ''}: "
                     f"{row.note}.")
    lines.append(f"- Not implemented here (in the official file, no metric of ours): {', '.join(C.NOT_IMPLEMENTED)}.")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report whether docs/metrics.md is current")
    args = ap.parse_args(argv)
    folder = C.folder(ROOT)
    if not folder.is_dir():
        print(f"{folder}: not found; the calibration pairs live in ../shared/datasets/iqa_calibration", file=sys.stderr)
        return 2
    table = render(C.table(folder, make_plugins()))
    text = DOC.read_text()
    a, b = text.index(START) + len(START), text.index(END)
    new = text[:a] + "\n" + table + "\n" + text[b:]
    if args.check:
        if new != text:
            print("docs/metrics.md: the calibration table is out of date; run scripts/calibration_table.py")
            return 1
        print("docs/metrics.md: calibration table up to date")
        return 0
    DOC.write_text(new)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
