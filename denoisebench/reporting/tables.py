"""Builds the report model from a run's store: header (conventions), Tables 1–4, pairwise, correlations.

Every number is computed here from the stored per-image values; nothing is kept from the run in memory.
Table 1, 2, pairwise and correlation tables live in :mod:`denoisebench.reporting.paper`.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd

from denoisebench import metricmeta, stats
from denoisebench.config import NOISY
from denoisebench.reporting import groups
from denoisebench.reporting.data import (
    IMAGE_KEYS,
    PAIR_KEYS,
    PERCENT_LIMIT,
    best_rows,
    block_means,
    choose_denoisers,
    comparison_basis,
    denoiser_order,
    fmt,
    fmt_ci,
    fmt_mean_std,
    fmt_percent,
    has_metric,
    load_cells,
    metric_values,
    noise_type_order,
    ok_cells,
    paired_wide,
    ranking_groups,
    run_metrics,
    setting_order,
)
from denoisebench.reporting.model import Report, ReportTable
from denoisebench.store import Store

STAT_NOTE = ("unit of analysis = image; tests are paired by image (every method sees the same noisy image); "
             "n/a = fewer than 2 usable paired values or no variance")


def table4(cells: pd.DataFrame, plan: dict, meta: dict, include_timing: bool = True) -> ReportTable:
    ok = ok_cells(cells)
    names_m = run_metrics(ok, meta) + (["time"] if include_timing and has_metric(ok, "time") else [])
    metrics = [(m, metricmeta.label(meta, m), metricmeta.value_format(meta, m), metricmeta.higher_is_better(meta, m))
               for m in names_m]
    names = denoiser_order(ok, plan)
    rows, raw, means = [], [], []
    for name in names:
        sub = ok[ok["denoiser"] == name]
        row, mrow = [name, str(len(sub))], []
        for m, _, spec, _ in metrics:
            if m == "time" and name == NOISY:
                row.append("—")
                mrow.append(math.nan)
                continue
            per_image = sub.groupby(IMAGE_KEYS)[m].mean().dropna()
            mean, lo, hi = stats.bootstrap_ci(per_image)
            sd = sub[m].std(ddof=1) if sub[m].notna().sum() > 1 else math.nan
            row.append(f"{fmt_mean_std(sub[m], spec)} {fmt_ci(lo, hi, spec)}")
            mrow.append(sub[m].mean() if sub[m].notna().any() else math.nan)
            raw.append({"denoiser": name, "metric": m, "cells": int(sub[m].notna().sum()), "mean": mrow[-1],
                        "std": sd, "images": len(per_image), "ci_low": lo, "ci_high": hi})
        rows.append(row)
        means.append(mrow)
    best = set()
    noisy = {i for i, n in enumerate(names) if n == NOISY}
    for j, (_m, _, spec, higher) in enumerate(metrics):
        best |= {(i, j + 2) for i in best_rows([row[j] for row in means], higher, spec, noisy)}
    return ReportTable(
        "table4", "Table 4 — overall comparison (mean ± std over cells [95 % CI over images])",
        ["denoiser", "cells"] + [label for _, label, _, _ in metrics], rows, pd.DataFrame(raw),
        notes=["every metric of the run, in each metric's declared order; best mean per column in bold (noisy "
               "input excluded; direction as each metric declares it; ties at the printed precision all marked); "
               "std over all cells (images × settings); 95 % CI: percentile bootstrap of the mean of per-image "
               "means (unit = image; 4000 resamples, fixed seed), so it stays inside the values' range"
               + ("; time = denoiser wall time per image" if include_timing else "; timings omitted")],
        best=best,
    )


def improvements(cells: pd.DataFrame, metric: str, higher_is_better: bool = True) -> pd.DataFrame:
    """Per image and setting: each denoiser's metric vs the noisy input of the same cell (common random numbers)."""
    ok = ok_cells(cells)
    ok = ok[ok[metric].notna()]
    before = ok[ok["denoiser"] == NOISY][PAIR_KEYS + [metric]].rename(columns={metric: "before"})
    after = ok[ok["denoiser"] != NOISY][PAIR_KEYS + ["noise", "setting", "denoiser", metric]]
    pairs = after.rename(columns={metric: "after"}).merge(before, on=PAIR_KEYS, how="inner")
    pairs["delta"] = pairs["after"] - pairs["before"]
    pairs["percent"] = stats.improvement_percent(pairs["after"], pairs["before"], higher_is_better)
    return pairs.sort_values(PAIR_KEYS + ["denoiser"], kind="mergesort").reset_index(drop=True)


