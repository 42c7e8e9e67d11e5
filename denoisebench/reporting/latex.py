"""LaTeX (booktabs) rendering of report tables; pure ASCII output.

Preamble: ``\\usepackage{booktabs}``, plus ``graphicx`` (``\\resizebox``) and ``longtable`` when a table uses
them (the file's first line says which). Each table fits ``\\textwidth`` of a standard one-column article: a
table wider than :data:`TEXT_WIDTH_PT` is split into parts that each repeat the key columns (the leading columns
that say which row is which), and a part that is still too wide is scaled down to ``\\textwidth``; a table longer
than :data:`LONG_ROWS` rows is a ``longtable`` that breaks across pages, repeating its header. The caption is
the table's title without its "Table N —" prefix (LaTeX numbers tables itself; the paper's table number stays in
the label, ``tab:<key>``), followed by the table's notes, which state its conventions.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace

from denoisebench.reporting.model import ReportTable

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
            "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_UNICODE = {"±": r"$\pm$", "χ²": r"$\chi^2$", "χ": r"$\chi$", "²": r"$^2$", "Δ": r"$\Delta$", "—": "---",
            "–": "--", "−": "-", "×": r"$\times$", "≥": r"$\geq$", "≤": r"$\leq$", "·": r"$\cdot$", "√": r"$\surd$",
            "α": r"$\alpha$", "σ": r"$\sigma$", "µ": r"$\mu$", "’": "'", "→": r"$\rightarrow$", "<": r"$<$",
            ">": r"$>$", "η": r"$\eta$", "ε": r"$\epsilon$", "≈": r"$\approx$", "≠": r"$\neq$", "…": "...",
            "“": "``", "”": "''", "‘": "`", "°": r"$^\circ$", "λ": r"$\lambda$", "ρ": r"$\rho$", "μ": r"$\mu$"}

#: \textwidth of a one-column 10 pt article (letter or A4), in points
TEXT_WIDTH_PT = 345.0
#: estimated width of one character in \small (bold and digits are about this wide), and a column's padding
CHAR_PT = 5.0
COLUMN_PAD_PT = 12.0
#: a part up to this many times wider than the text is scaled down to it (font >= 1/SCALE_LIMIT) rather than
#: split again
SCALE_LIMIT = 1.25
#: a text column wider than this wraps in a paragraph column of this width
WRAP_PT = 150.0
#: tables with more rows than this become a longtable (page breaks, header repeated)
LONG_ROWS = 40

_TITLE_NUMBER = re.compile(r"^\s*Table\s+\S+?\s*[—–:-]+\s*")
_NUMERIC = re.compile(r"^\s*[+\-−]?(\d|\.\d|n/a|nan|inf|—|–|-$)", re.IGNORECASE)


#: one pass for the special characters and the two ASCII ones of _UNICODE; the rest only when there are any
_TRANSLATE = str.maketrans({**_SPECIAL, **{k: v for k, v in _UNICODE.items() if k.isascii()}})
_NON_ASCII = {k: v for k, v in _UNICODE.items() if not k.isascii()}


def escape(text: str) -> str:
    out = str(text).translate(_TRANSLATE)
    if not out.isascii():
        for uni, tex in _NON_ASCII.items():
            out = out.replace(uni, tex)
    out = out.replace("d$\\_$z", "$d_z$").replace("d\\_z", "$d_z$")
    return out.encode("ascii", "replace").decode("ascii")


def caption_title(title: str) -> str:
    """The title without its "Table 4 —" prefix (LaTeX adds its own "Table N:"), first letter capitalised."""
    text = _TITLE_NUMBER.sub("", title, count=1) or title
    return text[:1].upper() + text[1:]


def key_columns(table: ReportTable) -> int:
    """How many leading columns identify a row (repeated in every part of a split table): the model's
    ``keys`` when it has them, else the leading columns whose cells are text rather than numbers."""
    given = getattr(table, "keys", None)
    if isinstance(given, int) and given >= 1:
        return max(1, min(given, len(table.columns) - 1))
    n = 1
    while n < len(table.columns) - 1:
        values = [str(r[n]) for r in table.rows if n < len(r) and str(r[n]).strip()]
        if not values or sum(bool(_NUMERIC.match(v)) for v in values) * 2 >= len(values):
            break
        n += 1
    return n


_CI = re.compile(r"^(.*\S)\s+(\[[^\]]*\])$")


def _lines(text: str) -> list[str]:
    """A cell as printed: a value followed by its confidence interval in brackets takes two lines."""
    m = _CI.match(str(text))
    return [m.group(1), m.group(2)] if m else [str(text)]


def _text_pt(text: str) -> float:
    """Estimated width of ``text`` in \\small (cmr 9 pt: digits and lower case ~4.6 pt, capitals ~6.4 pt)."""
    return sum(3.0 if ch == " " else 6.4 if ch.isupper() else 7.0 if ch in "±×≤≥→χ" else 4.6 for ch in text)


@functools.lru_cache(maxsize=1 << 16)
def _cell_pt(text: str) -> float:
    """The estimated width of a cell as printed (its widest line); a table's widths are asked for several times
    as it is split into parts, and most of its cells' texts repeat."""
    return max(_text_pt(line) for line in _lines(text))


