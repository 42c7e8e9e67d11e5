"""Reading a run's cells for reporting: ordering, pairing by image, per-image means, number formats.

Deterministic: every grouping is sorted or follows the stored plan order, so the same store renders the same text.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from denoisebench.config import NOISY
from denoisebench.stats import LOWER_IS_BETTER
from denoisebench.store import Store

#: identity of one noisy image (the pairing unit within a noise setting)
PAIR_KEYS = ["dataset", "image_id", "noise_key", "repetition"]
#: identity of one image (the unit of analysis across settings)
IMAGE_KEYS = ["dataset", "image_id"]
COUNTS = ("tp", "fp", "tn", "fn")


def setting_label(row) -> str:
    return f"{row['noise']} {row['noise_level']}" if row["noise_level"] else f"{row['noise']} {row['noise_params']}"


def load_cells(store: Store) -> pd.DataFrame:
    cells = store.cells()
    if len(cells):
        cells["setting"] = cells.apply(setting_label, axis=1)
        cells["time"] = cells["seconds"]
    return cells


def ok_cells(cells: pd.DataFrame) -> pd.DataFrame:
    return cells[cells["status"] == "ok"] if len(cells) else cells


def has_metric(cells: pd.DataFrame, metric: str) -> bool:
    return metric in cells.columns and cells[metric].notna().any()


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def denoiser_order(cells: pd.DataFrame, plan: dict) -> list[str]:
    present = set(cells["denoiser"])
    names = [NOISY] + [d for d in plan.get("denoisers", []) if d in present]
    return names + sorted(present - set(names))


def setting_order(cells: pd.DataFrame, plan: dict) -> list[str]:
    labels = plan.get("noise_labels", {})
    order = [labels[k] for k in plan.get("noise", []) if k in labels]
    present = sorted(set(cells["setting"]))
    return [s for s in order if s in present] + [s for s in present if s not in order]


def noise_type_order(cells: pd.DataFrame, plan: dict) -> list[str]:
    out: list[str] = []
    for key in plan.get("noise", []):
        model = key.split("{", 1)[0]
        if model not in out and model in set(cells["noise"]):
            out.append(model)
    return out + sorted(set(cells["noise"]) - set(out))


def paired_wide(cells: pd.DataFrame, metric: str, keys: list[str] = PAIR_KEYS) -> pd.DataFrame:
    """Rows = units (``keys``), columns = denoisers (noisy included), values = ``metric`` (ok cells only).

    With ``keys`` = IMAGE_KEYS the value is the image's mean over the selected cells (settings, repetitions).
    """
    ok = ok_cells(cells)
    ok = ok[ok[metric].notna()] if metric in ok.columns else ok.iloc[0:0]
    if ok.empty:
        return pd.DataFrame()
    return ok.groupby(keys + ["denoiser"])[metric].mean().unstack("denoiser").sort_index()


def reference_denoiser(cells: pd.DataFrame, plan: dict, preferred: str, metric: str = "psnr") -> tuple[str, str]:
    """``preferred`` if it ran, else the best mean ``metric`` among the others; returns (name, why)."""
    names = [d for d in denoiser_order(ok_cells(cells), plan) if d != NOISY]
    if preferred in names:
        return preferred, f"{preferred} (default)"
    if not names:
        return "", "no denoiser"
    if not has_metric(cells, metric):
        return names[0], f"{names[0]} (first denoiser; {preferred} did not run and {metric} is missing)"
    means = ok_cells(cells).groupby("denoiser")[metric].mean()
    best = sorted(names, key=lambda n: (-means.get(n, -np.inf) if higher_is_better(metric) else means.get(n, np.inf),
                                        n))[0]
    return best, f"{best} (best mean {metric.upper()}; {preferred} did not run)"


def fmt(value: float, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return spec.format(value)


def fmt_mean_std(values, spec: str) -> str:
    v = pd.Series(values, dtype=float).dropna()
    if v.empty:
        return "n/a"
    if len(v) == 1:
        return spec.format(v.iloc[0])
    return f"{spec.format(v.mean())} ± {spec.format(v.std(ddof=1))}"


def fmt_ci(lo: float, hi: float, spec: str) -> str:
    return "n/a" if not (math.isfinite(lo) and math.isfinite(hi)) else f"[{spec.format(lo)}, {spec.format(hi)}]"
