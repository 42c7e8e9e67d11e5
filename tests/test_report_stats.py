"""Report statistics that a reader can trust: the image is the unit with repetitions, Holm families per noise
setting, one sign convention for improvements, intervals inside the range, ties all marked."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss
from statsmodels.stats.anova import AnovaRM
from statsmodels.stats.multitest import multipletests

import denoisebench as db
from denoisebench import stats
from denoisebench.reporting.data import best_rows, fmt_percent

DENOISERS = ["median", "mean", "gaussian"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reps") / "run"
    return db.run(denoisers=DENOISERS, noise=["gaussian:25", "salt_pepper:10%"], metrics=["psnr", "ssim", "mse"],
                  max_images=4, repetitions=2, output=out, write_report=False)


def image_means(cells: pd.DataFrame, setting_prefix: str, metric: str) -> pd.DataFrame:
    sub = cells[cells["noise_key"].str.startswith(setting_prefix) & cells["denoiser"].isin(DENOISERS)]
    return sub.groupby(["image_id", "denoiser"])[metric].mean().unstack("denoiser")[DENOISERS]


def test_table3_with_repetitions_uses_images_as_the_unit(run):
    cells = run.cells()
    assert cells["repetition"].nunique() == 2
    wide = image_means(cells, "gaussian", "psnr")
    raw = run.report().table("table3_psnr").data
    raw = raw[raw["setting"] == "gaussian 25"].set_index("denoiser")
    long = wide.reset_index().melt(id_vars="image_id", var_name="method", value_name="v")
    ref = AnovaRM(long, depvar="v", subject="image_id", within=["method"]).fit().anova_table.iloc[0]
    assert raw.loc["[rm_anova]", "n"] == 4 and raw.loc["[rm_anova]", "df"] == "2, 6"
    assert raw.loc["[rm_anova]", "statistic"] == pytest.approx(ref["F Value"], rel=1e-9)
    assert raw.loc["[rm_anova]", "p"] == pytest.approx(ref["Pr > F"], rel=1e-9)
    fr = ss.friedmanchisquare(*[wide[c] for c in DENOISERS])
    assert raw.loc["[friedman]", "n"] == 4
    assert raw.loc["[friedman]", "statistic"] == pytest.approx(fr.statistic, rel=1e-9)
    one = ss.f_oneway(*[wide[c] for c in DENOISERS])
    assert raw.loc["[anova]", "statistic"] == pytest.approx(one.statistic, rel=1e-9)
    assert raw.loc["median", "n"] == 4  # per-denoiser improvement rows count images, not image x repetition


def test_pairwise_holm_family_is_each_setting(run):
    report = run.report(reference="median")
    pw = report.table("pairwise").data
    for _, fam in pw.groupby("setting"):
        assert np.allclose(fam["p_holm"], multipletests(fam["p"], method="holm")[1])
    assert "each noise setting" in " ".join(report.table("pairwise").notes)
    whole = run.report(reference="median", holm_family="table").table("pairwise").data
    assert np.allclose(whole["p_holm"], multipletests(whole["p"], method="holm")[1])
    # per image mean over settings and repetitions for 'all settings'
    cells = run.cells()
    per = cells[cells["denoiser"].isin(["mean", "median"])].groupby(["image_id", "denoiser"])["psnr"].mean()
    per = per.unstack("denoiser")
    row = pw[(pw["setting"] == "all settings") & (pw["denoiser"] == "mean")].iloc[0]
    assert row["p"] == pytest.approx(ss.ttest_rel(per["mean"], per["median"]).pvalue, rel=1e-9)


def test_improvement_has_one_sign_convention(run):
    t2 = run.report(chosen="median").table("table2")
    raw = t2.data.set_index(["noise", "metric"])
    mse = raw.loc[("all", "mse")]
    assert mse["after"] < mse["before"]  # median lowers the MSE...
    assert mse["improvement"] > 0 and mse["percent"] > 0  # ...which is an improvement, with a + sign in both
    psnr = raw.loc[("all", "psnr")]
    assert psnr["improvement"] == pytest.approx(psnr["after"] - psnr["before"])
    assert "improvement %" in t2.columns and "Δ %" not in t2.columns
    row = next(r for r in t2.rows if r[:2] == ["all", "MSE"])
    assert row[4].startswith("+") and row[5].startswith("+")
    assert fmt_percent(2710.0) == "—" and fmt_percent(-12.34) == "-12.3%" and fmt_percent(float("nan")) == "—"


def test_table4_interval_is_a_bootstrap_inside_the_range(run):
    t4 = run.report().table("table4").data
    for metric in ("mse", "time"):
        sub = t4[(t4["metric"] == metric) & (t4["denoiser"] != "noisy")]
        assert (sub["ci_low"] >= 0).all()
    cells = run.cells()
    per_image = cells[cells["denoiser"] == "median"].groupby(["dataset", "image_id"])["mse"].mean()
    row = t4[(t4["metric"] == "mse") & (t4["denoiser"] == "median")].iloc[0]
    assert (row["ci_low"], row["ci_high"]) == stats.bootstrap_ci(per_image)[1:]
    ref = ss.bootstrap((per_image.to_numpy(),), np.mean, method="percentile", n_resamples=20000,
                       random_state=np.random.default_rng(1)).confidence_interval
    width = ref.high - ref.low
    assert row["ci_low"] == pytest.approx(ref.low, abs=0.1 * width)
    assert row["ci_high"] == pytest.approx(ref.high, abs=0.1 * width)


def test_bootstrap_interval_of_skewed_non_negative_values_stays_non_negative():
    values = np.array([0.001, 0.002, 0.001, 0.003, 2.0])  # one slow outlier: the t interval goes below zero
    assert stats.mean_ci(values)[1] < 0
    mean, lo, hi = stats.bootstrap_ci(values)
    assert 0 <= lo <= mean <= hi <= values.max()


def test_ties_at_the_printed_precision_are_all_marked():
    assert best_rows([30.001, 30.004, 29.0], True, "{:.2f}") == [0, 1]
    assert best_rows([0.1234, 0.12344, 0.2], False, "{:.4f}") == [0, 1]
    assert best_rows([1.0, 5.0, float("nan")], True, "{:.2f}", skip={1}) == [0]


def test_one_denoiser_run_and_report_do_not_import_scipy_stats(tmp_path):
    """A run of one denoiser against the noisy input gets its t and Wilcoxon tests from scipy.special (the
    functions scipy.stats calls), so neither the run's report nor ``report`` imports scipy.stats (0.5 s of CPU);
    a run of two denoisers compares them with the tests that need it."""
    import subprocess
    import sys

    probe = ("import sys; from denoisebench.cli import main; rc = main(sys.argv[1:]); "
             "print('STATS', 'scipy.stats' in sys.modules, 'statsmodels' in sys.modules); sys.exit(rc)")

    def modules(*argv):
        out = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()[-1]

    one = ["run", "--denoisers", "mean", "--noise", "gaussian:25", "--metrics", "psnr", "--quiet", "--no-figures",
           "--max-images", "4"]
    assert modules(*one, "--output", str(tmp_path / "one")) == "STATS False False"
    assert modules("report", str(tmp_path / "one"), "--no-figures") == "STATS False False"
    two = [a if a != "mean" else "mean,median" for a in one]
    assert modules(*two, "--output", str(tmp_path / "two")) == "STATS True True"
    one_md, two_md = ((tmp_path / d / "report.md").read_text() for d in ("one", "two"))
    assert "p (Wilcoxon)" in one_md
    # nothing to pair with the only denoiser: no empty pairwise table (and no note naming its reference)
    assert "Pairwise" not in one_md and "pairwise reference" not in one_md
    assert "Pairwise — each denoiser vs" in two_md
