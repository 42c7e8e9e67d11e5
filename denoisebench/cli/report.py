"""``denoisebench report RUN_DIR``: re-render a run's report from its store."""

from __future__ import annotations


def add_parser(sub, add_global_options) -> None:
    p = sub.add_parser("report", help="re-render the report of a run directory from its store")
    add_global_options(p)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--table", action="append", metavar="KEY",
                   help="print only this table (e.g. table4, table3_psnr, mean_psnr); repeatable")
    p.add_argument("--no-write", action="store_true", help="print only; do not rewrite report.md and CSVs")
    p.set_defaults(func=report_command)


def report_command(args) -> int:
    from rich.console import Console

    from denoisebench.errors import ConfigError
    from denoisebench.reporting.files import write_report
    from denoisebench.reporting.tables import build_report
    from denoisebench.reporting.terminal import print_report
    from denoisebench.store import Store

    with Store(args.run_dir) as store:
        report = build_report(store)
    keys = [t.key for t in report.tables]
    for key in args.table or ():
        if key not in keys:
            raise ConfigError(f"--table {key!r}: this run has tables {', '.join(keys) or '(none)'}")
    print_report(report, Console(), tables=args.table)
    if not args.no_write:
        write_report(report, args.run_dir)
    return 0
