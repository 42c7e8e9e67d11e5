"""Breakdown tables by the groups a dataset declares for its image ids (e.g. PolyU's camera and ISO), and the
header lines about paired (real-noise) datasets.

Generic: a dataset's :meth:`~denoisebench.interfaces.Dataset.groups` labels are stored with the run (meta
``image_groups``: dataset label -> image id -> {group: value}); every declared group gets one table per primary
metric (the first two summary metrics), rows = noise setting × group value, columns = the noisy input and each
denoiser. Values are means over the group's images of per-image means (repetitions averaged first).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from denoisebench import metricmeta
from denoisebench.config import NOISY
from denoisebench.reporting.data import (
    IMAGE_KEYS,
    best_rows,
    denoiser_order,
    fmt,
    has_metric,
    ok_cells,
    run_metrics,
    setting_order,
)
from denoisebench.reporting.model import ReportTable

#: the per-row value a captured-noise task stores: the noise level non-blind denoisers were told
SIGMA = metricmeta.NOISE_SIGMA["name"]


def paired_notes(store, cells: pd.DataFrame, plan: dict) -> list[str]:
    """One header line per paired dataset: what ``real`` means there, and that synthetic settings on it are
    applied to its references; the estimated noise level non-blind denoisers got."""
    labels = plan.get("noise_labels", {})
    out = []
    for ds in plan.get("paired", []):
        keys = plan.get("settings", {}).get(ds, [])
        sub = cells[cells["dataset"] == ds] if len(cells) else cells
        captured = [labels.get(k, k) for k in keys if k in plan.get("captured", [])]
        synthetic = [labels.get(k, k) for k in keys if k not in plan.get("captured", [])]
        text = (f"{ds}: paired dataset (real noisy captures and their references); setting "
                f"{', '.join(captured) or 'real'} = the stored capture, the same input for every denoiser")
        if synthetic:
            text += (f"; synthetic settings on {ds} ({', '.join(synthetic)}) are applied to its reference images, "
                     "not to the captures")
        if SIGMA in sub.columns and sub[SIGMA].notna().any():
            per_image = sub.groupby(IMAGE_KEYS)[SIGMA].mean().dropna()
            text += (f"; non-blind denoisers got the noise level estimated from each capture (σ est., 0-255 units; "
                     f"mean {per_image.mean():.2f}, range {per_image.min():.2f}–{per_image.max():.2f}; stored per "
                     f"row as {SIGMA})")
        out.append(text)
        files = (store.get_meta("dataset_files") or {}).get(ds)
        if files:
            out.append(f"{ds}: {len(files)} source files, sha256 of each recorded with the run (meta dataset_files)")
    return out


def breakdown_tables(store, cells: pd.DataFrame, plan: dict, meta: dict) -> list[ReportTable]:
    """One table per (dataset, declared group, primary metric)."""
    groups = store.get_meta("image_groups") or {}
    ok = ok_cells(cells)
    if not groups or not len(ok):
        return []
    metrics = run_metrics(ok, meta)[:2]
    out = []
    for ds, by_image in groups.items():
        sub = ok[ok["dataset"] == ds]
        if sub.empty:
            continue
        keys = list(dict.fromkeys(k for g in by_image.values() for k in g))
        for key in keys:
            values = sub["image_id"].map({i: g.get(key, "—") for i, g in by_image.items()}).fillna("—")
            for m in metrics:
                table = _table(sub.assign(group=values), plan, meta, ds, key, m)
                if table is not None:
                    out.append(table)
    return out


def natural_sort(text: str) -> list:
    """Sort key: ISO 800 before 3200."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", str(text))]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _table(sub: pd.DataFrame, plan: dict, meta: dict, ds: str, key: str, metric: str) -> ReportTable | None:
    if not has_metric(sub, metric):
        return None
    names = denoiser_order(sub, plan)
    spec, higher = metricmeta.value_format(meta, metric), metricmeta.higher_is_better(meta, metric)
    label = metricmeta.label(meta, metric)
    per_image = sub.groupby(["setting", "group", "image_id", "denoiser"])[metric].mean().reset_index()
    grid = per_image.groupby(["setting", "group", "denoiser"])[metric].mean()
    counts = per_image.groupby(["setting", "group"])["image_id"].nunique()
    with_sigma = SIGMA in sub.columns and sub[SIGMA].notna().any()
    sigma = sub.groupby(["setting", "group", "image_id"])[SIGMA].mean().groupby(["setting", "group"]).mean() \
        if with_sigma else None
    rows, raw, best = [], [], set()
    lead = 3 + int(with_sigma)
    for setting in setting_order(sub, plan):
        present = sorted(set(per_image.loc[per_image["setting"] == setting, "group"]), key=natural_sort)
        for group in present:
            vals = [grid.get((setting, group, n), np.nan) for n in names]
            row = [setting, group, str(int(counts.get((setting, group), 0)))]
            if with_sigma:
                s = sigma.get((setting, group), np.nan)
                row.append(fmt(s, "{:.2f}"))
            best |= {(len(rows), j + lead) for j in best_rows(vals, higher, spec,
                                                                {j for j, n in enumerate(names) if n == NOISY})}
            rows.append(row + [fmt(v, spec) for v in vals])
            raw += [{"dataset": ds, "group": key, "value": group, "setting": setting, "denoiser": n,
                     "metric": metric, "mean": v, "images": int(counts.get((setting, group), 0))}
                    for n, v in zip(names, vals)]
    if not rows:
        return None
    return ReportTable(
        f"groups_{_slug(ds)}_{_slug(key)}_{metric}", f"{ds} by {key} — mean {label} per {key}",
        ["noise setting", key, "images"] + (["σ est."] if with_sigma else []) + names, rows, pd.DataFrame(raw),
        notes=[f"{key} from the image ids (the dataset's groups); mean over the {key}'s images of per-image means "
               f"(repetitions averaged first); best denoiser per row in bold ({'higher' if higher else 'lower'} is "
               "better; noisy input excluded)" + ("; σ est. = mean noise level estimated from the captures (what "
                                                  "non-blind denoisers got)" if with_sigma else "")],
        best=best, keys=2)


def extend(report, store, cells: pd.DataFrame, plan: dict, meta: dict, notes: list[str]) -> None:
    """Add the paired-dataset header lines to ``notes`` and the breakdown tables to ``report``."""
    notes += paired_notes(store, cells, plan)
    report.tables += breakdown_tables(store, cells, plan, meta)