def _width(texts, bold: bool = False) -> float:
    widest = max((_cell_pt(str(t)) for t in texts), default=5.0)
    return widest * (1.1 if bold else 1.0) + COLUMN_PAD_PT


def _natural(table: ReportTable) -> list[float]:
    return [max(_width([c]), _width([r[j] for r in table.rows if j < len(r)], bold=any(b[1] == j for b in table.best)))
            for j, c in enumerate(table.columns)]


def _wrapped(table: ReportTable) -> set[int]:
    """Text columns wider than :data:`WRAP_PT`: set as paragraphs of that width (``p{}``), wrapping their text."""
    out = set()
    for j, w in enumerate(_natural(table)):
        values = [str(r[j]) for r in table.rows if j < len(r) and str(r[j]).strip()]
        if w > WRAP_PT and values and sum(bool(_NUMERIC.match(v)) for v in values) * 2 < len(values):
            out.add(j)
    return out


def _widths(table: ReportTable) -> list[float]:
    wrapped = _wrapped(table)
    return [WRAP_PT if j in wrapped else w for j, w in enumerate(_natural(table))]


def split_table(table: ReportTable, width: float = TEXT_WIDTH_PT, scale_limit: float = 0.0) -> list[ReportTable]:
    """``table`` as parts whose estimated width fits ``width`` points (up to :data:`SCALE_LIMIT` times more, then
    scaled down to it; ``scale_limit`` overrides that, 1.0 for a longtable, which cannot be scaled), each part
    repeating the key columns."""
    limit = scale_limit or SCALE_LIMIT
    need = _widths(table)
    keys = key_columns(table)
    if sum(need) <= width or len(table.columns) <= keys + 1:
        return [table]
    groups: list[list[int]] = []
    current: list[int] = []
    base = sum(need[:keys])
    used = base
    for j in range(keys, len(table.columns)):
        if current and used + need[j] > width * limit:
            groups.append(current)
            current, used = [], base
        current.append(j)
        used += need[j]
    groups.append(current)
    parts = []
    for k, cols in enumerate(groups, 1):
        keep = [*range(keys), *cols]
        index = {old: new for new, old in enumerate(keep)}
        parts.append(replace(
            table, title=f"{table.title} (part {k} of {len(groups)})",
            columns=[table.columns[j] for j in keep], rows=[[r[j] for j in keep] for r in table.rows],
            best={(i, index[j]) for i, j in table.best if j in index}))
    return parts


