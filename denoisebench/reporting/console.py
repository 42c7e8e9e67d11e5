"""The terminal: a console, plain tables of command output (listings, check results, drift summaries), one-line
messages and the run's progress bar. The CLI builds the rows and hands them here; only this package renders
with rich. Text is data, not markup: names such as ``median[size=5]`` print whole.
"""

from __future__ import annotations

import os
import time
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
               styled: Sequence[int] = (), right: Sequence[int] = (), keys: int = 1) -> None:
    """Print a table that fits the console without breaking a word: columns get explicit widths (every column
    at least its longest word), and a table too wide even so is split into parts that repeat the first ``keys``
    columns, as report tables are. Cells in columns ``styled`` are coloured by :data:`STATUS_STYLES`, ``right``
    columns are right-aligned."""
    from rich.markup import escape
    from rich.table import Table

    from denoisebench.reporting.model import ReportTable
    from denoisebench.reporting.terminal import column_widths, split_columns

    whole = ReportTable("", title, list(columns), [[str(v) for v in row] for row in rows], keys=keys)
    styled_names = {columns[j] for j in styled}
    right_names = {columns[j] for j in right}
    for part in split_columns(whole, console.width):
        widths = column_widths(part, console.width)
        table = Table(title=escape(part.title), title_justify="left")
        for j, col in enumerate(part.columns):
            table.add_column(escape(col), overflow="fold", width=widths[j] if widths else None,
                             justify="right" if col in right_names else "left")
        for row in part.rows:
            cells = []
            for col, value in zip(part.columns, row):
                style = STATUS_STYLES.get(value) if col in styled_names else None
                cells.append(f"[{style}]{escape(value)}[/]" if style else escape(value))
            table.add_row(*cells)
        console.print(table)


def show_line(console: Any, text: str, style: str = "") -> None:
    """One message line (never re-wrapped), optionally styled (e.g. "yellow", "bold red")."""
    from rich.markup import escape

    console.print(f"[{style}]{escape(text)}[/]" if style else escape(text), highlight=False, soft_wrap=True)


def show_parts(console: Any, parts: list[str], sep: str = " ", style: str = "") -> None:
    """``parts`` joined by ``sep`` on one line when that fits the console's width, else one line each (a path
    in a part is never broken, so it stays copyable)."""
    text = sep.join(parts)
    for line in [text] if len(text) <= console.width else parts:
        show_line(console, line, style)


#: seconds between updates of the progress bar on a terminal (it redraws itself 10 times a second anyway)
BAR_SECONDS = 0.05
#: seconds between plain progress lines when the output is not a terminal (nohup, CI logs)
PLAIN_EVERY = float(os.environ.get("DENOISEBENCH_PROGRESS_SECONDS", "30"))


@contextmanager
def progress(console: Any, total: int) -> Iterator[Callable[[str, int], None]]:
    """Progress over ``total`` cells; yields ``update(description, errors)`` to call once per finished cell.

    On a terminal: a rich progress bar. Otherwise (a log file, CI): one plain line every :data:`PLAIN_EVERY`
    seconds and one at the end, so a long unattended run still shows it is alive."""
    if not console.is_terminal:
        yield from _plain_progress(console, total)
        return
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
        pending = {"advance": 0, "last": 0.0, "errors": 0}

        def update(description: str, errors: int) -> None:
            # cells come back in batches of cheap ones: the bar takes the count at most every BAR_SECONDS
            pending["advance"] += 1
            pending["errors"] = errors
            now = time.monotonic()
            if now - pending["last"] >= BAR_SECONDS:
                bar.update(task, advance=pending["advance"], errors=errors, description=escape(f"{description:>16}"))
                pending["advance"], pending["last"] = 0, now

        try:
            yield update
        finally:
            if pending["advance"]:
                bar.update(task, advance=pending["advance"], errors=pending["errors"])


def _plain_progress(console: Any, total: int) -> Iterator[Callable[[str, int], None]]:
    start = last = time.monotonic()
    state = {"done": 0, "errors": 0}

    def line() -> None:
        elapsed = time.monotonic() - start
        left = elapsed / state["done"] * (total - state["done"]) if state["done"] else float("nan")
        eta = f", about {left / 60:.1f} min left" if state["done"] and state["done"] < total else ""
        console.print(f"progress: {state['done']}/{total} cells, {state['errors']} errors, "
                      f"{elapsed:.0f} s elapsed{eta}", highlight=False, soft_wrap=True)

    def update(description: str, errors: int) -> None:
        nonlocal last
        state["done"] += 1
        state["errors"] = errors
        if time.monotonic() - last >= PLAIN_EVERY:
            last = time.monotonic()
            line()

    yield update
    line()
