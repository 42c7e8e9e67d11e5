"""``denoisebench compare BASELINE CANDIDATE``: fail when any metric of any cell drifted beyond tolerance.

Exit codes: 0 every value within tolerance; 1 drift (moved values, missing/new cells, changed parameters or
status); 3 could not compare (unreadable side, incompatible conventions); 2 bad command-line options.
"""

from __future__ import annotations

import math
from pathlib import Path

#: moved values listed in the terminal / in the Markdown file (the rest are counted)
TERMINAL_ROWS = 20
MARKDOWN_ROWS = 200


def add_parser(sub, add_global_options) -> None:
    p = sub.add_parser("compare", help="compare a run (or baseline file) with a baseline; exit 1 on drift",
                       description="Match cells by key (dataset, image, noise, clip, denoiser, params, repetition, "
                                   "seed) and compare every metric within per-metric tolerances "
                                   "(|cand - base| <= abs + rel*|base|). Exit 0: within tolerance; 1: drift; "
                                   "3: could not compare.")
    add_global_options(p)
    p.add_argument("baseline", metavar="BASELINE", help="baseline file (baseline export) or run directory")
    p.add_argument("candidate", metavar="CANDIDATE", help="run directory or baseline file")
    p.add_argument("--tol", action="append", default=[], metavar="METRIC=ABS",
                   help="absolute tolerance of a metric, e.g. psnr=1e-4; repeatable")
    p.add_argument("--rtol", action="append", default=[], metavar="METRIC=REL",
                   help="relative tolerance of a metric, e.g. mse=1e-5; repeatable")
    p.add_argument("--config", metavar="TOML",
                   help="tolerances and selection from a [compare] (or [tool.denoisebench.compare]) table")
    p.add_argument("--metric", action="append", default=[], metavar="NAME",
                   help="compare only these metrics (default: every metric of the baseline); repeatable")
    p.add_argument("--denoiser", action="append", default=[], metavar="NAME",
                   help="compare only these denoisers (and the noisy input); repeatable")
    p.add_argument("--allow-new", action="store_true", help="cells only in the candidate are not drift")
    p.add_argument("--markdown", metavar="FILE", help="also write the diff as Markdown (for a PR comment)")
    p.set_defaults(func=compare_command)


def compare_command(args) -> int:
    from denoisebench.baseline.drift import (
        Tolerances,
        compare_sides,
        load_compare_config,
        parse_tolerance_items,
    )
    from denoisebench.baseline.file import load_side
    from denoisebench.reporting.console import make_console

    settings = load_compare_config(args.config) if args.config else {}
    tolerances = Tolerances()
    for option, key, items in (("--tol", "abs_tol", args.tol), ("--rtol", "rel_tol", args.rtol)):
        from_file = settings.get(option.lstrip("-"), {}) or {}
        values = {**parse_tolerance_items([f"{k}={v}" for k, v in from_file.items()], option),
                  **parse_tolerance_items(items, option)}
        for metric, value in values.items():
            tolerances.set(metric, **{key: value})
    base = load_side(args.baseline, args.plugins)
    cand = load_side(args.candidate, args.plugins)
    result = compare_sides(base, cand, tolerances, metrics=args.metric or settings.get("metrics"),
                           denoisers=args.denoiser or settings.get("denoisers"),
                           allow_new=args.allow_new or bool(settings.get("allow_new", False)))
    print_summary(result, make_console())
    for side in (base, cand):
        if side.note:
            from denoisebench.reporting.console import show_line

            show_line(make_console(), f"{side.source}: {side.note}", "yellow")
    if args.markdown:
        Path(args.markdown).write_text(render_markdown(result), encoding="utf-8")
    return result.exit_code


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.6g}"


def _delta(move) -> str:
    if move.base is None or move.cand is None:
        return "—"
    return f"{move.cand - move.base:+.3g}"


def _headline(result) -> str:
    if not result.drift:
        return (f"no drift: {result.n_values} values of {result.n_matched} cells within tolerance"
                + (f" ({len(result.new)} new cells allowed)" if result.new else ""))
    parts = [f"{len(result.moved)} value(s) moved beyond tolerance"] if result.moved else []
    parts += [f"{len(result.status_changed)} status change(s)"] if result.status_changed else []
    parts += [f"{len(result.params_changed)} cell(s) with changed parameters"] if result.params_changed else []
    parts += [f"{len(result.missing)} missing cell(s)"] if result.missing else []
    parts += [f"{len(result.new)} new cell(s)"] if result.new and not result.allow_new else []
    return "DRIFT: " + ", ".join(parts)