def _test_text(r: stats.Result, stat: str = "{:.2f}") -> str:
    return r.reason if not r.ok else f"{stat.format(r.statistic)} (p={stats.fmt_p(r.p)})"


def table3(cells: pd.DataFrame, plan: dict, meta: dict, metric: str) -> ReportTable:
    higher = metricmeta.higher_is_better(meta, metric)
    pairs = improvements(cells, metric, higher)
    names = [d for d in denoiser_order(ok_cells(cells), plan) if d != NOISY]
    compare = len(names) > 1
    rows, raw = [], []
    unit = f" {meta[metric]['unit']}" if meta.get(metric, {}).get("unit") else ""
    spec = "{:+" + metricmeta.value_format(meta, metric)[2:]
    label = metricmeta.label(meta, metric, unit=False)
    # the unit is the image: repetitions of an image are averaged first
    improved = block_means(pairs, ["setting", "denoiser"], IMAGE_KEYS, ["percent", "delta", "before", "after"])
    # the per-image values the tests across denoisers need (a run of one denoiser has none)
    values = block_means(metric_values(cells, metric), ["setting"], IMAGE_KEYS + ["denoiser"], [metric]) \
        if compare else {}
    for setting in setting_order(cells, plan):
        row = [setting]
        for name in names:
            per_image = improved.get((setting, name))
            if per_image is None:
                row.append("n/a")
                continue
            mean, lo, hi = stats.mean_ci(per_image["percent"])
            delta = per_image["delta"].mean()
            gain = delta * (1 if higher else -1)  # same sign as the %: positive = better
            row.append(f"{fmt_percent(mean)} ({spec.format(gain)}{unit})")
            raw.append({"setting": setting, "denoiser": name, "n": len(per_image["delta"]), "percent_mean": mean,
                        "percent_ci_low": lo, "percent_ci_high": hi, "delta_mean": delta,
                        "before_mean": per_image["before"].mean(), "after_mean": per_image["after"].mean()})
        if compare:  # one denoiser: no test across denoisers (it would be three columns of n/a)
            # = paired_wide(the setting's cells, metric, IMAGE_KEYS)
            wide = values[(setting,)][metric].unstack("denoiser").sort_index() if (setting,) in values else pd.DataFrame()
            cols = [n for n in names if n in wide.columns]
            matrix = wide[cols].to_numpy() if cols else np.empty((0, 0))
            tests = {"anova": stats.oneway_anova([wide[c].dropna() for c in cols]),
                     "rm_anova": stats.rm_anova(matrix) if cols else stats.na("n/a: no denoiser"),
                     "friedman": stats.friedman(matrix) if cols else stats.na("n/a: no denoiser")}
            row += [_test_text(tests["anova"]), _test_text(tests["rm_anova"]), _test_text(tests["friedman"])]
            for test, r in tests.items():
                raw.append({"setting": setting, "denoiser": f"[{test}]", "n": r.n, "statistic": r.statistic,
                            "p": r.p, "df": r.df, "reason": r.reason})
        rows.append(row)
    tests_note = ("Tests across the denoisers' per-image "
                  f"{label}: one-way ANOVA (the paper's; ignores the pairing), repeated-measures ANOVA "
                  "(statsmodels AnovaRM, images = subjects) and Friedman (scipy) respect it; uncorrected p"
                  if compare else "No tests across denoisers: the run has one denoiser")
    return ReportTable(
        f"table3_{metric}", f"Table 3 — {label} improvement over the noisy input, per noise setting",
        ["noise setting"] + names + (["one-way ANOVA F", "RM-ANOVA F", "Friedman χ²"] if compare else []), rows,
        pd.DataFrame(raw),
        notes=[f"improvement % = mean over images of (out − noisy) / |noisy| × 100, positive = better ({label}: "
               f"{'higher' if higher else 'lower'} is better); — where beyond ±{PERCENT_LIMIT:.0f} % (a near-zero "
               f"noisy baseline); in brackets the mean improvement in {label}{unit} (out − noisy, or noisy − out where "
               "lower is better: the same sign as the %). Unit = image: "
               f"repetitions are averaged within an image first, so n = images. {tests_note}", STAT_NOTE],
    )


