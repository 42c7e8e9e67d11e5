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
    from rich.console import Console
    from rich.table import Table

    plugins = args.plugins
    console = Console()
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
        table = Table(title=title, title_justify="left")
        for i, col in enumerate(cols):
            table.add_column(col, overflow="fold", no_wrap=i == 0)
        for entry in registry.entries():
            table.add_row(entry.name, str(entry.provider), *[str(x) for x in extra(entry.obj)])
        console.print(table)
    for st in plugins.errors:
        console.print(f"[yellow]plugin {st.name} not loaded: {st.reason}[/]", highlight=False, soft_wrap=True)
    _print_problems(console, plugins)
    return 0


def _print_problems(console, plugins) -> None:
    """Entries skipped by plugins that otherwise loaded (a name registered first by another), one line each."""
    for line in plugins.problems:
        console.print(f"[yellow]{line}[/]", highlight=False, soft_wrap=True)


def _yn(flag: bool) -> str:
    return "yes" if flag else "no"


def plugins_command(args) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Plugins", title_justify="left")
    for i, col in enumerate(("plugin", "distribution", "version", "status", "provides / reason")):
        table.add_column(col, overflow="fold", no_wrap=i == 0)
    for st in args.plugins.status.values():
        style = {"ok": "green", "error": "red", "disabled": "yellow"}.get(st.status, "")
        detail = st.reason or "; ".join(f"{k}: {', '.join(v)}" for k, v in st.provides.items())
        if st.problems:
            detail += f"; {len(st.problems)} entr{'y' if len(st.problems) == 1 else 'ies'} skipped (below)"
        table.add_row(st.name, st.distribution or "(local)", st.version, f"[{style}]{st.status}[/]", detail)
    console = Console()
    console.print(table)
    _print_problems(console, args.plugins)
    return 0