def _change_lines(result) -> list[str]:
    from denoisebench.baseline.drift import cell_label, params_change_groups

    lines = [f"status {b} → {a}: {cell_label(k)}" + (f" ({err})" if err else "")
             for k, b, a, err in result.status_changed]
    lines += [f"params of {den} changed: {old} → {new} ({n} cells)" for den, old, new, n in
              params_change_groups(result)]
    lines += [f"missing: {cell_label(k)}" for k in result.missing]
    lines += [f"new: {cell_label(k)}" for k in result.new]
    return lines


def print_summary(result, console) -> None:
    from denoisebench.baseline.drift import cell_label, summary_rows
    from denoisebench.reporting.console import show_line, show_table

    show_line(console, f"baseline:  {result.baseline}")
    show_line(console, f"candidate: {result.candidate}")
    show_line(console, _headline(result), "bold red" if result.drift else "bold green")
    if result.moved:
        rows = [[r["denoiser"], r["metric"], str(r["moved"]), str(r["better"]), str(r["worse"]),
                 f"{r['mean_delta']:+.3g}", f"{r['max_abs_delta']:.3g}"] for r in summary_rows(result)]
        show_table(console, "moved values per denoiser and metric",
                   ("denoiser", "metric", "moved", "better", "worse", "mean Δ", "max |Δ|"), rows,
                   right=range(2, 7))
        rows = [[cell_label(mv.key, params=False), mv.metric, _fmt(mv.base), _fmt(mv.cand), _delta(mv),
                 mv.direction] for mv in result.moved[:TERMINAL_ROWS]]
        title = (f"moved values (first {TERMINAL_ROWS} of {len(result.moved)}; all of them: --markdown FILE)"
                 if len(result.moved) > TERMINAL_ROWS else "moved values")
        show_table(console, title, ("cell", "metric", "baseline", "candidate", "Δ", ""), rows, styled=(5,),
                   right=(2, 3, 4))
    changes = _change_lines(result)
    for line in changes[:TERMINAL_ROWS]:
        show_line(console, line, "yellow")
    if len(changes) > TERMINAL_ROWS:
        show_line(console, f"… and {len(changes) - TERMINAL_ROWS} more (all of them: --markdown FILE)", "yellow")


def render_markdown(result) -> str:
    from denoisebench.baseline.drift import cell_label, summary_rows

    icon = "❌" if result.drift else "✅"
    out = [f"## {icon} denoisebench metric comparison", "", f"**{_headline(result)}**", "",
           f"- baseline: `{result.baseline}`", f"- candidate: `{result.candidate}`",
           "- tolerances (|Δ| ≤ abs + rel·|baseline|): "
           + ", ".join(f"{m} {a:g}/{r:g}" for m, (a, r) in sorted(result.tolerances.items())),
           "- direction: " + ", ".join(f"{m} {'↑' if d else '↓' if d is not None else '?'}"
                                       for m, d in sorted(result.directions.items())), ""]
    if result.moved:
        out += ["### Moved values per denoiser and metric", "",
                "| denoiser | metric | moved | better | worse | mean Δ | max \\|Δ\\| |", "|:---|:---|---:|---:|---:|---:|---:|"]
        for r in summary_rows(result):
            out.append(f"| {r['denoiser']} | {r['metric']} | {r['moved']} | {r['better']} | {r['worse']} | "
                       f"{r['mean_delta']:+.3g} | {r['max_abs_delta']:.3g} |")
        out += ["", "<details><summary>every moved value</summary>", "",
                "| cell | metric | baseline | candidate | Δ | |", "|:---|:---|---:|---:|---:|:---|"]
        for mv in result.moved[:MARKDOWN_ROWS]:
            params = f" (params → `{mv.params_to}`)" if mv.params_to else ""
            out.append(f"| `{cell_label(mv.key)}`{params} | {mv.metric} | {_fmt(mv.base)} | {_fmt(mv.cand)} | "
                       f"{_delta(mv)} | {mv.direction} |")
        if len(result.moved) > MARKDOWN_ROWS:
            out.append(f"| … {len(result.moved) - MARKDOWN_ROWS} more | | | | | |")
        out += ["", "</details>", ""]
    changes = _change_lines(result)
    if changes:
        out += ["### Cells missing, new, or with changed status or parameters", ""]
        out += [f"- `{line}`" for line in changes[:MARKDOWN_ROWS]]
        if len(changes) > MARKDOWN_ROWS:
            out.append(f"- … {len(changes) - MARKDOWN_ROWS} more")
        out.append("")
    return "\n".join(out)
