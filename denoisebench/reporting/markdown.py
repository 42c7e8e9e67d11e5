"""GitHub-renderable Markdown rendering of a report."""

from __future__ import annotations

from pathlib import PurePosixPath

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


def render_markdown(report: Report, tables: list[str] | None = None) -> str:
    parts = [f"# {report.title}", ""]
    if report.summary:
        parts += ["## Summary", "", "_best denoiser per noise type by mean per-image value; margin over the "
                  "runner-up with a paired t-test on the images, * p < 0.05 (uncorrected)_", ""]
        parts += [f"- {_cell(line)}" for line in report.summary] + [""]
    parts += ["## Conventions", ""]
    parts += [f"- {_cell(line)}" for line in report.header]
    if not report.include_timing:
        parts.append("- timings omitted from this rendering (they differ between runs)")
    for table in report.select(tables):
        if table.detail:
            parts += ["", f"### {table.title}", "", f"_{len(table.rows)} rows: in `tables/{table.key}.csv` and "
                      "report.html_"]
            continue
        parts += ["", markdown_table(table)]
    if report.figures:
        parts += ["", "## Figures"]
    for fig in report.figures:
        pdf = str(PurePosixPath(fig.path).with_suffix(".pdf"))  # every figure is also written as a vector PDF
        parts += ["", f"![{fig.key}]({fig.path})", "", f"_{fig.caption}_ ([PNG]({fig.path}), [PDF]({pdf}))"]
    parts += ["", "## Failed cells", ""]
    parts += [f"- {_cell(line)}" for line in report.failures] or ["None: every cell finished with status ok."]
    return "\n".join(parts) + "\n"
