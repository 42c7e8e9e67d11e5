"""Rich terminal rendering of a report.

A table wider than the terminal is split into parts that fit: each part repeats the first (key) column and
takes as many further columns as fit at their narrowest (headers and cells wrap only at spaces), so no value
is ever cut short with an ellipsis.
"""

from __future__ import annotations

from dataclasses import replace

from denoisebench.reporting.model import Report, ReportTable

#: a rich column costs its content plus one padding space each side plus one border
_COLUMN_COST = 3


def _min_width(texts: list[str]) -> int:
    """The narrowest a column can be without breaking a word: its longest space-free piece."""
    return max((len(word) for t in texts for word in str(t).split()), default=1)


def split_columns(table: ReportTable, width: int) -> list[ReportTable]:
    """``table`` as parts no wider than ``width``; one part (the table itself) when it fits. Every part repeats
    the table's key columns (``table.keys``: e.g. noise setting and denoiser)."""
    nkeys = max(1, min(table.keys, len(table.columns) - 1))
    if len(table.columns) <= nkeys + 1:
        return [table]
    need = [_min_width([c, *(r[j] for r in table.rows)]) + _COLUMN_COST for j, c in enumerate(table.columns)]
    if sum(need) + 1 <= width:
        return [table]
    key_width = sum(need[:nkeys]) + 1
    groups: list[list[int]] = []
    current: list[int] = []
    used = key_width
    for j in range(nkeys, len(table.columns)):
        if current and used + need[j] > width:
            groups.append(current)
            current, used = [], key_width
        current.append(j)
        used += need[j]
    groups.append(current)
    parts = []
    for k, cols in enumerate(groups, 1):
        keep = [*range(nkeys), *cols]
        index = {old: new for new, old in enumerate(keep)}
        parts.append(replace(
            table, title=f"{table.title} (part {k} of {len(groups)})",
            columns=[table.columns[j] for j in keep], rows=[[r[j] for j in keep] for r in table.rows],
            best={(i, index[j]) for i, j in table.best if j in index},
            notes=table.notes if k == len(groups) else []))
    return parts


def column_widths(table: ReportTable, width: int) -> list[int] | None:
    """Explicit column widths for a table that does not fit ``width`` at its natural widths (None if it does):
    every column at its narrowest, then the spare room handed out one character at a time, round the columns
    that are still below their natural widths."""
    texts = [[c, *(r[j] for r in table.rows)] for j, c in enumerate(table.columns)]
    natural = [max(len(line) for t in col for line in str(t).splitlines() or [""]) for col in texts]
    if sum(natural) + _COLUMN_COST * len(natural) + 1 <= width:
        return None
    widths = [_min_width(col) for col in texts]
    spare = width - 1 - sum(widths) - _COLUMN_COST * len(widths)
    while spare > 0 and any(w < n for w, n in zip(widths, natural)):
        for j, nat in enumerate(natural):
            if spare > 0 and widths[j] < nat:
                widths[j] += 1
                spare -= 1
    return widths


def rich_table(table: ReportTable, width: int | None = None):
    from rich.markup import escape
    from rich.table import Table

    # text is data, not markup: a method label such as median[size=5] must print whole

    out = Table(title=escape(table.title), title_justify="left",
                caption=escape("; ".join(table.notes)) or None, caption_justify="left")
    widths = column_widths(table, width) if width else None
    for j, col in enumerate(table.columns):
        out.add_column(escape(col), justify="left" if j < table.keys else "right", overflow="fold",
                       width=widths[j] if widths else None)
    for i, row in enumerate(table.rows):
        out.add_row(*[f"[bold green]{escape(v)}[/]" if (i, j) in table.best else escape(v)
                      for j, v in enumerate(row)])
    return out


def print_report(report: Report, console=None, *, tables: list[str] | None = None, header: bool = True) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = console or Console()
    if header:
        console.rule(escape(report.title))
        for line in report.header[:5]:
            console.print(f"[dim]{escape(line)}[/]", highlight=False)
    skipped = []
    for table in report.select(tables):
        if (table.detail or not table.terminal) and not tables:
            skipped.append(table.key)
            continue
        for part in split_columns(table, console.width):
            console.print()
            console.print(rich_table(part, console.width))
    if skipped:
        console.print(f"\n{len(skipped)} more tables in report.md and report.html (the secondary metrics' Table 3 and "
                      f"per-setting means, the per-image table); one here: --table KEY, e.g. --table {skipped[0]}",
                      highlight=False)
    if report.failures:
        console.print(f"\n[yellow]{len(report.failures)} failed or incomplete cell(s); see report.md[/]")
        for line in report.failures[:5]:
            console.print(f"[yellow]  {escape(line)}[/]", highlight=False)


def print_summary(report: Report, console=None, paths: list[str] | None = None) -> None:
    """The one-glance answer, printed last: best denoiser per noise type, margin and significance, failed cells,
    where the report files are."""
    from rich.console import Console
    from rich.markup import escape

    console = console or Console()
    console.print()
    console.rule("summary: best per noise type; paired t vs the runner-up, * p < 0.05")
    for line in report.summary:
        console.print(escape(line), highlight=False)
    for path in paths or []:
        console.print(f"report: {escape(path)}", highlight=False, soft_wrap=True)
