"""``denoisebench report RUN_DIR``: re-render a run's report from its store."""

from __future__ import annotations

from pathlib import Path


def add_parser(sub, add_global_options) -> None:
    p = sub.add_parser("report", help="re-render the report of a run directory from its store")
    add_global_options(p)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--table", action="append", metavar="KEY",
                   help="only this table: a number (1-4) or a key (table1, table1_confusion, table2, table3_psnr, "
                        "table3_ssim, table4, pairwise, pearson, correlation, mean_psnr, mean_ssim); repeatable")
    p.add_argument("--no-write", action="store_true", help="print only; do not rewrite report.md and CSVs")
    p.add_argument("--summary-only", action="store_true", help="print only the summary (no tables)")
    p.add_argument("--no-figures", action="store_true", help="do not (re)draw the figures")
    p.add_argument("--html", action="store_true",
                   help="only re-render report.html (figures redrawn from the run's cache; no denoiser runs) and "
                        "print its path")
    p.add_argument("--figure-denoisers", action="append", metavar="NAMES",
                   help="comma-separated denoisers the visual figure shows (default: every denoiser of the run)")
    p.add_argument("--no-timing", action="store_true",
                   help="leave timings out, so the same run renders byte-identical tables")
    p.add_argument("--reference", metavar="DENOISER",
                   help="reference denoiser of the pairwise table (default: the second best by the primary "
                        "metric, PSNR when it ran)")
    p.add_argument("--chosen", metavar="DENOISER",
                   help="denoiser of Table 2 (default: the best by the primary metric, PSNR when it ran)")
    p.add_argument("--holm-family", choices=["setting", "table"], default="setting",
                   help="Holm correction families of the pairwise table: each noise setting (default: every "
                        "denoiser vs the reference) or the whole table")
    p.set_defaults(func=report_command)


def report_command(args) -> int:
    from denoisebench.errors import ConfigError
    from denoisebench.reporting.console import make_console, show_line
    from denoisebench.reporting.figures import figure_denoisers, make_figures
    from denoisebench.reporting.files import write_html, write_report
    from denoisebench.reporting.tables import build_report
    from denoisebench.reporting.terminal import print_report, print_summary
    from denoisebench.selection import split_list
    from denoisebench.store import Store

    with Store(args.run_dir) as store:
        report = build_report(store, include_timing=not args.no_timing, reference=args.reference,
                              chosen=args.chosen, holm_family=args.holm_family)
    keys = [t.key for t in report.tables]
    for key in args.table or ():
        if not report.select([key]):
            raise ConfigError(f"--table {key!r}: this run has tables {', '.join(keys) or '(none)'}")
    console = make_console()
    chosen = split_list(args.figure_denoisers) or None
    if chosen:
        figure_denoisers(report, chosen)  # an unknown name is a one-line error before anything is drawn
    if args.html:  # only report.html (the figures are redrawn from the run's cache first)
        if not args.no_figures:
            report.figures = make_figures(report, args.run_dir, denoisers=chosen)
        show_line(console, f"report: {write_html(report, args.run_dir)}")
        return 0
    if not args.summary_only:
        print_report(report, console, tables=args.table)
    if not args.no_write:
        write_report(report, args.run_dir, figures=not args.no_figures, tables=args.table, figure_denoisers=chosen)
    if args.summary_only or not args.table:
        paths = [str(Path(args.run_dir) / n) for n in ("report.md", "report.html") if (Path(args.run_dir) / n).exists()]
        print_summary(report, console, paths)
    return 0
