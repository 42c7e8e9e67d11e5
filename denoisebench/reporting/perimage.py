"""The per-image view: every image's value of the primary metric per denoiser, and the outliers a mean hides —
a denoiser worse than its own noisy input, far behind the best denoiser on one image while fine on the mean, or
a metric that does not get worse as the noise gets stronger (a sanity check of the run itself)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from denoisebench import metricmeta
from denoisebench.config import NOISY
from denoisebench.reporting.data import best_rows, denoiser_order, fmt, ok_cells, setting_order
from denoisebench.reporting.model import ReportTable

#: a denoiser's gap to the best on an image is an outlier beyond this robust z-score (median / 1.4826 MAD)
ROBUST_Z = 3.5
#: ... and its excess over the typical gap is at least this share of the setting's spread of values
SPREAD_SHARE = 0.1
#: rows of the outlier table shown in the terminal and Markdown (the CSV has every one)
SHOWN = 30


def per_image_values(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows = (dataset, image, setting), columns = denoisers (noisy first), values = mean over repetitions."""
    ok = ok_cells(cells)
    ok = ok[ok[metric].notna()] if metric in ok.columns else ok.iloc[0:0]
    if ok.empty:
        return pd.DataFrame()
    return ok.groupby(["dataset", "image_id", "setting", "denoiser"])[metric].mean().unstack("denoiser")


def per_image_table(cells: pd.DataFrame, plan: dict, meta: dict, metric: str) -> ReportTable | None:
    wide = per_image_values(cells, metric)
    if wide.empty:
        return None
    names = [n for n in denoiser_order(ok_cells(cells), plan) if n in wide.columns]
    order = {s: i for i, s in enumerate(setting_order(cells, plan))}
    wide = wide.reset_index()
    wide["_order"] = wide["setting"].map(order)
    wide = wide.sort_values(["dataset", "image_id", "_order"], kind="mergesort").drop(columns="_order")
    spec, higher = metricmeta.value_format(meta, metric), metricmeta.higher_is_better(meta, metric)
    rows, best = [], set()
    noisy = {j for j, n in enumerate(names) if n == NOISY}
    table = zip(wide["dataset"].tolist(), wide["image_id"].tolist(), wide["setting"].tolist(),
                wide[names].to_numpy(dtype=float).tolist())
    for i, (dataset, image, setting, values) in enumerate(table):
        rows.append([f"{dataset}/{image}", setting] + [fmt(v, spec) for v in values])
        best |= {(i, j + 2) for j in best_rows(values, higher, spec, noisy)}
    label = metricmeta.label(meta, metric)
    return ReportTable("per_image", f"Per image — {label} of every denoiser on every image and noise setting",
                       ["image", "noise setting"] + names, rows, wide, best=best, keys=2, detail=True,
                       notes=[f"mean over repetitions; best per row in bold ({'higher' if higher else 'lower'} is "
                              "better)"])


def _robust_z(values: pd.Series) -> pd.Series:
    med = values.median()
    mad = 1.4826 * (values - med).abs().median()
    return (values - med) / mad if mad > 0 else pd.Series(0.0, index=values.index)


