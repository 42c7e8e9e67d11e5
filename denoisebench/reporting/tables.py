"""Builds the report model from a run's store: header (conventions), Table 4, Table 3, per-setting means.

Every number is computed here from the stored per-image values; nothing is kept from the run in memory.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from denoisebench.config import NOISY
from denoisebench.reporting.model import Report, ReportTable
from denoisebench.store import Store

#: metrics shown in Table 4 when present, with display format and direction (True: higher is better)
TABLE4_METRICS = [("psnr", "PSNR (dB)", "{:.2f}", True), ("ssim", "SSIM", "{:.4f}", True),
                  ("mse", "MSE", "{:.5f}", False), ("lpips", "LPIPS", "{:.4f}", False),
                  ("time", "time/image (s)", "{:.4f}", False)]


def setting_label(row) -> str:
    return f"{row['noise']} {row['noise_level']}" if row["noise_level"] else f"{row['noise']} {row['noise_params']}"


def load_cells(store: Store) -> pd.DataFrame:
    cells = store.cells()
    if len(cells):
        cells["setting"] = cells.apply(setting_label, axis=1)
        cells["time"] = cells["seconds"]
    return cells


def denoiser_order(cells: pd.DataFrame, plan: dict) -> list[str]:
    names = [NOISY] + [d for d in plan.get("denoisers", []) if d in set(cells["denoiser"])]
    return names + sorted(set(cells["denoiser"]) - set(names))


def setting_order(cells: pd.DataFrame, plan: dict) -> list[str]:
    labels = plan.get("noise_labels", {})
    order = [labels[k] for k in plan.get("noise", []) if k in labels]
    present = list(dict.fromkeys(cells["setting"]))
    return [s for s in order if s in present] + [s for s in present if s not in order]


def fmt_mean_std(values: pd.Series, fmt: str) -> str:
    values = values.dropna()
    if values.empty:
        return "n/a"
    if len(values) == 1:
        return fmt.format(values.iloc[0])
    return f"{fmt.format(values.mean())} ± {fmt.format(values.std(ddof=1))}"


def table4(cells: pd.DataFrame, plan: dict) -> ReportTable:
    ok = cells[cells["status"] == "ok"]
    metrics = [m for m in TABLE4_METRICS if m[0] in ok.columns and ok[m[0]].notna().any()]
    names = denoiser_order(ok, plan)
    rows, raw, means = [], [], []
    for name in names:
        sub = ok[ok["denoiser"] == name]
        rows.append([name, str(len(sub))]
                    + [fmt_mean_std(sub[m], f) if not (m == "time" and name == NOISY) else "—"
                       for m, _, f, _ in metrics])
        means.append([sub[m].mean() if sub[m].notna().any() else np.nan for m, *_ in metrics])
        for m, *_ in metrics:
            v = sub[m].dropna()
            raw.append({"denoiser": name, "metric": m, "n": len(v), "mean": v.mean() if len(v) else np.nan,
                        "std": v.std(ddof=1) if len(v) > 1 else np.nan})
    best = set()
    for j, (_m, _, _, higher) in enumerate(metrics):
        col = [(means[i][j], i) for i, n in enumerate(names) if n != NOISY and not math.isnan(means[i][j])]
        if col:
            best.add(((max if higher else min)(col)[1], j + 2))
    return ReportTable(
        "table4", "Table 4 — overall comparison (mean ± std over all images and noise settings)",
        ["denoiser", "cells"] + [label for _, label, _, _ in metrics], rows, pd.DataFrame(raw),
        notes=["best value per column in bold (noisy input excluded); time = denoiser wall time per image"],
        best=best,
    )


def improvements(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per image and setting: each denoiser's metric vs the noisy input of the same cell (common random numbers)."""
    ok = cells[(cells["status"] == "ok") & cells[metric].notna()]
    keys = ["dataset", "image_id", "noise_key", "repetition"]
    before = ok[ok["denoiser"] == NOISY][keys + [metric]].rename(columns={metric: "before"})
    after = ok[ok["denoiser"] != NOISY][keys + ["setting", "denoiser", metric]].rename(columns={metric: "after"})
    pairs = after.merge(before, on=keys, how="inner")
    pairs["delta"] = pairs["after"] - pairs["before"]
    pairs["percent"] = pairs["delta"] / pairs["before"] * 100.0
    return pairs


