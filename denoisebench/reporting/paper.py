"""The paper's Table 1 (thresholded classification) and Table 2 (before/after), the pairwise comparison against a
reference denoiser, and the per-metric correlation matrix. Unit of analysis = image: across noise settings an
image's values are averaged first, so every test has one paired value per image.
"""

from __future__ import annotations

import math

import pandas as pd

from denoisebench import metricmeta, stats
from denoisebench.config import NOISY
from denoisebench.reporting.data import (
    COUNTS,
    IMAGE_KEYS,
    PERCENT_LIMIT,
    best_rows,
    denoiser_order,
    fmt,
    fmt_ci,
    fmt_percent,
    has_metric,
    metric_values,
    noise_type_order,
    ok_cells,
    pair_values,
    paired_wide,
    setting_order,
)
from denoisebench.reporting.model import ReportTable

CLASSIFICATION = [("accuracy", "accuracy"), ("precision", "precision"), ("recall", "recall"), ("f1", "F1"),
                  ("roc_auc", "ROC-AUC")]


def table1(cells: pd.DataFrame, plan: dict, test_metric: str = "f1",
           threshold_rule: str = "ground truth = clean > t, prediction = output > t, t = Otsu threshold of the "
                                 "clean image; ROC-AUC scores = output intensities") -> ReportTable | None:
    metrics = [(m, label) for m, label in CLASSIFICATION if has_metric(cells, m)]
    if not metrics:
        return None
    ok = ok_cells(cells)
    names = denoiser_order(ok, plan)
    tested = has_metric(cells, test_metric)
    values = metric_values(cells, test_metric)
    rows, raw, best, means = [], [], set(), {}
    for i, name in enumerate(names):
        sub = ok[ok["denoiser"] == name]
        row = [name]
        for m, _ in metrics:
            means[(i, m)] = sub[m].mean() if sub[m].notna().any() else math.nan
            row.append(fmt(means[(i, m)], "{:.4f}"))
        t = f = stats.na("n/a: the noisy input itself")
        # each image averaged over the settings both the denoiser and the noisy input have (an unavailable
        # setting is not compared on the others' easier or harder ones)
        wide = pair_values(values, test_metric, IMAGE_KEYS, among=[name, NOISY]) if tested else pd.DataFrame()
        if name != NOISY and NOISY in wide.columns and name in wide.columns:
            t = stats.paired_t(wide[name], wide[NOISY])
            f = stats.oneway_anova([wide[name].dropna(), wide[NOISY].dropna()])
        row += [stats.fmt_p(t.p) if t.ok else "n/a", fmt(f.statistic, "{:.2f}") if f.ok else "n/a"]
        rows.append(row)
        raw.append({"denoiser": name, **{m: means[(i, m)] for m, _ in metrics}, "n_images": t.n,
                    "t": t.statistic, "p_t": t.p, "F": f.statistic, "p_F": f.p, "reason": t.reason or f.reason})
    noisy = {i for i, n in enumerate(names) if n == NOISY}
    for j, (m, _) in enumerate(metrics):
        best |= {(i, j + 1) for i in best_rows([means[(i, m)] for i in range(len(names))], True, "{:.4f}", noisy)}
    return ReportTable(
        "table1", "Table 1 — thresholded pixel classification (mean over images and noise settings)",
        ["denoiser"] + [label for _, label in metrics] + [f"p (t vs noisy, {test_metric})",
                                                          f"F (vs noisy, {test_metric})"],
        rows, pd.DataFrame(raw), best=best,
        notes=[f"threshold rule: {threshold_rule}; NaN values (undefined precision) are skipped",
               f"paired t-test and the paper's one-way F (2 groups) on per-image {test_metric} (mean over settings) "
               "vs the noisy input; uncorrected; best per column in bold"])


