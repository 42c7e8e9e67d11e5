"""The report model: renderer-independent tables (raw values for CSV, formatted text for display)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReportTable:
    """One table. ``rows`` hold display strings; ``data`` holds the raw numbers (a DataFrame) for CSV export.

    ``best`` lists (row index, column index) cells to mark as the best of their column.
    """

    key: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    data: Any = None
    notes: list[str] = field(default_factory=list)
    best: set[tuple[int, int]] = field(default_factory=set)
    #: how many leading columns say which row is which (repeated in every part of a split table)
    keys: int = 1
    #: a long detail table (e.g. per image): written to CSV and the HTML report, not printed or put in report.md
    detail: bool = False
    #: False: left out of the terminal unless selected (``--table KEY``); in report.md, CSV and report.html
    terminal: bool = True


@dataclass
class Figure:
    key: str
    caption: str
    path: str  # relative to the run directory


@dataclass
class Report:
    title: str
    header: list[str] = field(default_factory=list)  # conventions and run facts, one line each
    tables: list[ReportTable] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # failed cells, never silently dropped
    #: the one-glance answer: best denoiser per noise type with its margin and significance, failed cells
    summary: list[str] = field(default_factory=list)
    #: False: no timing numbers anywhere (they differ between runs), so the same store renders byte-identically
    include_timing: bool = True
    #: what renderers and figures need from the store (cells frame, config, plan); not rendered itself
    context: dict[str, Any] = field(default_factory=dict, repr=False)

    def select(self, selection: list[str] | None) -> list[ReportTable]:
        """Tables matching ``selection``: exact keys, ``tableN`` / ``N`` (every table of that number), or prefixes
        before ``_`` (``table3`` selects ``table3_psnr`` and ``table3_ssim``). None or empty: every table."""
        if not selection:
            return list(self.tables)
        out = []
        for t in self.tables:
            for sel in selection:
                sel = f"table{sel}" if str(sel).isdigit() else str(sel)
                if t.key == sel or t.key.startswith(sel + "_"):
                    out.append(t)
                    break
        return out

    def table(self, key: str) -> ReportTable:
        for t in self.tables:
            if t.key == key:
                return t
        raise KeyError(key)
