"""Reading a run's cells for reporting: ordering, pairing by image, per-image means, number formats.

Deterministic: every grouping is sorted or follows the stored plan order, so the same store renders the same text.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd

from denoisebench import metricmeta
from denoisebench.config import NOISY
from denoisebench.store import Store

#: identity of one noisy image (the pairing unit within a noise setting)
PAIR_KEYS = ["dataset", "image_id", "noise_key", "repetition"]
#: identity of one image (the unit of analysis across settings)
IMAGE_KEYS = ["dataset", "image_id"]
COUNTS = ("tp", "fp", "tn", "fn")
#: the column of :func:`load_cells` numbering the PAIR_KEYS units
UNIT = "pair_unit"


def setting_label(row) -> str:
    if row["noise_level"]:
        return f"{row['noise']} {row['noise_level']}"
    return row["noise"] if row["noise_params"] in ("", "{}") else f"{row['noise']} {row['noise_params']}"


def load_cells(store: Store) -> pd.DataFrame:
    """The run's cells, one row each, with ``setting`` and ``time`` columns. ``denoiser`` is the *method* a table
    row shows: the registry name, or ``median[size=5]`` when that denoiser ran with more than one parameter set
    within a noise setting (a sweep), so that different values are never averaged together; the registry name
    is kept in ``base_denoiser``; ``pair_unit`` numbers the noisy images (:func:`unit_codes`), so that pairing
    compares integers."""
    cells = store.cells()
    if len(cells):
        level = cells["noise_level"].fillna("").astype(str)
        params = cells["noise_params"].fillna("").astype(str).replace("{}", "")  # a model without parameters
        cells["setting"] = (cells["noise"] + " " + level.where(level != "", params)).str.rstrip()  # = setting_label
        cells["time"] = cells["seconds"]
    if "denoiser" in cells.columns:
        cells["base_denoiser"] = cells["denoiser"]
        if len(cells):
            cells["denoiser"] = method_labels(cells)
    if len(cells):
        cells[UNIT] = unit_codes(cells)
    return cells


def method_labels(cells: pd.DataFrame) -> pd.Series:
    """Per row, ``name`` or — for a denoiser with several parameter sets within one noise setting —
    ``name[key=value,...]`` naming the parameters that vary between those sets (in every setting alike)."""
    labels = cells["denoiser"].copy()
    for name, sub in cells[cells["denoiser"] != NOISY].groupby("denoiser", sort=True):
        groups = [g["params"].unique() for _, g in sub.groupby(["dataset", "noise_key"], sort=True)]
        if max(len(g) for g in groups) < 2:
            continue
        parsed = {text: json.loads(text or "{}") for text in sub["params"].unique()}
        varying = sorted({k for g in groups for k in {k for t in g for k in parsed[t]}
                          if len({json.dumps(parsed[t].get(k), sort_keys=True, default=str) for t in g}) > 1})
        labels.loc[sub.index] = [
            f"{name}[{','.join(f'{k}={_label_value(parsed[t].get(k))}' for k in varying)}]" for t in sub["params"]]
    return labels


def _label_value(value) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "none"}[value]
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _natural_key(text: str) -> tuple:
    """Sort key putting ``median[size=3]`` before ``median[size=11]``."""
    parts = re.split(r"(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)", text)
    return tuple((0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts))


def ok_cells(cells: pd.DataFrame) -> pd.DataFrame:
    if not len(cells):
        return cells
    ok = (cells["status"] == "ok").to_numpy()
    return cells.copy(deep=False) if ok.all() else cells[ok]  # (copy on write: a shallow copy is a copy)


def has_metric(cells: pd.DataFrame, metric: str) -> bool:
    return metric in cells.columns and cells[metric].notna().any()


def run_metrics(cells: pd.DataFrame, meta: dict) -> list[str]:
    """The summary metrics of the run that have values, in table order (see :mod:`denoisebench.metricmeta`)."""
    return [m for m in metricmeta.summary_metrics(meta, meta) if has_metric(cells, m)]


def primary_metric(cells: pd.DataFrame, meta: dict) -> str:
    """The metric rankings use: the first summary metric in table order (PSNR when it ran)."""
    metrics = run_metrics(cells, meta)
    return metrics[0] if metrics else ""


def denoiser_order(cells: pd.DataFrame, plan: dict) -> list[str]:
    present = set(cells["denoiser"].unique())  # unique() first: iterating 10^5 pandas strings costs seconds
    base = cells["base_denoiser"] if "base_denoiser" in cells.columns else cells["denoiser"]
    pairs = dict.fromkeys(zip(cells["denoiser"].tolist(), base.tolist()))  # distinct, in order of appearance
    methods = {}  # registry name -> its method labels (a swept denoiser has several), in parameter order
    for label, name in sorted(pairs, key=lambda lb: _natural_key(lb[0])):
        methods.setdefault(name, []).append(label)
    names = [NOISY] + [m for d in plan.get("denoisers", []) for m in methods.get(d, []) if m in present]
    return names + sorted(present - set(names))


def setting_order(cells: pd.DataFrame, plan: dict) -> list[str]:
    """The settings of ``cells`` in the plan's noise order (matched by noise key: a setting off the standard
    levels is labelled by its parameters, e.g. ``gaussian {"sigma":10.0}``), then any others sorted."""
    present = sorted(set(cells["setting"].unique()))
    setting_of = dict(zip(cells["noise_key"].tolist(), cells["setting"].tolist()))  # tolist: 6x faster than iterating
    order = list(dict.fromkeys(setting_of[k] for k in plan.get("noise", []) if k in setting_of))
    return [s for s in order if s in present] + [s for s in present if s not in order]


def noise_type_order(cells: pd.DataFrame, plan: dict) -> list[str]:
    out: list[str] = []
    models = set(cells["noise"].unique())
    for key in plan.get("noise", []):
        model = key.split("{", 1)[0]
        if model not in out and model in models:
            out.append(model)
    return out + sorted(models - set(out))


def metric_values(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The ok cells that have a value of ``metric`` (what every comparison on it is computed from)."""
    ok = ok_cells(cells)
    if metric not in ok.columns:
        return ok.iloc[0:0]
    valued = ok[metric].notna().to_numpy()
    return ok if valued.all() else ok[valued]


