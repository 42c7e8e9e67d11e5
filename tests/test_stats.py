"""Every statistic in denoisebench.stats against scipy.stats / statsmodels on the same numbers, or textbook data."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss
from statsmodels.stats.anova import AnovaRM
from statsmodels.stats.multitest import multipletests

from denoisebench import stats

REL = 1e-10

# Student's sleep data (Cushny & Peebles 1905), as in R's `t.test(extra ~ group, data = sleep, paired = TRUE)`:
# t = -4.0621, df = 9, p-value = 0.002833, mean difference -1.58, 95 % CI -2.4598858 .. -0.7001142.
SLEEP1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


@pytest.fixture
def scores():
    rng = np.random.default_rng(7)
    base = rng.normal(25, 3, size=12)  # 12 images
    return np.stack([base, base + 1.5 + rng.normal(0, 0.7, 12), base + 2.1 + rng.normal(0, 0.9, 12),
                     base + 0.4 + rng.normal(0, 1.2, 12)], axis=1)  # 4 methods


def test_paired_t_textbook_sleep():
    r = stats.paired_t(SLEEP1, SLEEP2)
    assert r.statistic == pytest.approx(-4.0621, abs=1e-4)
    assert r.p == pytest.approx(0.002833, abs=1e-6)
    assert r.df == "9" and r.n == 10
    d = stats.paired_difference(SLEEP1, SLEEP2)
    assert d["mean_diff"] == pytest.approx(-1.58)
    assert d["ci_low"] == pytest.approx(-2.4598858, abs=1e-7)
    assert d["ci_high"] == pytest.approx(-0.7001142, abs=1e-7)


def test_paired_t_vs_scipy(scores):
    ref = ss.ttest_rel(scores[:, 1], scores[:, 0])
    r = stats.paired_t(scores[:, 1], scores[:, 0])
    assert r.statistic == pytest.approx(ref.statistic, rel=REL)
    assert r.p == pytest.approx(ref.pvalue, rel=REL)


def test_wilcoxon_vs_scipy(scores):
    ref = ss.wilcoxon(scores[:, 3], scores[:, 0])
    r = stats.wilcoxon(scores[:, 3], scores[:, 0])
    assert r.statistic == pytest.approx(ref.statistic, rel=REL)
    assert r.p == pytest.approx(ref.pvalue, rel=REL)


def test_oneway_anova_vs_scipy(scores):
    ref = ss.f_oneway(*scores.T)
    r = stats.oneway_anova(list(scores.T))
    assert r.statistic == pytest.approx(ref.statistic, rel=REL)
    assert r.p == pytest.approx(ref.pvalue, rel=REL)
    assert r.df == "3, 44"


def test_rm_anova_vs_statsmodels_and_sums_of_squares(scores):
    n, k = scores.shape
    long = pd.DataFrame({"s": np.repeat(np.arange(n), k), "m": np.tile(np.arange(k), n), "v": scores.ravel()})
    ref = AnovaRM(long, depvar="v", subject="s", within=["m"]).fit().anova_table.iloc[0]
    r = stats.rm_anova(scores)
    assert r.statistic == pytest.approx(ref["F Value"], rel=REL)
    assert r.p == pytest.approx(ref["Pr > F"], rel=REL)
    # independent: textbook sums of squares
    g = scores.mean()
    ss_m = n * ((scores.mean(axis=0) - g) ** 2).sum()
    ss_s = k * ((scores.mean(axis=1) - g) ** 2).sum()
    ss_e = ((scores - g) ** 2).sum() - ss_m - ss_s
    f = (ss_m / (k - 1)) / (ss_e / ((k - 1) * (n - 1)))
    assert r.statistic == pytest.approx(f, rel=1e-9)
    assert r.p == pytest.approx(ss.f.sf(f, k - 1, (k - 1) * (n - 1)), rel=1e-8)
    assert r.df == f"{k - 1}, {(k - 1) * (n - 1)}"


def test_friedman_vs_scipy(scores):
    ref = ss.friedmanchisquare(*scores.T)
    r = stats.friedman(scores)
    assert r.statistic == pytest.approx(ref.statistic, rel=REL)
    assert r.p == pytest.approx(ref.pvalue, rel=REL)


def test_friedman_textbook_no_ties():
    # 3 blocks fully consistent ranking of 3 treatments: chi2 = 12/(n k (k+1)) sum R^2 - 3 n (k+1) = 6.0
    m = np.array([[1.0, 2.0, 3.0], [1.5, 2.5, 3.5], [0.1, 0.2, 0.3]])
    r = stats.friedman(m)
    assert r.statistic == pytest.approx(6.0)
    assert r.p == pytest.approx(math.exp(-3.0), rel=REL)  # chi2(2) survival = exp(-x/2)


def test_holm_vs_statsmodels_and_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    out = stats.holm(p)
    ref = multipletests(p[:4], method="holm")[1]
    np.testing.assert_allclose(out[:4], ref, rtol=REL)
    assert math.isnan(out[4])
    # by hand: sorted 0.005,0.01,0.03,0.04 -> x4,x3,x2,x1 -> 0.02,0.03,0.06,0.06 (monotone)
    np.testing.assert_allclose(out[:4], [0.03, 0.06, 0.06, 0.02], rtol=REL)


def test_mean_ci_and_std_vs_scipy(scores):
    v = scores[:, 2]
    mean, lo, hi = stats.mean_ci(v)
    ref = ss.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=ss.sem(v))
    assert (lo, hi) == pytest.approx(ref, rel=REL)
    m, sd, n = stats.mean_std(v)
    assert sd == pytest.approx(np.std(v, ddof=1), rel=REL) and n == 12


def test_cohens_dz_by_hand():
    d = np.array(SLEEP1) - np.array(SLEEP2)
    assert stats.cohens_dz(SLEEP1, SLEEP2) == pytest.approx(d.mean() / d.std(ddof=1), rel=REL)
    # d_z = t / sqrt(n)
    assert stats.cohens_dz(SLEEP1, SLEEP2) == pytest.approx(ss.ttest_rel(SLEEP1, SLEEP2).statistic / math.sqrt(10),
                                                            rel=REL)


def test_improvement_sign_and_db():
    assert stats.improvement_percent([30.0], [20.0])[0] == pytest.approx(50.0)
    assert stats.improvement_percent([0.01], [0.02], higher_is_better=False)[0] == pytest.approx(50.0)
    assert stats.improvement_db([0.001], [0.01])[0] == pytest.approx(10.0)


def test_correlation_matrix_vs_numpy(scores):
    frame = pd.DataFrame(scores, columns=["d", "a", "c", "b"])
    cm = stats.correlation_matrix(frame)
    assert list(cm.columns) == ["a", "b", "c", "d"]
    assert cm.loc["a", "c"] == pytest.approx(np.corrcoef(scores[:, 1], scores[:, 2])[0, 1], rel=1e-12)


@pytest.mark.parametrize("func", [stats.paired_t, stats.wilcoxon])
def test_paired_na_cases(func):
    assert "need >= 2" in func([1.0], [2.0]).reason
    assert "need >= 2" in func([1.0, np.nan], [2.0, 3.0]).reason  # NaN pairs dropped
    assert func([1.0, 2.0], [1.0, 2.0]).reason.startswith("n/a")
    assert math.isnan(func([], []).p)


def test_across_methods_na_cases():
    assert stats.friedman(np.ones((1, 3))).reason.startswith("n/a")
    assert "Friedman needs >= 3" in stats.friedman(np.ones((5, 2))).reason
    assert "need >= 2" in stats.rm_anova(np.array([[1.0, 2.0]])).reason
    assert stats.oneway_anova([[1.0, 2.0]]).reason.startswith("n/a")
    # rows with a missing method are dropped before the test
    m = np.array([[1.0, 2.0, 3.5], [1.2, 2.1, np.nan]])
    assert "1 image(s)" in stats.rm_anova(m).reason
    assert stats.fmt_p(math.nan) == "n/a"


@pytest.mark.parametrize("seed", range(6))
def test_paired_tests_vs_scipy_many_samples(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(3, 40))
    a = rng.normal(0, 1, n)
    b = a + rng.normal(seed * 0.4, 0.5, n)  # from no effect to a very strong one (tiny p)
    for ours, ref in ((stats.paired_t(a, b), ss.ttest_rel(a, b)), (stats.wilcoxon(a, b), ss.wilcoxon(a, b))):
        assert ours.statistic == pytest.approx(ref.statistic, rel=REL)
        assert ours.p == pytest.approx(ref.pvalue, rel=REL)
    d = stats.paired_difference(a, b)
    lo, hi = ss.t.interval(0.95, n - 1, loc=np.mean(a - b), scale=ss.sem(a - b))
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((lo, hi), rel=REL)


def _signed_rank_cases():
    """Differences for every branch of scipy's Wilcoxon ("auto"): exact (n <= 50, no ties, no zeros), normal
    approximation (n > 50; or ties / zeros with n > 13, tie-corrected), permutation (ties or zeros, n <= 13)."""
    rng = np.random.default_rng(11)
    for n in (2, 3, 7, 13, 14, 30, 50, 51, 80, 200):
        yield f"n{n}-untied", rng.normal(0.2, 1, n)
        yield f"n{n}-ties", np.round(rng.normal(0.3, 1, n), 1)
        d = rng.normal(0, 1, n)
        d[: max(1, n // 4)] = 0.0
        yield f"n{n}-zeros", d
        yield f"n{n}-integers", rng.integers(-3, 5, n).astype(float)
    yield "strong-effect", rng.normal(3, 0.5, 40)
    yield "one-sided-all", np.abs(rng.normal(0, 1, 60)) + 0.1


@pytest.mark.parametrize("name,d", list(_signed_rank_cases()))
def test_wilcoxon_every_branch_equals_scipy(name, d):
    if np.all(d == 0):
        pytest.skip("all differences zero: not a test")
    ref = ss.wilcoxon(d)
    r = stats.wilcoxon(d, np.zeros_like(d))
    assert r.statistic == float(ref.statistic), name
    assert r.p == pytest.approx(float(ref.pvalue), rel=1e-12, abs=0), name


def test_t_quantile_and_tail_equal_scipy_stats():
    rng = np.random.default_rng(5)
    for df in (1, 2, 5, 11, 67, 399):
        for q in (0.9, 0.95, 0.975, 0.995):
            assert stats._t_quantile(q, df) == float(ss.t.ppf(q, df))
        a, b = rng.normal(0, 1, df + 1), rng.normal(0.3, 1, df + 1)
        r = stats.paired_t(a, b)  # its t equals ttest_rel's to the last bits (test above); its p, from that t:
        assert r.p == min(1.0, 2 * float(ss.t.sf(abs(r.statistic), df)))
