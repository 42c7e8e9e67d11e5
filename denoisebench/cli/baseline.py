"""``denoisebench baseline export RUN_DIR FILE``: write a run's per-cell metric values as a reviewable baseline."""

from __future__ import annotations


def add_parser(sub, add_global_options) -> None:
    p = sub.add_parser("baseline", help="export a run as a small text baseline for `denoisebench compare`")
    add_global_options(p)
    actions = p.add_subparsers(dest="baseline_action", metavar="ACTION")
    ex = actions.add_parser("export", help="write RUN_DIR's per-cell metric values to FILE (sorted JSON lines)")
    add_global_options(ex)
    ex.add_argument("run_dir", metavar="RUN_DIR")
    ex.add_argument("file", metavar="FILE")
    ex.set_defaults(func=export_command)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def export_command(args) -> int:
    from denoisebench.baseline.file import export_baseline

    n = export_baseline(args.run_dir, args.file, args.plugins)
    print(f"wrote {n} cells to {args.file}")
    return 0