def paired_wide(cells: pd.DataFrame, metric: str, keys: list[str] = PAIR_KEYS,
                among: list[str] | None = None) -> pd.DataFrame:
    """Rows = units (``keys``), columns = denoisers (noisy included), values = ``metric`` (ok cells only).

    With ``keys`` = IMAGE_KEYS the value is the image's mean over the selected cells (settings, repetitions).
    ``among``: denoisers to compare. Only the noisy images (dataset, image, setting, repetition) on which every
    one of them has a value are kept before averaging, so that each column averages the same settings and
    images (a denoiser ``unavailable`` at one sigma is not compared on the others' easier or harder settings).
    """
    return pair_values(metric_values(cells, metric), metric, keys, among)


def pair_values(values: pd.DataFrame, metric: str, keys: list[str] = PAIR_KEYS,
                among: list[str] | None = None) -> pd.DataFrame:
    """:func:`paired_wide` of ``values`` = :func:`metric_values` (for a caller that compares many groups of
    denoisers on the same values and selects them once)."""
    if among is not None and not values.empty:
        values = values[_on_common_units(values, among)]
    if values.empty:
        return pd.DataFrame()
    return values.groupby(keys + ["denoiser"])[metric].mean().unstack("denoiser").sort_index()


def block_means(frame: pd.DataFrame, blocks: list[str], keys: list[str],
                columns: list[str]) -> dict[tuple, dict[str, pd.Series]]:
    """``{block: {column: frame[rows of block].groupby(keys)[column].mean()}}`` for every combination of
    ``blocks`` values (the means of ``frame[rows].groupby(keys)[columns].mean()``, column by column), in a few
    groupby passes instead of one per block, and equal to the per-block results to the last bit.

    pandas (3.x) averages with ``np.add.reduceat`` when a column has no NaN and the rows arrive sorted by group,
    and with a compensated sum otherwise; the two can differ in the last bit. So each column is averaged in two
    passes: the blocks where it would take the first way (rows sorted by block, their order within it kept: still
    sorted by group) and the others (in their order: each unsorted or with a NaN, so the pass is too)."""
    if frame.empty:
        return {}
    block = frame.groupby(blocks).ngroup().to_numpy()
    group = frame.groupby(keys).ngroup().to_numpy()
    by_block = np.argsort(block, kind="stable")
    b, g = block[by_block], group[by_block]
    unsorted = np.zeros(block.max() + 1, dtype=bool)
    unsorted[b[1:][(b[1:] == b[:-1]) & (g[1:] < g[:-1])]] = True
    same_way: dict[bytes, tuple[np.ndarray, list[str]]] = {}  # columns averaged the same way in the same blocks
    for column in columns:
        nan = np.zeros_like(unsorted)
        nan[block[np.isnan(frame[column].to_numpy(dtype=float))]] = True
        reduceat = ~(unsorted | nan)[block]
        same_way.setdefault(reduceat.tobytes(), (reduceat, []))[1].append(column)
    parts = []
    for reduceat, cols in same_way.values():
        fast = frame.iloc[by_block[reduceat[by_block]]].groupby(blocks + keys)[cols].mean()
        slow = frame[~reduceat].groupby(blocks + keys)[cols].mean()
        parts.append(pd.concat([fast, slow]).sort_index() if len(slow) and len(fast) else fast if len(fast) else slow)
    means = pd.concat(parts, axis=1)[columns] if len(parts) > 1 else parts[0]  # sorted by block, then group
    levels = list(range(len(blocks)))
    codes, names = pd.factorize(means.index.droplevel(list(range(len(blocks), means.index.nlevels))))
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    inner = {column: means[column].droplevel(levels) for column in columns}
    return {name if isinstance(name, tuple) else (name,): {column: inner[column].iloc[a:b] for column in columns}
            for name, a, b in zip(names, starts, np.r_[starts[1:], len(codes)])}