def per_setting(cells: pd.DataFrame, plan: dict, meta: dict, metric: str) -> ReportTable:
    ok = ok_cells(cells)
    names = denoiser_order(ok, plan)
    settings = setting_order(ok, plan)
    grid = ok.groupby(["setting", "denoiser"])[metric].mean()
    higher = metricmeta.higher_is_better(meta, metric)
    spec = metricmeta.value_format(meta, metric)
    rows, best = [], set()
    for i, setting in enumerate(settings):
        vals = [grid.get((setting, n), np.nan) for n in names]
        rows.append([setting] + [fmt(v, spec) for v in vals])
        best |= {(i, j + 1) for j in best_rows(vals, higher, spec, {j for j, n in enumerate(names) if n == NOISY})}
    raw = grid.reset_index().rename(columns={metric: f"{metric}_mean"})
    return ReportTable(f"mean_{metric}", f"Mean {metricmeta.label(meta, metric)} per noise setting",
                       ["noise setting"] + names, rows, raw, best=best,
                       notes=[f"best denoiser per setting in bold ({'higher' if higher else 'lower'} is better)"
                              + (f"; {meta[metric]['convention']}" if meta.get(metric, {}).get("convention") else "")])


def header_lines(store: Store, cells: pd.DataFrame, notes: list[str]) -> list[str]:
    config = store.get_meta("config", {})
    conv = store.get_meta("conventions", {})
    prov = (store.get_meta("provenance") or [{}])[-1]
    n_bad = int((cells["status"] != "ok").sum()) if len(cells) else 0
    lines = [
        f"datasets: {', '.join(config.get('datasets', []))}; images: "
        f"{cells[IMAGE_KEYS].drop_duplicates().shape[0] if len(cells) else 0}; seed: {config.get('seed')}; "
        f"repetitions: {config.get('repetitions')}; cells: {len(cells)}, failed or not ok: {n_bad}",
        f"denoisebench {prov.get('denoisebench', '?')}, Python {prov.get('python', '?')}, {prov.get('platform', '?')}",
        f"unit of analysis: {conv.get('unit', 'image')}; {conv.get('aggregation', '')}",
        "pairing: every denoiser sees the same noisy image (common random numbers), so tests are paired by image; "
        "across noise settings an image's values are averaged first",
        "correction: Holm (statsmodels multipletests) over each table's family of tests where stated; other "
        "p-values uncorrected",
        *([f"protocol: {conv['protocol']}"] if conv.get("protocol") else []),
        f"noise: {conv.get('clip', '')}; {conv.get('seeding', '')}",
        f"outputs: {conv.get('outputs', '')}",
        *notes,
    ]
    if "accuracy" in conv.get("metrics", {}):
        lines.append(f"threshold rule (Table 1): {conv['metrics']['accuracy']}")
    lines += parameter_lines(cells)
    for name, text in sorted(conv.get("noise", {}).items()):
        lines.append(f"noise {name}: {text}")
    by_text: dict[str, list[str]] = {}
    for name, text in sorted(conv.get("metrics", {}).items()):
        by_text.setdefault(text or "not stated by its plugin (the Metric's `convention`)", []).append(name)
    for text, names in sorted(by_text.items(), key=lambda kv: kv[1]):
        lines.append(f"metric{'s' if len(names) > 1 else ''} {', '.join(names)}: {text}")
    return lines