def confusion_table(cells: pd.DataFrame, plan: dict) -> ReportTable:
    ok = ok_cells(cells)
    names = denoiser_order(ok, plan)
    rows, raw = [], []
    for name in names:
        sub = ok[ok["denoiser"] == name]
        c = {k: int(sub[k].sum()) if k in sub.columns else 0 for k in COUNTS}
        pos, neg = c["tp"] + c["fn"], c["tn"] + c["fp"]
        tpr = c["tp"] / pos if pos else math.nan
        tnr = c["tn"] / neg if neg else math.nan
        rows.append([name, str(c["tp"]), str(c["fn"]), str(c["fp"]), str(c["tn"]), fmt(tpr, "{:.4f}"),
                     fmt(tnr, "{:.4f}")])
        raw.append({"denoiser": name, **c, "tpr": tpr, "tnr": tnr})
    return ReportTable("table1_confusion", "Table 1b — pooled confusion matrix per denoiser (pixels, all cells)",
                       ["denoiser", "TP", "FN", "FP", "TN", "TPR", "TNR"], rows, pd.DataFrame(raw),
                       notes=["positive = pixel above the threshold in the clean image; counts summed over every "
                              "image and noise setting"])


def table2(cells: pd.DataFrame, plan: dict, meta: dict, chosen: str, why: str) -> ReportTable:
    rows, raw = [], []
    metrics = [m for m in metricmeta.summary_metrics(meta, meta) if has_metric(cells, m)]
    groups = [("all", cells)] + [(nt, cells[cells["noise"] == nt]) for nt in noise_type_order(cells, plan)]
    for group, sub in groups:
        for m in metrics:
            if not has_metric(sub, m):
                continue
            wide = paired_wide(sub, m, IMAGE_KEYS, among=[NOISY, chosen])
            if NOISY not in wide.columns or chosen not in wide.columns:
                continue
            spec, label = metricmeta.value_format(meta, m), metricmeta.label(meta, m)
            before, after = wide[NOISY], wide[chosen]
            t, w = stats.paired_t(after, before), stats.wilcoxon(after, before)
            b, a = before.mean(), after.mean()
            higher = metricmeta.higher_is_better(meta, m)
            gain = (a - b) if higher else (b - a)  # improvement: positive = better, for every metric
            pct = stats.improvement_percent([a], [b], higher)[0]
            db = a - b if meta.get(m, {}).get("unit") == "dB" else math.nan
            rows.append([group, label, fmt(b, spec), fmt(a, spec), fmt(gain, "{:+" + spec[2:]), fmt_percent(pct),
                         "—" if math.isnan(db) else fmt(db, "{:+.2f}"),
                         stats.fmt_p(t.p) if t.ok else t.reason, stats.fmt_p(w.p) if w.ok else w.reason])
            raw.append({"noise": group, "metric": m, "n_images": t.n, "before": b, "after": a, "delta": a - b,
                        "improvement": gain, "percent": pct, "gain_db": db, "t": t.statistic, "p_t": t.p,
                        "wilcoxon_W": w.statistic, "p_wilcoxon": w.p})
    return ReportTable(
        "table2", f"Table 2 — before / after: noisy input vs {chosen}",
        ["noise", "metric", "before", "after", "improvement", "improvement %", "gain (dB)", "p (paired t)",
         "p (Wilcoxon)"], rows, pd.DataFrame(raw), keys=2,
        notes=[f"denoiser: {why}; before = the noisy input; per image the mean over the group's noise settings "
               "and repetitions, then the mean over images; improvement and improvement % are positive when the "
               "denoiser is better, for every metric (after − before, or before − after where lower is better; "
               f"% of |before|, — beyond ±{PERCENT_LIMIT:.0f} %: a near-zero baseline); gain in dB for metrics in "
               "dB; uncorrected"],
    )


#: Holm families of the pairwise table: "setting" (each noise setting, and "all settings", is one family: every
#: denoiser vs the reference) or "table" (every row of the table is one family)
HOLM_FAMILIES = ("setting", "table")