def _cell(text: str, bold: bool) -> str:
    # "{}" keeps a line starting with "[" from being read as the optional argument of the preceding \\\\ (row end)
    lines = [("{}" if line.startswith("[") else "") + escape(line) for line in _lines(text)]
    if bold:
        lines = [f"\\textbf{{{line}}}" for line in lines]
    if len(lines) == 1:
        return lines[0]
    return "\\begin{tabular}[t]{@{}r@{}}" + " \\\\ ".join(lines) + "\\end{tabular}"


def _row(table: ReportTable, i: int, row: list[str]) -> str:
    return " & ".join(_cell(v, (i, j) in table.best) for j, v in enumerate(row)) + " \\\\"


def _part(table: ReportTable, label: str, caption: str, short: str, keys: int) -> list[str]:
    wrapped = _wrapped(table)
    wrap = f">{{\\raggedright\\arraybackslash}}p{{{WRAP_PT - COLUMN_PAD_PT:g}pt}}"
    cols = "".join(wrap if j in wrapped else "l" if j < keys else "r" for j in range(len(table.columns)))
    header = " & ".join(escape(c) for c in table.columns) + " \\\\"
    body = [_row(table, i, row) for i, row in enumerate(table.rows)]
    cap = f"\\caption[{{{short}}}]{{{caption}}}\\label{{{label}}}"
    if len(table.rows) > LONG_ROWS:
        n = len(table.columns)
        return ["{\\footnotesize", "\\setlength{\\LTcapwidth}{\\textwidth}", f"\\begin{{longtable}}{{{cols}}}",
                cap + " \\\\", "\\toprule", header, "\\midrule", "\\endfirsthead",
                f"\\multicolumn{{{n}}}{{r}}{{\\itshape \\tablename~\\thetable{{}} (continued)}} \\\\", "\\toprule",
                header, "\\midrule", "\\endhead", "\\bottomrule", "\\endfoot", *body, "\\end{longtable}", "}"]
    tabular = [f"\\begin{{tabular}}{{{cols}}}", "\\toprule", header, "\\midrule", *body, "\\bottomrule",
               "\\end{tabular}"]
    if sum(_widths(table)) > TEXT_WIDTH_PT:  # cannot be split further: scale it to the text width
        tabular = ["\\resizebox{\\textwidth}{!}{%", *tabular, "}"]
    return ["\\begin{table}[htbp]", "\\centering", "\\small", cap, *tabular, "\\end{table}"]


def latex_table(table: ReportTable, label_prefix: str = "tab:", conventions: list[str] | None = None) -> str:
    """The table as LaTeX: one ``table`` float per part (or a longtable), booktabs rules, best values bold;
    the caption is the title (without "Table N —") then the notes and ``conventions``."""
    keys = key_columns(table)
    parts = split_table(table, scale_limit=1.0 if len(table.rows) > LONG_ROWS else 0.0)
    title = caption_title(table.title)
    notes = " ".join(escape(n if n.rstrip().endswith((".", ")")) else n + ".") for n in
                     [*table.notes, *(conventions or [])])
    uses = ["booktabs"]
    lines = []
    for k, part in enumerate(parts, 1):
        short = escape(caption_title(part.title))
        if len(parts) > 1 and k > 1:
            caption = f"{short}: continued from Table~\\ref{{{label_prefix}{table.key}}}"
        else:
            caption = escape(title) + (f" (part 1 of {len(parts)})" if len(parts) > 1 else "") + \
                (f". {notes}" if notes else "")
        label = f"{label_prefix}{table.key}" + (f"-part{k}" if k > 1 else "")
        body = _part(part, label, caption, short, keys)
        uses += ["longtable"] if body[2].startswith("\\begin{longtable}") else []
        uses += ["graphicx"] if any(line.startswith("\\resizebox") for line in body) else []
        uses += ["array"] if any("arraybackslash" in line for line in body[:7]) else []
        lines += [*body, ""]
    head = f"% {table.key}: needs " + ", ".join(f"\\usepackage{{{u}}}" for u in dict.fromkeys(uses))
    return "\n".join([head, *lines]).rstrip("\n") + "\n"