def table3(cells: pd.DataFrame, plan: dict, metric: str = "psnr") -> ReportTable:
    pairs = improvements(cells, metric)
    names = [d for d in denoiser_order(cells, plan) if d != NOISY]
    settings = setting_order(cells, plan)
    rows, raw = [], []
    unit = " dB" if metric == "psnr" else ""
    for setting in settings:
        row = [setting]
        for name in names:
            sub = pairs[(pairs["setting"] == setting) & (pairs["denoiser"] == name)]
            if sub.empty:
                row.append("n/a")
                continue
            row.append(f"{sub['percent'].mean():+.1f}% ({sub['delta'].mean():+.2f}{unit})")
            raw.append({"setting": setting, "denoiser": name, "n": len(sub), "percent_mean": sub["percent"].mean(),
                        "delta_mean": sub["delta"].mean(), "before_mean": sub["before"].mean(),
                        "after_mean": sub["after"].mean()})
    return ReportTable(
        f"table3_{metric}", f"Table 3 — {metric.upper()} improvement over the noisy input, per noise setting",
        ["noise setting"] + names, rows, pd.DataFrame(raw),
        notes=[f"% = mean over images of (out − noisy) / noisy × 100; in brackets the mean {metric.upper()} "
               f"difference{unit}; pairs are the same image with the same noise"],
    )


def per_setting(cells: pd.DataFrame, plan: dict, metric: str, fmt: str) -> ReportTable:
    ok = cells[(cells["status"] == "ok")]
    names = denoiser_order(ok, plan)
    settings = setting_order(ok, plan)
    grid = ok.groupby(["setting", "denoiser"])[metric].mean()
    rows, best = [], set()
    for i, setting in enumerate(settings):
        vals = [grid.get((setting, n), np.nan) for n in names]
        rows.append([setting] + [fmt.format(v) if not math.isnan(v) else "n/a" for v in vals])
        cand = [(v, j) for j, (v, n) in enumerate(zip(vals, names)) if n != NOISY and not math.isnan(v)]
        if cand:
            best.add((i, max(cand)[1] + 1))
    raw = grid.reset_index().rename(columns={metric: f"{metric}_mean"})
    return ReportTable(f"mean_{metric}", f"Mean {metric.upper()} per noise setting", ["noise setting"] + names,
                       rows, raw, notes=["best denoiser per setting in bold"], best=best)


def header_lines(store: Store, cells: pd.DataFrame) -> list[str]:
    config = store.get_meta("config", {})
    conv = store.get_meta("conventions", {})
    prov = (store.get_meta("provenance") or [{}])[-1]
    lines = [
        f"datasets: {', '.join(config.get('datasets', []))}; images: {cells['image_id'].nunique() if len(cells) else 0};"
        f" seed: {config.get('seed')}; repetitions: {config.get('repetitions')}",
        f"denoisebench {prov.get('denoisebench', '?')}, Python {prov.get('python', '?')}, {prov.get('platform', '?')}",
        f"unit of analysis: {conv.get('unit', 'image')}; {conv.get('aggregation', '')}",
        f"noise: {conv.get('clip', '')}; {conv.get('seeding', '')}",
        f"outputs: {conv.get('outputs', '')}",
    ]
    for name, text in sorted(conv.get("noise", {}).items()):
        lines.append(f"noise {name}: {text}")
    for name, text in sorted(conv.get("metrics", {}).items()):
        lines.append(f"metric {name}: {text}")
    return lines


def failure_lines(cells: pd.DataFrame) -> list[str]:
    bad = cells[cells["status"] != "ok"] if len(cells) else cells
    out = [f"{r.status}: {r.denoiser} on {r.dataset}/{r.image_id}, {r.setting}: {r.error}" for r in bad.itertuples()]
    if len(cells):
        for r in cells[cells["metric_errors"].fillna("{}") != "{}"].drop_duplicates("denoiser").itertuples():
            for metric, err in json.loads(r.metric_errors).items():
                out.append(f"metric {metric} missing ({r.denoiser}, and possibly other cells): {err}")
    return out


def build_report(store: Store, title: str | None = None) -> Report:
    cells = load_cells(store)
    plan = store.get_meta("plan", {})
    report = Report(title or f"denoisebench report — {store.run_dir.name}")
    report.header = header_lines(store, cells)
    report.failures = failure_lines(cells)
    if not len(cells) or not (cells["status"] == "ok").any():
        return report
    report.tables.append(table4(cells, plan))
    if "psnr" in cells.columns:
        report.tables.append(table3(cells, plan, "psnr"))
        report.tables.append(per_setting(cells, plan, "psnr", "{:.2f}"))
    if "ssim" in cells.columns:
        report.tables.append(per_setting(cells, plan, "ssim", "{:.4f}"))
    return report