def pairwise(cells: pd.DataFrame, plan: dict, meta: dict, ref: str, why: str, metric: str,
             holm_family: str = "setting") -> ReportTable:
    if holm_family not in HOLM_FAMILIES:
        raise ValueError(f"holm_family {holm_family!r}: choose one of {', '.join(HOLM_FAMILIES)}")
    names = [d for d in denoiser_order(ok_cells(cells), plan) if d not in (NOISY, ref)]
    groups = [(s, cells[cells["setting"] == s]) for s in setting_order(cells, plan)] + [("all settings", cells)] \
        if names else []
    recs = []
    for group, sub in groups:
        values = metric_values(sub, metric)
        for name in names:
            wide = pair_values(values, metric, IMAGE_KEYS, among=[name, ref])  # on the images both completed
            if ref not in wide.columns or name not in wide.columns:
                continue
            t = stats.paired_t(wide[name], wide[ref])
            d = stats.paired_difference(wide[name], wide[ref])
            w = stats.wilcoxon(wide[name], wide[ref])
            recs.append({"setting": group, "denoiser": name, "reference": ref, "n_images": d["n"], **d,
                         "t": t.statistic, "p": t.p, "p_wilcoxon": w.p, "reason": t.reason})
    raw = pd.DataFrame(recs)
    if len(raw) and holm_family == "table":
        raw["p_holm"] = stats.holm(raw["p"])
    elif len(raw):
        raw["p_holm"] = raw.groupby("setting", sort=False)["p"].transform(lambda p: stats.holm(p.to_numpy()))
    family = ("each noise setting (and 'all settings') is one family: every denoiser vs the reference"
              if holm_family == "setting" else "the whole table is one family (every row one test)")
    rows = [[r["setting"], r["denoiser"], str(r["n_images"]), fmt(r["mean_diff"], "{:+.3f}"),
             fmt_ci(r["ci_low"], r["ci_high"], "{:+.3f}"), fmt(r["dz"], "{:+.2f}"), fmt(r["t"], "{:.2f}"),
             stats.fmt_p(r["p"]), stats.fmt_p(r["p_holm"]), stats.fmt_p(r["p_wilcoxon"])] for r in recs and
            raw.to_dict("records")]
    unit = f" ({meta[metric]['unit']})" if meta.get(metric, {}).get("unit") else ""
    return ReportTable(
        "pairwise", f"Pairwise — each denoiser vs {ref} ({metricmeta.label(meta, metric, unit=False)}, paired by "
                    "image)",
        ["noise setting", "denoiser", "n", f"mean diff{unit}", "95 % CI", "d_z", "t", "p", "p (Holm)",
         "p (Wilcoxon)"], rows, raw, keys=2,
        notes=[f"reference: {why}; diff = denoiser − reference; 'all settings' uses each image's mean over the "
               f"settings and repetitions; Holm correction: {family} (--holm-family); n/a = fewer than 2 pairs or "
               "zero variance"],
    )


def correlation_table(cells: pd.DataFrame, metrics: list[str]) -> ReportTable | None:
    """Pearson r between the run's summary ``metrics`` across denoised cells (those that vary)."""
    ok = ok_cells(cells)
    ok = ok[ok["denoiser"] != NOISY]
    metrics = [m for m in metrics if m in ok.columns and ok[m].notna().sum() > 2 and ok[m].std() > 0]
    if len(metrics) < 2:
        return None
    cm = stats.correlation_matrix(ok[metrics]).loc[metrics, metrics]  # in the metrics' declared order
    rows = [[m] + [fmt(cm.loc[m, c], "{:+.2f}") for c in metrics] for m in metrics]
    return ReportTable("correlation", "Metric correlation matrix (Pearson r across denoised cells; paper Fig. 7)",
                       ["metric"] + metrics, rows, cm.reset_index().rename(columns={"metric": "metric", "index": "metric"}),
                       notes=[f"n = {len(ok)} denoiser outputs (every image × noise setting × denoiser; the noisy "
                              "input excluded); pairwise-complete"])