def outliers(cells: pd.DataFrame, plan: dict, meta: dict, metric: str) -> ReportTable | None:
    wide = per_image_values(cells, metric)
    if wide.empty:
        return None
    higher = metricmeta.higher_is_better(meta, metric)
    sign = 1.0 if higher else -1.0
    spec, label = metricmeta.value_format(meta, metric), metricmeta.label(meta, metric, unit=False)
    unit = f" {meta.get(metric, {}).get('unit')}" if meta.get(metric, {}).get("unit") else ""
    names = [n for n in denoiser_order(ok_cells(cells), plan) if n in wide.columns and n != NOISY]
    recs: list[dict] = []
    values = wide[names].to_numpy(dtype=float)
    noisy = wide[NOISY].to_numpy(dtype=float) if NOISY in wide.columns else np.full(len(wide), math.nan)
    worse = np.isfinite(values) & np.isfinite(noisy)[:, None] & (sign * (values - noisy[:, None]) < 0)
    for i, j in zip(*np.nonzero(worse)):  # row by row, denoisers in order
        (dataset, image, setting), value, base = wide.index[i], values[i, j], noisy[i]
        recs.append({"kind": "worse than the noisy input", "denoiser": names[j], "where": f"{dataset}/{image}, "
                     f"{setting}", "detail": f"{label} {spec.format(value)} vs noisy {spec.format(base)}{unit}",
                     "gap": sign * (base - value)})
    for setting, sub in wide.groupby(level="setting") if names else ():
        values = sub[names].to_numpy(dtype=float)  # rows = the setting's images
        floor = SPREAD_SHARE * (np.nanmax(values) - np.nanmin(values)) if np.isfinite(values).any() else 0.0
        best = (np.fmax if higher else np.fmin).reduce(values, axis=1)  # NaN skipped
        for j, n in enumerate(names):
            gap = sign * (best - values[:, j])
            rows = np.flatnonzero(~np.isnan(gap))
            z = _robust_z(pd.Series(gap[rows])).to_numpy()
            typical = pd.Series(gap[rows]).median()
            for i in np.flatnonzero((z > ROBUST_Z) & (gap[rows] - typical >= floor)):
                (dataset, image, _), g = sub.index[rows[i]], gap[rows[i]]
                winner = names[(np.nanargmax if higher else np.nanargmin)(values[rows[i]])]
                recs.append({"kind": "far behind the best on this image", "denoiser": n,
                             "where": f"{dataset}/{image}, {setting}",
                             "detail": f"{spec.format(g)}{unit} behind {winner} (typical gap "
                                       f"{spec.format(typical)}{unit}, robust z {z[i]:.1f})", "gap": g})
    recs += monotonic_violations(cells, plan, meta, metric)
    if not recs:
        return ReportTable("outliers", f"Outliers ({label}) — none found", ["kind", "denoiser", "where", "detail"],
                           [], pd.DataFrame(columns=["kind", "denoiser", "where", "detail", "gap"]), notes=[RULES])
    frame = pd.DataFrame(recs).sort_values(["kind", "gap"], ascending=[True, False], kind="mergesort")
    rows = [[r.kind, r.denoiser, r.where, r.detail] for r in frame.head(SHOWN).itertuples()]
    more = [f"{len(frame) - SHOWN} more in tables/outliers.csv"] if len(frame) > SHOWN else []
    return ReportTable("outliers", f"Outliers ({label}) — {len(frame)} found", ["kind", "denoiser", "where",
                                                                               "detail"],
                       rows, frame.reset_index(drop=True), keys=2, notes=[RULES, *more])


RULES = ("per image and noise setting, mean over repetitions: a denoiser worse than the noisy input it was given; "
         f"a denoiser whose gap to the best denoiser on an image has a robust z-score above {ROBUST_Z} (median and "
         f"1.4826·MAD of its gaps over the setting's images) and exceeds its typical gap by at least "
         f"{SPREAD_SHARE:.0%} of the setting's range of values; a noise type whose standard levels do not make the "
         "metric monotonically worse for the noisy input or a denoiser (levels in the run's order)")


def monotonic_violations(cells: pd.DataFrame, plan: dict, meta: dict, metric: str) -> list[dict]:
    """Noise types whose levels (in the plan's order, weakest first) do not make the metric monotonically worse."""
    ok = ok_cells(cells)
    if metric not in ok.columns:
        return []
    sign = 1.0 if metricmeta.higher_is_better(meta, metric) else -1.0
    spec = metricmeta.value_format(meta, metric)
    order = setting_order(ok, plan)
    grid = ok.groupby(["noise", "setting", "denoiser"])[metric].mean()
    out, names = [], denoiser_order(ok, plan)
    present = {(a, b) for a, b, _ in grid.index}
    for noise in sorted(set(ok["noise"].unique())):
        settings = [s for s in order if (noise, s) in present]
        if len(settings) < 2:
            continue
        for name in names:
            values = [grid.get((noise, s, name), math.nan) for s in settings]
            for (s0, v0), (s1, v1) in zip(zip(settings, values), zip(settings[1:], values[1:])):
                if np.isfinite(v0) and np.isfinite(v1) and sign * (v1 - v0) > 0:
                    out.append({"kind": "metric not worse at a stronger level", "denoiser": name,
                                "where": f"{s0} → {s1}", "detail": f"{spec.format(v0)} → {spec.format(v1)}",
                                "gap": abs(v1 - v0)})
    return out
