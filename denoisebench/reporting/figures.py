"""Figures (matplotlib Agg, imported lazily): the paper's Fig. 9 visual grid, Fig. 10 improvement bars,
Fig. 6/8 confusion matrices, Fig. 7 metric correlations, and metric vs noise level curves.

Every figure is written twice: ``figures/<key>.png`` at 300 dpi and ``figures/<key>.pdf`` (vector; raster tiles
embedded at their native resolution). One colour, marker, line style and hatch per denoiser across every figure
(:func:`styles`: the Okabe–Ito colour-blind-safe palette in the run's denoiser order; the noisy input grey).
Each figure is made independently; one that fails is reported in the report's failures, never stops the others.
The visual grid reads its images from the run directory's cache (:func:`denoisebench.reporting.regenerate.
cached_panel`): a denoiser runs at most once per cell for figures, the first time the figure is drawn.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from denoisebench import metricmeta, stats
from denoisebench.config import NOISY
from denoisebench.errors import ConfigError
from denoisebench.reporting.data import (
    COUNTS,
    IMAGE_KEYS,
    denoiser_order,
    has_metric,
    noise_type_order,
    ok_cells,
    setting_order,
)
from denoisebench.reporting.model import Figure, Report

FIG_DIR = "figures"
DPI = 300
#: Okabe & Ito (2008), colour-blind safe; yellow and black last (weak on white / reserved look)
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#F0E442", "#000000")
NOISY_COLOUR = "#8C8C8C"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
LINESTYLES = ("-", "--", "-.", ":")
HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--", "++", "**", "||")
#: inset of the visual grid: lower-right fraction of each tile; the zoomed box is the clean image's most
#: textured square outside it, of side min(h, w) / ZOOM_DIV
INSET = 0.5
ZOOM_DIV = 6


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    """``path`` (PNG, 300 dpi) and the same figure as PDF beside it; no dates or versions in the files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None}, bbox_inches="tight")
    fig.savefig(path.with_suffix(".pdf"), metadata={"Creator": None, "Producer": None, "CreationDate": None},
                bbox_inches="tight")
    _plt().close(fig)


