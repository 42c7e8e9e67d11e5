"""The terminal: a console, plain tables of command output (listings, check results, drift summaries), one-line
messages and the run's progress bar. The CLI builds the rows and hands them here; only this package renders
with rich. Text is data, not markup: names such as ``median[size=5]`` print whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

#: status words and the style they print in
STATUS_STYLES = {"ok": "green", "pass": "green", "PASS": "green", "error": "red", "fail": "red", "FAIL": "red",
                 "xpass": "red", "XPASS": "red", "disabled": "yellow", "skip": "yellow", "SKIP": "yellow",
                 "xfail": "yellow", "XFAIL": "yellow", "better": "green", "worse": "red"}


def make_console(*, stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr)


def show_table(console: Any, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]], *,
               styled: Sequence[int] = (), right: Sequence[int] = (), no_wrap: Sequence[int] = (0,)) -> None:
    """Print a table; cells in columns ``styled`` are coloured by :data:`STATUS_STYLES`, ``right`` columns are
    right-aligned, ``no_wrap`` columns never wrap (the others fold)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")
    for j, col in enumerate(columns):
        table.add_column(escape(col), overflow="fold", no_wrap=j in no_wrap, justify="right" if j in right else "left")
    for row in rows:
        cells = []
        for j, value in enumerate(row):
            text = escape(str(value))
            style = STATUS_STYLES.get(str(value)) if j in styled else None
            cells.append(f"[{style}]{text}[/]" if style else text)
        table.add_row(*cells)
    console.print(table)


def show_line(console: Any, text: str, style: str = "") -> None:
    """One message line (never re-wrapped), optionally styled (e.g. "yellow", "bold red")."""
    from rich.markup import escape

    console.print(f"[{style}]{escape(text)}[/]" if style else escape(text), highlight=False, soft_wrap=True)


@contextmanager
def progress(console: Any, total: int) -> Iterator[Callable[[str, int], None]]:
    """A progress bar over ``total`` cells; yields ``update(description, errors)`` to call once per finished cell."""
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), TextColumn("[red]{task.fields[errors]} errors")]
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("cells", total=total, errors=0)

        def update(description: str, errors: int) -> None:
            bar.update(task, advance=1, errors=errors, description=escape(f"{description:>16}"))

        yield update
