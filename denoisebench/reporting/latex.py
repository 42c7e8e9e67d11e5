"""LaTeX (booktabs) rendering of report tables: ``\\usepackage{booktabs}`` in the preamble; pure ASCII output."""

from __future__ import annotations

from denoisebench.reporting.model import ReportTable

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_UNICODE = {"±": r"$\pm$", "χ²": r"$\chi^2$", "χ": r"$\chi$", "²": r"$^2$", "Δ": r"$\Delta$", "—": "---",
            "–": "--", "−": "-", "×": r"$\times$", "≥": r"$\geq$", "≤": r"$\leq$", "·": r"$\cdot$", "√": r"$\surd$",
            "α": r"$\alpha$", "σ": r"$\sigma$", "µ": r"$\mu$", "’": "'", "→": r"$\rightarrow$", "<": r"$<$",
            ">": r"$>$"}


def escape(text: str) -> str:
    out = "".join(_SPECIAL.get(ch, ch) for ch in str(text))
    for uni, tex in _UNICODE.items():
        out = out.replace(uni, tex)
    out = out.replace("d$\\_$z", "$d_z$").replace("d\\_z", "$d_z$")
    return out.encode("ascii", "replace").decode("ascii")


def latex_table(table: ReportTable, label_prefix: str = "tab:") -> str:
    cols = "l" + "r" * (len(table.columns) - 1)
    lines = [
        "\\begin{table}[ht]", "\\centering", "\\small",
        f"\\caption{{{escape(table.title)}}}", f"\\label{{{label_prefix}{table.key}}}",
        f"\\begin{{tabular}}{{{cols}}}", "\\toprule",
        " & ".join(escape(c) for c in table.columns) + " \\\\", "\\midrule",
    ]
    for i, row in enumerate(table.rows):
        cells = [f"\\textbf{{{escape(v)}}}" if (i, j) in table.best else escape(v) for j, v in enumerate(row)]
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if table.notes:
        lines.append("\\par\\smallskip\\footnotesize " + " ".join(escape(n) for n in table.notes))
    lines.append("\\end{table}")
    return "\n".join(lines) + "\n"