def parameter_lines(cells: pd.DataFrame) -> list[str]:
    """One line per denoiser: the parameters it ran with, and in which noise settings (sorted, deterministic)."""
    if not len(cells):
        return []
    out = []
    for name, sub in cells[cells["denoiser"] != NOISY].groupby("denoiser", sort=True):
        used = sub.groupby("params", sort=True)["setting"].agg(lambda s: ", ".join(sorted(set(s.unique()))))
        out.append(f"denoiser {name} parameters: " + "; ".join(
            f"{', '.join(f'{k}={v}' for k, v in json.loads(p or '{}').items()) or '(none)'} ({where})"
            for p, where in used.items()))
    return out


def failure_lines(cells: pd.DataFrame) -> list[str]:
    bad = cells[cells["status"] != "ok"] if len(cells) else cells
    out = [f"{r.status}: {r.denoiser} on {r.dataset}/{r.image_id}, {r.setting}: {r.error}" for r in bad.itertuples()]
    if len(cells):
        for r in cells[cells["metric_errors"].fillna("{}") != "{}"].drop_duplicates("denoiser").itertuples():
            for metric, err in sorted(json.loads(r.metric_errors).items()):
                out.append(f"metric {metric} missing ({r.denoiser}, and possibly other cells): {err}")
    return out


#: metrics (in declared order) whose Table 3 and per-setting table the terminal shows; the others are in the files
PRIMARY = 2


def summary_lines(cells: pd.DataFrame, plan: dict, meta: dict, alpha: float = 0.05) -> list[str]:
    """One line per noise type and primary metric (the first two summary metrics: PSNR and SSIM when they ran):
    the best denoiser by mean per-image value, its margin over the runner-up and whether a paired t-test on the
    images finds it significant at ``alpha`` (marked ``*``); then the count of cells that are not ok.

    Denoisers are ranked on the noisy images (settings, images) that all of them completed, and the best and the
    runner-up are compared on those both completed; a line says when either leaves settings or images out
    (e.g. a DnCNN-S without a sigma-15 network: "over 2 of 3 settings")."""
    out = []
    metrics = run_metrics(cells, meta)[:2]
    for nt in noise_type_order(cells, plan):
        sub = cells[cells["noise"] == nt]
        for m in metrics:
            groups_ = ranking_groups(sub, plan, meta, m)
            valued = set(sub.loc[sub[m].notna(), "denoiser"].unique()) if m in sub.columns else set()
            names = [n for n in (groups_[0] if groups_ else []) if n in valued]
            if not names:
                continue
            spec, unit = metricmeta.value_format(meta, m), meta.get(m, {}).get("unit", "")
            unit = f" {unit}" if unit else ""
            best = names[0]
            pair = names[:2]
            wide = paired_wide(sub, m, IMAGE_KEYS, among=pair)
            text = f"{nt} {metricmeta.label(meta, m, unit=False)}: {best} {spec.format(wide[best].mean())}{unit}"
            if len(pair) > 1:
                second = pair[1]
                diff = (wide[best].mean() - wide[second].mean()) * (1 if metricmeta.higher_is_better(meta, m) else -1)
                t = stats.paired_t(wide[best], wide[second])
                verdict = f"p={stats.fmt_p(t.p)}{' *' if t.p < alpha else ''}, n={t.n}" if t.ok else t.reason
                pair_note = comparison_basis(sub, m, pair)["note"]
                text += (f", {'+' if diff >= 0 else '-'}{spec.format(abs(diff))} over {second} ({verdict}"
                         f"{'; ' + pair_note + ' both completed' if pair_note else ''})")
            basis = comparison_basis(sub, m, names) if len(names) > 2 else {"note": ""}
            if basis["note"]:
                text += (f"; ranked {basis['note']} all {len(names)} completed "
                         f"(incomplete: {', '.join(basis['incomplete'])})")
            later = [n for g in groups_[1:] for n in g if n in valued]
            if later:
                text += f"; not ranked with them (no noisy image in common): {', '.join(later)}"
            out.append(text)
    bad = int((cells["status"] != "ok").sum()) if len(cells) else 0
    out.append(f"cells not ok: {bad} of {len(cells)}" + (" (listed in report.md)" if bad else ""))
    return out


