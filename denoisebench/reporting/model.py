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

    def table(self, key: str) -> ReportTable:
        for t in self.tables:
            if t.key == key:
                return t
        raise KeyError(key)
