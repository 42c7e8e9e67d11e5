"""GitHub-renderable Markdown rendering of a report."""

from __future__ import annotations

from denoisebench.reporting.model import Report, ReportTable


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def markdown_table(table: ReportTable) -> str:
    lines = [f"### {table.title}", ""]
    lines.append("| " + " | ".join(_cell(c) for c in table.columns) + " |")
    lines.append("|" + "|".join(":---" if j == 0 else "---:" for j in range(len(table.columns))) + "|")
    for i, row in enumerate(table.rows):
        cells = [f"**{_cell(v)}**" if (i, j) in table.best else _cell(v) for j, v in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    if table.notes:
        lines += ["", *[f"_{n}_" for n in table.notes]]
    return "\n".join(lines) + "\n"


def render_markdown(report: Report) -> str:
    parts = [f"# {report.title}", "", "## Conventions", ""]
    parts += [f"- {line}" for line in report.header]
    for table in report.tables:
        parts += ["", markdown_table(table)]
    for fig in report.figures:
        parts += ["", f"![{fig.caption}]({fig.path})", "", f"_{fig.caption}_"]
    parts += ["", "## Failed cells", ""]
    parts += [f"- {_cell(line)}" for line in report.failures] or ["None: every cell finished with status ok."]
    return "\n".join(parts) + "\n"
