"""Writing a report to a run directory: report.md and one CSV per table (raw numbers)."""

from __future__ import annotations

from pathlib import Path

from denoisebench.reporting.markdown import render_markdown
from denoisebench.reporting.model import Report


def write_report(report: Report, run_dir: str | Path) -> list[Path]:
    run_dir = Path(run_dir)
    tables_dir = run_dir / "tables"
    tables_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in report.tables:
        if table.data is not None:
            path = tables_dir / f"{table.key}.csv"
            table.data.to_csv(path, index=False, float_format="%.10g")
            written.append(path)
    md = run_dir / "report.md"
    md.write_text(render_markdown(report), encoding="utf-8")
    written.append(md)
    return written
