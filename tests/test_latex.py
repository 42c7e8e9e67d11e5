"""LaTeX tables: captions without "Table N —" and with the conventions, booktabs, split into parts that repeat the key
columns (or scaled, or a longtable) so that they fit \\textwidth; compiled with pdflatex when it is installed
(Debian texlive-latex-base + texlive-latex-recommended for booktabs; .ci/run installs them), checked for
Overfull \\hbox; otherwise only the structure is checked."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from denoisebench.cli import main
from denoisebench.reporting.latex import LONG_ROWS, caption_title, latex_table, split_table
from denoisebench.reporting.model import ReportTable
from denoisebench.reporting.tables import build_report
from denoisebench.store import Store

RUN = ["run", "--denoisers", "median,gaussian,wiener,mean,switching_median", "--noise",
       "gaussian:15,gaussian:25,salt_pepper:10%", "--max-images", "2", "--quiet", "--no-figures"]


def wide(rows: int = 3, cols: int = 14) -> ReportTable:
    columns = ["noise setting", "denoiser"] + [f"metric {j} (dB)" for j in range(cols)]
    body = [[f"gaussian {15 + i}", f"den_{i}"] + [f"{j + i / 7:.4f} ± 0.1234 [{j:.4f}, {j + 1:.4f}]"
                                                  for j in range(cols)] for i in range(rows)]
    return ReportTable("wide", "Table 9 — a wide table", columns, body, notes=["unit of analysis = image"],
                       best={(0, 3)}, keys=2)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("latex") / "run"
    assert main([*RUN, "--output", str(out)]) == 0
    with Store(out) as store:
        return build_report(store)


def test_caption_is_the_title_without_its_number_and_states_conventions(report):
    table = report.table("table4")
    tex = latex_table(table)
    assert re.match(r"Table \d", table.title)
    first = re.search(r"\\caption\[\{(.*?)\}\]\{(.*?)\}\\label", tex)
    assert not first.group(1).startswith("Table") and "Table 4" not in first.group(2)
    assert first.group(1).startswith(caption_title(table.title)[:20].replace("±", "$\\pm$")[:10])
    for note in table.notes[:1]:  # the notes (its conventions) are in the caption
        assert note.split(";")[0][:25].replace("%", "\\%") in first.group(2).replace("$\\pm$", "±")
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex and tex.isascii()
    assert tex.startswith("% table4: needs \\usepackage{booktabs}")
    assert caption_title("Table 3 — PSNR (dB): % improvement") == "PSNR (dB): % improvement"
    assert caption_title("Per image — PSNR") == "Per image — PSNR"


def test_wide_table_split_repeating_key_columns():
    table = wide()
    parts = split_table(table)
    assert len(parts) > 1
    assert sum(len(p.columns) - 2 for p in parts) == len(table.columns) - 2
    for p in parts:
        assert p.columns[:2] == ["noise setting", "denoiser"] and [r[:2] for r in p.rows] == [r[:2] for r in table.rows]
    tex = latex_table(table)
    assert tex.count("\\begin{table}") == len(parts)
    labels = re.findall(r"\\label\{([^}]*)\}", tex)
    assert labels[0] == "tab:wide" and len(set(labels)) == len(parts)
    assert "continued from Table~\\ref{tab:wide}" in tex
    assert "\\textbf{1.0000 $\\pm$ 0.1234} \\\\ \\textbf{{}[1.0000, 2.0000]}" in tex  # the best cell, on two lines (value, then its CI)
    assert "{}[3.0000, 4.0000]" in tex  # a line starting with "[" is not an optional argument of \\


def test_long_table_is_a_longtable_with_repeated_header():
    tex = latex_table(wide(rows=LONG_ROWS + 5, cols=3))
    assert "\\begin{longtable}" in tex and "\\endhead" in tex and "\\endfirsthead" in tex
    assert "\\usepackage{longtable}" in tex.splitlines()[0]


def _pdflatex_ready() -> str:
    if shutil.which("pdflatex") is None:
        return "pdflatex is not installed (Debian: apt-get install texlive-latex-base texlive-latex-recommended)"
    found = subprocess.run(["kpsewhich", "booktabs.sty"], capture_output=True, text=True).stdout.strip()
    return "" if found else "booktabs.sty is not installed (Debian: texlive-latex-recommended)"


def test_compiles_at_textwidth(report, tmp_path):
    why = _pdflatex_ready()
    if why:
        print(f"skipped compiling: {why}; structure checked only")
        pytest.skip(why)
    tables = [*report.tables, wide(), wide(rows=LONG_ROWS + 5, cols=9)]
    inputs = []
    for table in tables:
        (tmp_path / f"{table.key}.tex").write_text(latex_table(table), encoding="ascii")
        inputs.append(f"\\input{{{table.key}.tex}}\n\\clearpage")
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs,graphicx,longtable,array}\n\\begin{document}\n"
                   + "\n".join(inputs) + "\n\\end{document}\n")
    for _ in range(2):  # longtable settles its column widths on the second pass
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-2000:]
    log = (tmp_path / "doc.log").read_text(errors="replace")
    overfull = [line for line in log.splitlines() if line.startswith("Overfull \\hbox")]
    assert not overfull, overfull
    pages = int(re.search(r"Output written on doc\.pdf \((\d+) pages?", log).group(1))
    print(f"pdflatex: {len(tables)} tables, {pages} pages, no errors, no overfull boxes")
