"""Writing a report to a run directory: report.md, one CSV (raw numbers) and one LaTeX file per table, figures."""

from __future__ import annotations

from pathlib import Path

from denoisebench.reporting.latex import latex_table
from denoisebench.reporting.markdown import render_markdown
from denoisebench.reporting.model import Report


def write_report(report: Report, run_dir: str | Path, *, figures: bool = True,
                 tables: list[str] | None = None) -> list[Path]:
    """Write ``tables/<key>.csv`` and ``tables/<key>.tex`` for the selected tables (all by default), the figures
    in ``figures/`` (unless ``figures=False``) and ``report.md`` (always the whole report); returns the paths."""
    run_dir = Path(run_dir)
    tables_dir = run_dir / "tables"
    tables_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in report.select(tables):
        if table.data is not None:
            path = tables_dir / f"{table.key}.csv"
            table.data.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
            written.append(path)
        tex = tables_dir / f"{table.key}.tex"
        tex.write_text(latex_table(table), encoding="utf-8")
        written.append(tex)
    if figures:
        from denoisebench.reporting.figures import make_figures

        report.figures = make_figures(report, run_dir)
        written += [run_dir / f.path for f in report.figures]
    md = run_dir / "report.md"
    md.write_text(render_markdown(report), encoding="utf-8")
    written.append(md)
    return written
