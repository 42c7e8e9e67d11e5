"""Reports built from a run's store: a table model and renderers (rich terminal, Markdown, CSV).

Only this package imports rich (and, for figures, matplotlib), and only when a renderer runs.
"""

from denoisebench.reporting.model import Report, ReportTable

__all__ = ["Report", "ReportTable"]