def styles(report: Report) -> dict[str, dict]:
    """Denoiser (method label) -> ``color``, ``marker``, ``linestyle``, ``hatch``: fixed by the run's denoiser
    order over *all* its cells (failed ones too), so a denoiser has the same look in every figure of a run."""
    cells, plan = report.context["cells"], report.context["plan"]
    out = {NOISY: {"color": NOISY_COLOUR, "marker": "x", "linestyle": ":", "hatch": ""}}
    names = [n for n in denoiser_order(cells, plan) if n != NOISY]
    for k, name in enumerate(names):
        out[name] = {"color": PALETTE[k % len(PALETTE)], "marker": MARKERS[k % len(MARKERS)],
                     "linestyle": LINESTYLES[(k // len(PALETTE) + k) % len(LINESTYLES)],
                     "hatch": HATCHES[k % len(HATCHES)]}
    return out


def _meta_label(report: Report, metric: str, unit: bool = True) -> str:
    meta = report.context.get("metrics") or {}
    return metricmeta.label(meta, metric, unit=unit) if metric in meta else metric.upper()


def figure_denoisers(report: Report, names: list[str] | None) -> list[str]:
    """The methods the visual grid shows, in run order: every denoiser of the run, or those ``names`` selects
    (a registry name selects each of its method labels in a sweep). Raises ConfigError on an unknown name."""
    cells, plan = report.context["cells"], report.context["plan"]
    ok = ok_cells(cells)
    order = [n for n in denoiser_order(ok, plan) if n != NOISY]
    if not names:
        return order
    base = dict(zip(ok["denoiser"], ok["base_denoiser"] if "base_denoiser" in ok.columns else ok["denoiser"]))
    unknown = [n for n in names if n not in order and n not in base.values() and n != NOISY]
    if unknown:
        raise ConfigError(f"--figure-denoisers {','.join(unknown)}: not an ok denoiser of this run; it has "
                          f"{', '.join(order) or '(none)'}")
    return [n for n in order if n in names or base.get(n) in names]


def zoom_box(clean: np.ndarray) -> tuple[int, int, int]:
    """(y0, x0, side) of the most textured square of ``clean`` (largest mean gradient magnitude) that the
    lower-right inset does not cover."""
    gray = clean.mean(axis=2) if clean.ndim == 3 else clean
    h, w = gray.shape
    s = max(8, min(h, w) // ZOOM_DIV)
    gy, gx = np.gradient(gray.astype(np.float64))
    energy = np.pad(np.hypot(gx, gy), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    step = max(1, s // 4)
    best, where = -1.0, (max(0, h // 2 - s // 2), max(0, w // 2 - s // 2))
    for y in range(0, max(1, h - s + 1), step):
        for x in range(0, max(1, w - s + 1), step):
            if y + s > (1 - INSET) * h and x + s > (1 - INSET) * w:
                continue  # would sit under the inset
            e = energy[y + s, x + s] - energy[y, x + s] - energy[y + s, x] + energy[y, x]
            if e > best:
                best, where = e, (y, x)
    return where[0], where[1], min(s, h, w)


def _visual_panels(report: Report, run_dir: Path, names: list[str], images_per_type: int | None):
    from denoisebench.reporting.regenerate import cached_panel

    cells, plan, config = report.context["cells"], report.context["plan"], report.context["config"]
    ok = ok_cells(cells)
    types = noise_type_order(ok, plan)
    if images_per_type is None:  # at most 6 panels: a few images per noise type
        images_per_type = min(3, max(1, 6 // max(1, len(types))))
    panels, levels = [], []
    for nt in types:
        settings = [s for s in setting_order(ok, plan) if ok.loc[ok["setting"] == s, "noise"].iloc[0] == nt]
        setting = settings[len(settings) // 2]
        levels.append(setting)
        sub = ok[(ok["setting"] == setting) & (ok["repetition"] == 0)]
        for image in sorted(set(map(tuple, sub[IMAGE_KEYS].to_numpy())))[:images_per_type]:
            rows = sub[(sub["dataset"] == image[0]) & (sub["image_id"] == image[1])
                       & sub["denoiser"].isin([NOISY, *names])]
            panels.append(cached_panel(run_dir, cells, config, plan, rows))
    counts = sorted({sum(p.setting == s for p in panels) for s in levels})
    return panels, levels, "/".join(map(str, counts))


def visual_grid(report: Report, path: Path, images_per_type: int | None = None, denoisers: list[str] | None = None,
                max_columns: int = 7) -> str:
    """Fig. 9: per image (middle level of each noise type) the clean image, the noisy input and each selected
    denoiser's output, wrapped into rows of at most ``max_columns`` tiles; PSNR under each tile; a zoomed inset."""
    plt = _plt()
    names = figure_denoisers(report, denoisers)
    panels, levels, per_type = _visual_panels(report, path.parent.parent, names, images_per_type)
    look = styles(report)
    tiles_n = 2 + len(names)  # clean, noisy, denoisers
    rows_per = math.ceil(tiles_n / max_columns)
    ncol = math.ceil(tiles_n / rows_per)
    tile_w, gap, head, foot, pad, left = 1.55, 0.05, 0.2, 0.2, 0.28, 0.05
    aspects = [p.clean.shape[0] / p.clean.shape[1] for p in panels]
    heights = [head + tile_w * a + foot for a in aspects]
    total_h = sum(pad + rows_per * h for h in heights)
    total_w = left + ncol * (tile_w + gap)
    fig = plt.figure(figsize=(total_w, total_h))
    mismatch, mags = 0, set()
    y = total_h
    for panel, row_h in zip(panels, heights):
        y -= pad
        fig.text(left / total_w, (y + 0.04) / total_h, f"{panel.image_id} ({panel.dataset}) — {panel.setting}",
                 fontsize=8, fontweight="bold", va="bottom")
        tiles = [("clean", panel.clean, "reference")] + [
            (n, panel.images.get(n),
             f"PSNR {panel.psnr[n]:.2f} dB" if n in panel.psnr else panel.errors.get(n, "no ok cell here")[:40])
            for n in [NOISY, *names]]
        y0, x0, s = zoom_box(panel.clean)
        for k, (name, img, label) in enumerate(tiles):
            r, c = divmod(k, ncol)
            bottom = y - (r + 1) * row_h + foot
            ax = fig.add_axes([(left + c * (tile_w + gap)) / total_w, bottom / total_h,
                               tile_w / total_w, (row_h - head - foot) / total_h])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name, fontsize=7.5, pad=2)
            edge = "black" if name == "clean" else look.get(name, {}).get("color", "black")
            for spine in ax.spines.values():
                spine.set_edgecolor(edge)
                spine.set_linewidth(0.6 if name == "clean" else 1.8)
            if img is None:
                ax.text(0.5, 0.5, "n/a", ha="center", va="center", fontsize=8)
                ax.set_xlabel(label, fontsize=6)
                continue
            kw = {"cmap": "gray", "vmin": 0, "vmax": 1} if img.ndim == 2 else {}
            ax.imshow(np.clip(img, 0, 1), interpolation="nearest", **kw)
            ax.set_xlabel(label, fontsize=7, labelpad=2)
            ins = ax.inset_axes([1 - INSET, 0, INSET, INSET])
            ins.imshow(np.clip(img[y0:y0 + s, x0:x0 + s], 0, 1), interpolation="nearest", **kw)
            ins.set_xticks([])
            ins.set_yticks([])
            for spine in ins.spines.values():
                spine.set_edgecolor("yellow")
                spine.set_linewidth(1.0)
            ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), s, s, fill=False, edgecolor="yellow", linewidth=0.9))
            mags.add(round(INSET * min(img.shape[:2]) / s, 1))
            stored = panel.stored_psnr.get(name)
            if name in panel.psnr and stored is not None and abs(stored - panel.psnr[name]) > 1e-3:
                mismatch += 1
        y -= rows_per * row_h
    _save(fig, path)
    chosen = "every denoiser of the run" if len(names) == len(figure_denoisers(report, None)) else \
        f"the denoisers chosen with --figure-denoisers ({', '.join(names)})"
    note = "" if not mismatch else f"; {mismatch} tile(s) differ from the stored PSNR (non-deterministic denoiser)"
    mag = "/".join(f"{m:g}" for m in sorted(mags)) or "n/a"
    return (f"Visual comparison (paper Fig. 9): the clean image, the noisy input and the output of {chosen} "
            f"({len(names)}), for {per_type} image(s) per noise type at its middle level ({', '.join(levels)}), "
            "repetition 0, re-created once from the stored seeds and parameters and cached in figures/cache/; "
            f"PSNR of each tile against the clean image below it; inset (lower right): the yellow box, the clean "
            f"image's most textured region, magnified {mag}×; tile frames in each denoiser's figure colour{note}")


def _legend(source, target, ncol: int = 1):
    """The legend of ``source``'s artists just right of the axes ``target`` (outside the data)."""
    handles, labels = source.get_legend_handles_labels()
    target.legend(handles, labels, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7, frameon=False,
                  ncol=ncol, title="denoiser", title_fontsize=7, borderaxespad=0)


def improvement_bars(report: Report, path: Path, metric: str = "psnr") -> str:
    """Fig. 10: mean % improvement over the noisy input per noise type and denoiser, 95 % CI whiskers (images)."""
    from denoisebench.reporting.tables import improvements

    cells, plan = report.context["cells"], report.context["plan"]
    higher = metricmeta.higher_is_better(report.context.get("metrics") or {}, metric)
    pairs = improvements(cells, metric, higher)
    names = [n for n in denoiser_order(ok_cells(cells), plan) if n != NOISY]
    types = noise_type_order(cells, plan)
    look = styles(report)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(min(10.0, max(4.5, 0.16 * len(types) * max(1, len(names)) + 1.5)), 3.0))
    width = 0.8 / max(1, len(names))
    for k, name in enumerate(names):
        means, errs = [], [[], []]
        for nt in types:
            per_image = pairs[(pairs["denoiser"] == name) & (pairs["noise"] == nt)].groupby(IMAGE_KEYS)["percent"].mean()
            m, lo, hi = stats.mean_ci(per_image)
            means.append(m)
            errs[0].append(m - lo if np.isfinite(lo) else 0)
            errs[1].append(hi - m if np.isfinite(hi) else 0)
        x = np.arange(len(types)) + (k - (len(names) - 1) / 2) * width
        st = look.get(name, {})
        ax.bar(x, means, width, yerr=errs, capsize=1.5, label=name, color=st.get("color"), hatch=st.get("hatch"),
               edgecolor="black", linewidth=0.4, error_kw={"elinewidth": 0.6})
    ax.set_xticks(np.arange(len(types)), types, fontsize=8)
    ax.set_xlabel("noise type", fontsize=8)
    label = _meta_label(report, metric, unit=False)
    ax.set_ylabel(f"{label} improvement over noisy input (%)", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.grid(axis="y", linewidth=0.3, alpha=0.6)
    ax.set_axisbelow(True)
    ax.set_xlim(-0.5, len(types) - 0.5)
    _legend(ax, ax, ncol=2 if len(names) > 14 else 1)
    _save(fig, path)
    return (f"% {label} improvement over the noisy input per noise type (paper Fig. 10): per image the mean over "
            "the type's levels of (after − before)/|before| × 100"
            f"{'' if higher else ' (sign flipped: lower is better)'}; bars = mean over images, whiskers = 95 % t "
            "CI over images; colours and hatches identify the denoiser (legend right)")


def confusion_heatmaps(report: Report, path: Path) -> str:
    cells, plan = report.context["cells"], report.context["plan"]
    ok = ok_cells(cells)
    names = denoiser_order(ok, plan)
    look = styles(report)
    plt = _plt()
    ncol = min(len(names), 5)
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.75 * ncol + 0.8, 1.9 * nrow), squeeze=False)
    im = None
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.axis("off")
            continue
        name = names[k]
        c = ok[ok["denoiser"] == name][list(COUNTS)].sum()
        m = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]], dtype=float)
        rates = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(rates):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 else "black")
        ax.set_title(name, fontsize=8, color="black")
        for spine in ax.spines.values():
            spine.set_edgecolor(look.get(name, {}).get("color", "black"))
            spine.set_linewidth(2)
        ax.set_xticks([0, 1], ["0", "1"], fontsize=7)
        ax.set_yticks([0, 1], ["0", "1"], fontsize=7)
        if k // ncol == nrow - 1 or k + ncol >= len(names):
            ax.set_xlabel("predicted (output > t)", fontsize=7)
        if k % ncol == 0:
            ax.set_ylabel("true (clean > t)", fontsize=7)
    if im is not None:
        bar = fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02)
        bar.set_label("row-normalised rate", fontsize=7)
        bar.ax.tick_params(labelsize=6)
    _save(fig, path)
    rule = report.context.get("conventions", {}).get("metrics", {}).get("accuracy", "")
    fixed = rule.split("options: threshold=")[-1] if "options: threshold=" in rule else ""
    return ("Pooled confusion matrices (paper Figs. 6/8), row-normalised (rows: true class, columns: predicted): "
            "thresholded output vs thresholded clean image "
            f"({'threshold ' + fixed if fixed else 't = Otsu threshold of the clean image'}), all images and noise "
            "settings; frame colour = the denoiser's figure colour")


