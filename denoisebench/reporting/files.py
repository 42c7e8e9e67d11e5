"""Writing a report to a run directory: report.md and report.html, one CSV (raw numbers) and one LaTeX file per
table, figures (PNG + PDF)."""

from __future__ import annotations

from pathlib import Path

from denoisebench.reporting.latex import latex_table
from denoisebench.reporting.markdown import render_markdown
from denoisebench.reporting.model import Report


def write_report(report: Report, run_dir: str | Path, *, figures: bool = True,
                 tables: list[str] | None = None, figure_denoisers: list[str] | None = None,
                 html: bool = True) -> list[Path]:
    """Write ``tables/<key>.csv`` and ``tables/<key>.tex`` for the selected tables (all by default), the figures
    in ``figures/`` (unless ``figures=False``; ``figure_denoisers``: the visual grid's denoisers, default all),
    ``report.md`` and ``report.html`` (unless ``html=False``; both always the whole report); returns the paths.
    Writing all tables removes a ``tables/<key>.csv`` or ``.tex`` of an earlier report that this one no longer
    has (a table for which the run now has no data), so the folder never shows a stale table."""
    run_dir = Path(run_dir)
    tables_dir = run_dir / "tables"
    tables_dir.mkdir(parents=True, exist_ok=True)
    if not tables:
        keys = {t.key for t in report.tables}
        for old in [*tables_dir.glob("*.csv"), *tables_dir.glob("*.tex")]:
            if old.stem not in keys:
                old.unlink()
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

        report.figures = make_figures(report, run_dir, denoisers=figure_denoisers)
        written += [run_dir / f.path for f in report.figures]
    md = run_dir / "report.md"
    md.write_text(render_markdown(report), encoding="utf-8")
    written.append(md)
    if html:
        written.append(write_html(report, run_dir))
    return written


def write_html(report: Report, run_dir: str | Path) -> Path:
    """``report.html``: the whole report in one self-contained file (figures and cached visual cells embedded)."""
    from denoisebench.reporting.html import render_html

    path = Path(run_dir) / "report.html"
    path.write_text(render_html(report, run_dir), encoding="utf-8")
    return path