def run_metric_meta(store: Store, cells: pd.DataFrame) -> tuple[dict, str]:
    """The run's stored metric metadata; for a run made before it was stored, the installed plugins' (with a
    one-line note saying so)."""
    stored = store.get_meta("metrics")
    names = [c for c in store.get_meta("plan", {}).get("metrics", [])]
    if stored is not None and all(n in stored for n in names):
        return stored, ""
    from denoisebench.pluginmanager import make_plugins

    disabled = set(store.get_meta("config", {}).get("disable_plugins", []))
    return metricmeta.resolve(stored, names, make_plugins(disable=disabled).metrics)


def build_report(store: Store, title: str | None = None, *, include_timing: bool = True,
                 reference: str | None = None, chosen: str | None = None, holm_family: str = "setting") -> Report:
    """The report of a run, from its store. ``chosen``: Table 2's denoiser; ``reference``: the pairwise
    comparison's reference. Unless named, both are computed from the data (chosen = best by the primary metric,
    reference = the second best) and the header says which and why. ``holm_family``: the pairwise table's Holm
    families, "setting" (each noise setting) or "table" (the whole table)."""
    from denoisebench.reporting import paper

    cells = load_cells(store)
    plan = store.get_meta("plan", {})
    meta, meta_note = run_metric_meta(store, cells)
    report = Report(title or f"denoisebench report — {store.run_dir.name}", include_timing=include_timing)
    report.context = {"cells": cells, "plan": plan, "config": store.get_meta("config", {}),
                      "conventions": store.get_meta("conventions", {}), "metrics": meta}
    report.failures = failure_lines(cells)
    notes: list[str] = [meta_note] if meta_note else []
    if len(cells) and (cells["status"] == "ok").any():
        metrics = run_metrics(cells, meta)
        chosen, why_chosen, reference, why_ref = choose_denoisers(cells, plan, meta, chosen, reference)
        rule = store.get_meta("conventions", {}).get("metrics", {}).get("accuracy")
        t1 = paper.table1(cells, plan, threshold_rule=rule) if rule else paper.table1(cells, plan)
        if t1 is not None:
            report.tables += [t1, paper.confusion_table(cells, plan)]
        if metrics and chosen:
            notes.append(f"Table 2 denoiser: {why_chosen}")
            report.tables.append(paper.table2(cells, plan, meta, chosen, why_chosen))
        report.tables += [replace(table3(cells, plan, meta, m), terminal=i < PRIMARY) for i, m in enumerate(metrics)]
        report.tables.append(table4(cells, plan, meta, include_timing))
        pairwise = paper.pairwise(cells, plan, meta, reference, why_ref, metrics[0], holm_family) \
            if metrics and reference else None
        if pairwise is not None and pairwise.rows:  # a run of one denoiser has nothing to pair with it
            notes.append(f"pairwise reference denoiser: {why_ref}")
            report.tables.append(pairwise)
        corr = paper.correlation_table(cells, metrics)
        if corr is not None:
            report.tables.append(corr)
        report.tables += [replace(per_setting(cells, plan, meta, m), terminal=i < PRIMARY)
                          for i, m in enumerate(metrics)]
        if metrics:
            from denoisebench.reporting import perimage

            report.tables += [t for t in (perimage.outliers(cells, plan, meta, metrics[0]),
                                          perimage.per_image_table(cells, plan, meta, metrics[0])) if t is not None]
    groups.extend(report, store, cells, plan, meta, notes)  # paired datasets' notes; breakdowns by image group
    report.header = header_lines(store, cells, notes)
    if len(cells):
        report.summary = summary_lines(cells, plan, meta)
    return report