def correlation_heatmap(report: Report, path: Path) -> str:
    table = report.table("correlation")
    cm = table.data.set_index("metric")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(0.5 * len(cm) + 1.6, 0.5 * len(cm) + 1))
    im = ax.imshow(cm.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(cm)), cm.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(cm)), cm.index, fontsize=7)
    ax.set_xlabel("metric", fontsize=8)
    ax.set_ylabel("metric", fontsize=8)
    for (i, j), v in np.ndenumerate(cm.to_numpy(dtype=float)):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if abs(v) > 0.7 else "black")
    bar = fig.colorbar(im, ax=ax, fraction=0.046)
    bar.set_label("Pearson r", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    _save(fig, path)
    return "Metric correlation matrix across denoised cells (paper Fig. 7), Pearson r (colour scale −1 to 1)"


def psnr_curves(report: Report, path: Path, metric: str = "psnr") -> str:
    cells, plan = report.context["cells"], report.context["plan"]
    ok = ok_cells(cells)
    names = denoiser_order(ok, plan)
    types = noise_type_order(ok, plan)
    look = styles(report)
    grid = ok.groupby(["setting", "denoiser"])[metric].mean()
    plt = _plt()
    fig, axes = plt.subplots(1, len(types), figsize=(2.5 * len(types) + 0.4, 2.6), squeeze=False)
    label = _meta_label(report, metric)
    for ax, nt in zip(axes[0], types):
        settings = [s for s in setting_order(ok, plan) if s.split(" ", 1)[0] == nt]
        for name in names:
            st = look.get(name, {})
            ax.plot(range(len(settings)), [grid.get((s, name), np.nan) for s in settings], label=name,
                    color=st.get("color"), marker=st.get("marker"), linestyle=st.get("linestyle"),
                    markersize=4, linewidth=1.1, markerfacecolor="none" if name == NOISY else st.get("color"))
        ax.set_xticks(range(len(settings)), [s.split(" ", 1)[1] if " " in s else s for s in settings], fontsize=7)
        ax.set_xlim(-0.3, len(settings) - 0.7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(nt, fontsize=9)
        ax.set_xlabel(f"{nt} noise level", fontsize=7)
        ax.grid(linewidth=0.3, alpha=0.6)
    axes[0][0].set_ylabel(f"mean {label}", fontsize=8)
    fig.tight_layout()
    _legend(axes[0][0], axes[0][-1], ncol=2 if len(names) > 14 else 1)
    _save(fig, path)
    return (f"Mean {_meta_label(report, metric, unit=False)} vs noise level per noise type and denoiser (mean over "
            "images and repetitions); the noisy input grey and dotted; one colour, marker and line style per "
            "denoiser (legend right)")


def make_figures(report: Report, run_dir: str | Path, *, denoisers: list[str] | None = None) -> list[Figure]:
    """Write every figure the run's data allows; failures are added to ``report.failures``. ``denoisers``: the
    visual grid's selection (default every denoiser of the run)."""
    cells = report.context.get("cells")
    if cells is None or not len(ok_cells(cells)):
        return []
    jobs = []
    if has_metric(cells, "psnr"):
        jobs += [("visual", lambda r, p: visual_grid(r, p, denoisers=denoisers)), ("improvement", improvement_bars),
                 ("psnr_curves", psnr_curves)]
    if all(has_metric(cells, k) for k in COUNTS):
        jobs.append(("confusion", confusion_heatmaps))
    if any(t.key == "correlation" for t in report.tables):
        jobs.append(("correlation", correlation_heatmap))
    figures = []
    for key, func in jobs:
        rel = f"{FIG_DIR}/{key}.png"
        try:
            caption = func(report, Path(run_dir) / rel)
        except ConfigError:
            raise
        except Exception as exc:
            report.failures.append(f"figure {key} not written: {type(exc).__name__}: {exc}")
            continue
        figures.append(Figure(key, caption, rel))
    return figures
