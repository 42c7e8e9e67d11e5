"""Figures (PNG, matplotlib Agg, imported lazily): the paper's Fig. 9 visual grid, Fig. 10 improvement bars,
Fig. 6/8 confusion matrices, Fig. 7 metric correlations, and PSNR vs noise level curves.

Each figure is made independently; one that fails is reported in the report's failures, never stops the others.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from denoisebench import stats
from denoisebench.config import NOISY
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
DPI = 110


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata={"Software": None}, bbox_inches="tight")
    _plt().close(fig)


def visual_grid(report: Report, path: Path, images_per_type: int | None = None, max_denoisers: int = 6) -> str:
    """Fig. 9: clean / noisy / outputs for a few images per noise type (middle level), zoomed inset, PSNR."""
    from mpl_toolkits.axes_grid1.inset_locator import inset_axes

    from denoisebench.reporting.regenerate import regenerate

    cells, plan, config = report.context["cells"], report.context["plan"], report.context["config"]
    ok = ok_cells(cells)
    names = denoiser_order(ok, plan)[: max_denoisers + 1]
    types = noise_type_order(ok, plan)
    if images_per_type is None:  # at most 6 rows: a few images per noise type, fast to regenerate and draw
        images_per_type = min(3, max(1, 6 // max(1, len(types))))
    panels = []
    for nt in types:
        settings = [s for s in setting_order(ok, plan) if ok.loc[ok["setting"] == s, "noise"].iloc[0] == nt]
        setting = settings[len(settings) // 2]
        sub = ok[(ok["setting"] == setting) & (ok["repetition"] == 0)]
        for image in sorted(set(map(tuple, sub[IMAGE_KEYS].to_numpy())))[:images_per_type]:
            rows = sub[(sub["dataset"] == image[0]) & (sub["image_id"] == image[1]) & sub["denoiser"].isin(names)]
            panels.append(regenerate(cells, config, plan, rows))
    plt = _plt()
    ncol = 1 + len(names)
    fig, axes = plt.subplots(len(panels), ncol, figsize=(1.9 * ncol, 2.15 * len(panels)), squeeze=False)
    mismatch = 0
    for r, panel in enumerate(panels):
        tiles = [("clean", panel.clean, "")] + [
            (n, panel.images.get(n), f"{panel.psnr[n]:.2f} dB" if n in panel.images else panel.errors.get(n, "n/a"))
            for n in names]
        for c, (name, img, label) in enumerate(tiles):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{panel.image_id}\n{panel.setting}", fontsize=7)
            if img is None:
                ax.text(0.5, 0.5, "n/a", ha="center", va="center")
                continue
            kw = {"cmap": "gray", "vmin": 0, "vmax": 1} if img.ndim == 2 else {}
            ax.imshow(np.clip(img, 0, 1), interpolation="nearest", **kw)
            ax.set_xlabel(label, fontsize=7)
            h, w = img.shape[:2]
            y0, x0, s = h // 2 - h // 10, w // 2 - w // 10, max(8, min(h, w) // 5)
            ins = inset_axes(ax, width="38%", height="38%", loc="lower right", borderpad=0.2)
            ins.imshow(np.clip(img[y0:y0 + s, x0:x0 + s], 0, 1), interpolation="nearest", **kw)
            ins.set_xticks([])
            ins.set_yticks([])
            for spine in ins.spines.values():
                spine.set_edgecolor("yellow")
            ax.add_patch(plt.Rectangle((x0, y0), s, s, fill=False, edgecolor="yellow", linewidth=0.8))
            stored = panel.stored_psnr.get(name)
            if name in panel.psnr and stored is not None and abs(stored - panel.psnr[name]) > 1e-3:
                mismatch += 1
    _save(fig, path)
    note = "" if not mismatch else f" ({mismatch} tile(s) differ from the stored PSNR: non-deterministic denoiser)"
    return ("Visual comparison (paper Fig. 9): clean, noisy and each output for the middle level of every noise "
            f"type, re-created from the stored seeds; PSNR under each tile; inset = yellow box zoomed{note}")


def improvement_bars(report: Report, path: Path, metric: str = "psnr") -> str:
    """Fig. 10: mean % improvement over the noisy input per noise type and denoiser, 95 % CI whiskers (images)."""
    from denoisebench.reporting.tables import improvements

    cells, plan = report.context["cells"], report.context["plan"]
    pairs = improvements(cells, metric)
    names = [n for n in denoiser_order(ok_cells(cells), plan) if n != NOISY]
    types = noise_type_order(cells, plan)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(types) * max(1, len(names)) / 3), 3.6))
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
        ax.bar(x, means, width, yerr=errs, capsize=2, label=name)
    ax.set_xticks(np.arange(len(types)), types)
    ax.set_ylabel(f"{metric.upper()} improvement (%)")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.legend(fontsize=7, ncol=min(4, len(names)))
    _save(fig, path)
    return (f"% {metric.upper()} improvement over the noisy input per noise type (paper Fig. 10): per image the "
            "mean over the type's levels; bars = mean over images, whiskers = 95 % t CI over images")


def confusion_heatmaps(report: Report, path: Path) -> str:
    cells, plan = report.context["cells"], report.context["plan"]
    ok = ok_cells(cells)
    names = denoiser_order(ok, plan)
    plt = _plt()
    fig, axes = plt.subplots(1, len(names), figsize=(2.1 * len(names), 2.3), squeeze=False)
    for ax, name in zip(axes[0], names):
        c = ok[ok["denoiser"] == name][list(COUNTS)].sum()
        m = np.array([[c["tn"], c["fp"]], [c["fn"], c["tp"]]], dtype=float)
        rates = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
        ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        for (i, j), v in np.ndenumerate(rates):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 else "black")
        ax.set_title(name, fontsize=8)
        ax.set_xticks([0, 1], ["pred 0", "pred 1"], fontsize=7)
        ax.set_yticks([0, 1], ["true 0", "true 1"] if ax is axes[0][0] else ["", ""], fontsize=7)
    _save(fig, path)
    rule = report.context.get("conventions", {}).get("metrics", {}).get("accuracy", "")
    fixed = rule.split("options: threshold=")[-1] if "options: threshold=" in rule else ""
    return ("Pooled confusion matrices (paper Figs. 6/8), row-normalised: thresholded output vs thresholded clean "
            f"image ({'threshold ' + fixed if fixed else 'Otsu threshold of the clean image'}), all images and "
            "noise settings")


def correlation_heatmap(report: Report, path: Path) -> str:
    table = report.table("correlation")
    cm = table.data.set_index("metric")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(0.55 * len(cm) + 1.5, 0.55 * len(cm) + 1))
    im = ax.imshow(cm.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(cm)), cm.columns, rotation=60, fontsize=7)
    ax.set_yticks(range(len(cm)), cm.index, fontsize=7)
    for (i, j), v in np.ndenumerate(cm.to_numpy(dtype=float)):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=ax, fraction=0.046)
    _save(fig, path)
    return "Metric correlation matrix across denoised cells (paper Fig. 7), Pearson r"


def psnr_curves(report: Report, path: Path, metric: str = "psnr") -> str:
    cells, plan = report.context["cells"], report.context["plan"]
    ok = ok_cells(cells)
    names = denoiser_order(ok, plan)
    types = noise_type_order(ok, plan)
    grid = ok.groupby(["setting", "denoiser"])[metric].mean()
    plt = _plt()
    fig, axes = plt.subplots(1, len(types), figsize=(3.0 * len(types), 2.8), squeeze=False)
    for ax, nt in zip(axes[0], types):
        settings = [s for s in setting_order(ok, plan) if s.split(" ", 1)[0] == nt]
        for name in names:
            ax.plot(range(len(settings)), [grid.get((s, name), np.nan) for s in settings], marker="o",
                    linestyle="--" if name == NOISY else "-", label=name)
        ax.set_xticks(range(len(settings)), [s.split(" ", 1)[1] for s in settings], fontsize=7)
        ax.set_title(nt, fontsize=9)
    axes[0][0].set_ylabel(f"mean {metric.upper()}", fontsize=8)
    axes[0][-1].legend(fontsize=6)
    fig.tight_layout()
    _save(fig, path)
    return f"Mean {metric.upper()} vs noise level per noise type and denoiser (dashed: the noisy input)"


def make_figures(report: Report, run_dir: str | Path) -> list[Figure]:
    """Write every figure the run's data allows; failures are added to ``report.failures``."""
    cells = report.context.get("cells")
    if cells is None or not len(ok_cells(cells)):
        return []
    jobs = []
    if has_metric(cells, "psnr"):
        jobs += [("visual", visual_grid), ("improvement", improvement_bars), ("psnr_curves", psnr_curves)]
    if all(has_metric(cells, k) for k in COUNTS):
        jobs.append(("confusion", confusion_heatmaps))
    if any(t.key == "correlation" for t in report.tables):
        jobs.append(("correlation", correlation_heatmap))
    figures = []
    for key, func in jobs:
        rel = f"{FIG_DIR}/{key}.png"
        try:
            caption = func(report, Path(run_dir) / rel)
        except Exception as exc:
            report.failures.append(f"figure {key} not written: {type(exc).__name__}: {exc}")
            continue
        figures.append(Figure(key, caption, rel))
    return figures