def unit_codes(frame: pd.DataFrame) -> np.ndarray:
    """Per row, an integer id of its noisy image (the PAIR_KEYS unit), -1 where a key is missing; the frame's
    ``pair_unit`` column when it has one (:func:`load_cells`' frame and every selection of its rows)."""
    if UNIT in frame.columns:
        return frame[UNIT].to_numpy()
    code = np.zeros(len(frame), dtype=np.int64)
    missing = np.zeros(len(frame), dtype=bool)
    for key in PAIR_KEYS:
        part, uniques = pd.factorize(frame[key])
        missing |= part < 0
        code = pd.factorize(code * (len(uniques) + 1) + part + 1)[0]
    code[missing] = -1
    return code


def _on_common_units(ok: pd.DataFrame, among) -> np.ndarray:
    """Per row of ``ok``: whether it is on a PAIR_KEYS unit (noisy image) where every denoiser of ``among``
    has a row."""
    wanted = list(dict.fromkeys(among))
    if not wanted or ok.empty:
        return np.zeros(len(ok), dtype=bool)
    unit = unit_codes(ok)
    denoiser = ok["denoiser"].to_numpy()
    common = np.ones(max(int(unit.max()), 0) + 1, dtype=bool)
    for name in wanted:
        has = np.zeros_like(common)
        has[unit[(denoiser == name) & (unit >= 0)]] = True
        common &= has
    return (unit >= 0) & common[np.maximum(unit, 0)]


def _units_per_denoiser(ok: pd.DataFrame, unit: np.ndarray) -> dict[str, int]:
    """How many noisy images (PAIR_KEYS units, ids ``unit`` = :func:`unit_codes`) each denoiser of ``ok`` has."""
    return pd.Series(unit).groupby(ok["denoiser"].to_numpy()).nunique().to_dict() if len(ok) else {}


def comparison_basis(cells: pd.DataFrame, metric: str, among: list[str]) -> dict:
    """What a comparison of ``among`` on ``metric`` is computed over: the noisy images (PAIR_KEYS units) and
    noise settings every one of them completed, against those any of them completed. Returns ``units``,
    ``all_units``, ``settings``, ``all_settings`` (setting labels, plan order not implied), ``incomplete`` (the
    denoisers of ``among`` lacking some unit) and ``note``: "" when nothing is left out, else e.g.
    "over 2 of 3 settings" or "over 230 of 240 noisy images"."""
    ok = metric_values(cells, metric)
    ok = ok[ok["denoiser"].isin(list(among))]
    label = "setting" if "setting" in ok.columns else "noise_key"
    unit = unit_codes(ok)
    first = ~pd.Series(unit).duplicated().to_numpy()  # one row per noisy image
    every = ok[first]
    common = every[_on_common_units(ok, among)[first]]
    settings, all_settings = sorted(set(common[label].unique())), sorted(set(every[label].unique()))
    per_den = _units_per_denoiser(ok, unit)
    incomplete = [n for n in dict.fromkeys(among) if per_den.get(n, 0) < len(every)]
    note = ""
    if len(settings) < len(all_settings):
        note = f"over {len(settings)} of {len(all_settings)} settings"
        within = every[every[label].isin(settings)]
        if len(common) < len(within):
            note += f", {len(common)} of {len(within)} noisy images in them"
    elif len(common) < len(every):
        note = f"over {len(common)} of {len(every)} noisy images"
    return {"units": len(common), "all_units": len(every), "settings": settings, "all_settings": all_settings,
            "incomplete": incomplete, "note": note}


