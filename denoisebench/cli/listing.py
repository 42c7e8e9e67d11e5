"""``denoisebench list`` and ``denoisebench plugins``."""

from __future__ import annotations


def add_parser(sub, add_global_options) -> None:
    p = sub.add_parser("list", help="list denoisers, noise models, metrics and datasets with their plugin")
    add_global_options(p)
    p.add_argument("kind", nargs="?", choices=["denoisers", "noise", "metrics", "datasets"],
                   help="only this kind")
    p.set_defaults(func=list_command)
    q = sub.add_parser("plugins", help="list plugin distributions, versions and status")
    add_global_options(q)
    q.set_defaults(func=plugins_command)


def _defaults(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "—"


def list_command(args) -> int:
    from denoisebench.reporting.console import make_console, show_line, show_table

    plugins = args.plugins
    console = make_console()
    sections = {
        "denoisers": ("Denoisers", ["name", "plugin", "colour", "blind", "defaults", "description"],
                      lambda c: [_yn(c.handles_color), _yn(not c.needs_noise_level), _defaults(c.defaults),
                                 c.description], plugins.denoisers),
        "noise": ("Noise models", ["name", "plugin", "standard levels", "definition"],
                  lambda c: [", ".join(c.levels), c.convention], plugins.noise_models),
        "metrics": ("Metrics", ["name", "plugin", "better", "convention"],
                    lambda c: ["higher" if c.higher_is_better else "lower", c.convention], plugins.metrics),
        "datasets": ("Datasets", ["name", "plugin", "colour", "description"],
                     lambda c: [_yn(c.color), c.description], plugins.datasets),
    }
    for kind, (title, cols, extra, registry) in sections.items():
        if args.kind and args.kind != kind:
            continue
        rows = [[entry.name, str(entry.provider), *[str(x) for x in extra(entry.obj)]] for entry in registry.entries()]
        show_table(console, title, cols, rows)
    for st in plugins.errors:
        show_line(console, f"plugin {st.name} not loaded: {st.reason}", "yellow")
    _print_problems(console, plugins)
    return 0


def _print_problems(console, plugins) -> None:
    """Entries skipped by plugins that otherwise loaded (a name registered first by another), one line each."""
    from denoisebench.reporting.console import show_line

    for line in plugins.problems:
        show_line(console, line, "yellow")


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


def plugins_command(args) -> int:
    from denoisebench.reporting.console import make_console, show_table

    rows = []
    for st in args.plugins.status.values():
        detail = st.reason or "; ".join(f"{k}: {', '.join(v)}" for k, v in st.provides.items())
        if st.problems:
            detail += f"; {len(st.problems)} entr{'y' if len(st.problems) == 1 else 'ies'} skipped (below)"
        rows.append([st.name, st.distribution or "(local)", st.version, st.status, detail])
    console = make_console()
    show_table(console, "Plugins", ("plugin", "distribution", "version", "status", "provides / reason"), rows,
               styled=(3,))
    _print_problems(console, args.plugins)
    return 0
