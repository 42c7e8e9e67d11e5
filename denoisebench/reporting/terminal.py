"""Rich terminal rendering of a report."""

from __future__ import annotations

from denoisebench.reporting.model import Report, ReportTable


def rich_table(table: ReportTable):
    from rich.table import Table

    out = Table(title=table.title, title_justify="left", caption="; ".join(table.notes) or None,
                caption_justify="left")
    for j, col in enumerate(table.columns):
        out.add_column(col, justify="left" if j == 0 else "right", no_wrap=j == 0)
    for i, row in enumerate(table.rows):
        out.add_row(*[f"[bold green]{v}[/]" if (i, j) in table.best else v for j, v in enumerate(row)])
    return out


def print_report(report: Report, console=None, *, tables: list[str] | None = None, header: bool = True) -> None:
    from rich.console import Console

    console = console or Console()
    if header:
        console.rule(report.title)
        for line in report.header[:5]:
            console.print(f"[dim]{line}[/]", highlight=False)
    for table in report.select(tables):
        console.print()
        console.print(rich_table(table))
    if report.failures:
        console.print(f"\n[yellow]{len(report.failures)} failed or incomplete cell(s); see report.md[/]")
        for line in report.failures[:5]:
            console.print(f"[yellow]  {line}[/]", highlight=False)