def ranking_groups(cells: pd.DataFrame, plan: dict, meta: dict, metric: str) -> list[list[str]]:
    """:func:`ranking` in groups: each group is ranked by its mean per-image ``metric`` over the noisy images
    (settings, images, repetitions) that every member completed. The first group holds every denoiser with a
    value when they share at least one noisy image; otherwise the denoiser covering the fewest is moved to a
    later group (ties: the later name) until they do. Denoisers without any value come last, one group."""
    names = [d for d in denoiser_order(ok_cells(cells), plan) if d != NOISY]
    if not metric or not has_metric(cells, metric):
        return [names] if names else []
    ok = metric_values(cells, metric)
    size = _units_per_denoiser(ok, unit_codes(ok))
    pending = [n for n in names if size.get(n, 0)]
    sign = -1.0 if metricmeta.higher_is_better(meta, metric) else 1.0
    out: list[list[str]] = []
    while pending:
        group = list(pending)
        while len(group) > 1 and not _on_common_units(ok, group).any():
            group.remove(min(sorted(group, reverse=True), key=lambda n: size[n]))
        wide = pair_values(ok, metric, IMAGE_KEYS, among=group)
        means = {n: float(wide[n].mean()) for n in group}
        out.append(sorted(group, key=lambda n: (sign * means[n], n)))
        pending = [n for n in pending if n not in group]
    missing = sorted(n for n in names if not size.get(n, 0))
    return out + ([missing] if missing else [])


def ranking(cells: pd.DataFrame, plan: dict, meta: dict, metric: str) -> list[str]:
    """Denoisers (noisy input excluded) from best to worst mean of per-image ``metric``, compared on the settings
    and images they all completed (see :func:`ranking_groups`; ties by name)."""
    return [n for group in ranking_groups(cells, plan, meta, metric) for n in group]


def choose_denoisers(cells: pd.DataFrame, plan: dict, meta: dict, chosen: str | None = None,
                     reference: str | None = None) -> tuple[str, str, str, str]:
    """Table 2's denoiser and the pairwise reference, computed from the data unless named: chosen = the best
    by mean per-image primary metric, reference = the second best (the best when it is the only one). Returns
    (chosen, why, reference, why); a named denoiser that did not run falls back with the reason."""
    metric = primary_metric(cells, meta)
    order = ranking(cells, plan, meta, metric)
    what = f"mean per-image {metricmeta.label(meta, metric, unit=False)}" if metric else "order of the run"

    def pick(name: str | None, rank: int, flag: str) -> tuple[str, str]:
        if name and name in order:
            return name, f"{name} ({flag} {name})"
        swept = [n for n in order if name and n.startswith(name + "[")]  # a swept denoiser: its best setting
        if swept:
            return swept[0], f"{swept[0]} ({flag} {name}: its best parameter set by {what})"
        fallback = order[min(rank, len(order) - 1)] if order else ""
        nth = "best" if rank == 0 or len(order) == 1 else "second best"
        why = f"{fallback} ({nth} by {what})" if fallback else "no denoiser"
        return fallback, why + (f"; {flag} {name} did not run" if name else "")

    c, why_c = pick(chosen, 0, "--chosen")
    r, why_r = pick(reference, 1, "--reference")
    return c, why_c, r, why_r


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


def best_rows(values: list[float], higher: bool, spec: str, skip: set[int] = frozenset()) -> list[int]:
    """Indices of the best finite values — every one that ties the best *at the printed precision* ``spec``."""
    cand = [(v, i) for i, v in enumerate(values) if i not in skip and v is not None and math.isfinite(v)]
    if not cand:
        return []
    top = (max if higher else min)(cand)[0]
    return [i for v, i in cand if spec.format(v) == spec.format(top)]


#: Δ % is not shown beyond this magnitude: the baseline is near zero and the percentage is noise
PERCENT_LIMIT = 900.0


def fmt_percent(pct: float) -> str:
    """``+12.3%``; ``—`` when undefined or beyond ±:data:`PERCENT_LIMIT` (a near-zero baseline)."""
    if pct is None or not math.isfinite(pct) or abs(pct) > PERCENT_LIMIT:
        return "—"
    return f"{pct:+.1f}%"
