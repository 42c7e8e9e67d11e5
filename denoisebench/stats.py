"""Statistics over stored per-image values: pure functions, no rendering.

Unit of analysis: the image. Every method sees the same noisy image (common random numbers), so comparisons are
*paired* by image. A test that has fewer than 2 usable paired values returns a :class:`Result` whose ``p`` is NaN
and whose ``reason`` says why ("n/a"); callers print the reason instead of a number.

References used in tests: ``scipy.stats.ttest_rel``, ``wilcoxon``, ``f_oneway``, ``friedmanchisquare``,
``t.interval``; ``statsmodels`` ``AnovaRM`` and ``multipletests(method="holm")``.

The t intervals, the paired t-test and the Wilcoxon test need only ``scipy.special`` (the functions that
``scipy.stats`` itself calls for them), so a report of one denoiser against the noisy input never imports
``scipy.stats``, which costs about 0.5 s of CPU (more than the rest of such a report on 10^4 cells). The tests
across three or more methods, and the Wilcoxon test's permutation case, import it where they run.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Result:
    """A test result: statistic, p-value, degrees of freedom (text), n used, and a reason when not computed."""

    statistic: float = math.nan
    p: float = math.nan
    n: int = 0
    df: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def na(reason: str, n: int = 0) -> Result:
    return Result(n=n, reason=reason)


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired samples need equal lengths; got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


# ------------------------------------------------------------------------------------------ descriptive


def mean_std(values) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof=1; NaN for n < 2) and n of the finite values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan, int(v.size)


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and the two-sided ``level`` confidence interval from the t distribution (NaN bounds for n < 2)."""
    mean, sd, n = mean_std(values)
    if n < 2:
        return mean, math.nan, math.nan
    half = _t_quantile(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


@functools.lru_cache(maxsize=1024)
def _t_quantile(q: float, df: int) -> float:
    """The t quantile, = ``scipy.stats.t.ppf`` (its implementation: ``scipy.special.stdtrit``); a report asks
    for the same few thousands of times, one per table cell."""
    from scipy import special

    return float(special.stdtrit(df, q))


def bootstrap_ci(values, level: float = 0.95, n_resamples: int = 4000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and the two-sided ``level`` percentile-bootstrap interval of the mean (resampling the finite values
    with replacement, ``n_resamples`` times, a fixed ``seed`` so a report is deterministic). The interval stays
    inside the range of the values, so a non-negative quantity never gets a negative bound (NaN for n < 2);
    = ``scipy.stats.bootstrap(method="percentile")`` up to resampling noise."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return (float(v.mean()) if v.size else math.nan), math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_resamples, v.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(v.mean()), float(lo), float(hi)


def cohens_dz(a, b) -> float:
    """Cohen's d_z for paired samples: mean(a − b) / sd(a − b) (ddof=1); NaN if n < 2 or sd = 0."""
    a, b = _paired(a, b)
    d = a - b
    if d.size < 2:
        return math.nan
    sd = float(d.std(ddof=1))
    return float(d.mean()) / sd if sd > 0 else math.nan


def improvement_percent(after, before, higher_is_better: bool = True) -> np.ndarray:
    """Per pair: (after − before) / |before| × 100, sign flipped for lower-is-better metrics (positive = better)."""
    after = np.asarray(after, dtype=np.float64)
    before = np.asarray(before, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = (after - before) / np.abs(before) * 100.0
    return pct if higher_is_better else -pct


def improvement_db(after_mse, before_mse) -> np.ndarray:
    """Improvement in dB from MSEs: 10·log10(before / after) (= PSNR gain at data range 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10.0 * np.log10(np.asarray(before_mse, dtype=np.float64) / np.asarray(after_mse, dtype=np.float64))


# ------------------------------------------------------------------------------------------ paired tests


def paired_t(a, b) -> Result:
    """Paired t-test of a vs b (two-sided): t = mean(d) / (sd(d)/√n), df = n − 1; = scipy.stats.ttest_rel."""
    from scipy import special

    a, b = _paired(a, b)
    n = a.size
    if n < 2:
        return na(f"n/a: {n} paired value(s), need >= 2", n)
    d = a - b
    if np.all(d == d[0]):
        return na("n/a: all paired differences are equal (zero variance)", n)
    # the textbook formula (identical to scipy.stats.ttest_rel, which tests compare against; ~50x less overhead)
    t = float(d.mean()) / (float(d.std(ddof=1)) / math.sqrt(n))
    # the t survival function as scipy.stats.t.sf computes it
    return Result(t, float(min(1.0, 2.0 * special.stdtr(n - 1, -abs(t)))), n, str(n - 1))


def wilcoxon(a, b) -> Result:
    """Wilcoxon signed-rank test of a vs b (two-sided, scipy defaults: zero differences dropped)."""
    a, b = _paired(a, b)
    n = a.size
    if n < 2:
        return na(f"n/a: {n} paired value(s), need >= 2", n)
    if np.all(a - b == 0):
        return na("n/a: all paired differences are zero", n)
    statistic, p = signed_rank(a - b)
    return Result(statistic, p, n, "")


def signed_rank(d: np.ndarray) -> tuple[float, float]:
    """``scipy.stats.wilcoxon(d)`` with its defaults (two-sided, zeros dropped, no continuity correction, method
    "auto"): (min(R+, R−), p). scipy's choice of method, followed here: the exact null distribution when no
    difference is zero or tied and n ≤ 50; otherwise the normal approximation with the tie correction, except for
    n ≤ 13 with ties or zeros, where scipy runs an exhaustive permutation test, which is delegated to it. ``d``:
    finite differences, not all zero."""
    nonzero = d[d != 0]
    count = nonzero.size
    ranks, tie_sizes = _average_ranks(np.abs(nonzero))
    r_plus = float(ranks[nonzero > 0].sum())  # sums of half-integers: exact, in any order
    statistic = min(r_plus, float(ranks[nonzero < 0].sum()))
    ties = bool((tie_sizes > 1).any())
    if d.size <= 50 and not ties and count == d.size:
        pmf = _signed_rank_pmf(count)
        mean = count * (count + 1) / 4
        lo, hi = math.floor(r_plus), math.ceil(r_plus)
        sf = pmf[lo:].sum() if lo <= mean else 1 - pmf[:lo].sum()
        cdf = pmf[:hi + 1].sum() if hi <= mean else 1 - pmf[hi + 1:].sum()
        return statistic, float(np.clip(2 * min(sf, cdf), 0, 1))
    if d.size <= 13:
        from scipy import stats

        r = stats.wilcoxon(d)
        return float(r.statistic), float(r.pvalue)
    from scipy import special

    mean = count * (count + 1.0) * 0.25
    se = math.sqrt((count * (count + 1.0) * (2.0 * count + 1.0) - float((tie_sizes ** 3 - tie_sizes).sum()) / 2)
                   / 24)
    return statistic, float(2 * special.ndtr(-abs((r_plus - mean) / se)))


def _average_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranks 1..n of ``x`` with ties given their average rank (= scipy.stats.rankdata), and the size of each
    group of equal values."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    sizes = np.diff(np.r_[starts, x.size])
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = np.repeat(starts + (sizes + 1) / 2, sizes)
    return ranks, sizes.astype(np.float64)


@functools.lru_cache(maxsize=64)
def _signed_rank_pmf(n: int) -> np.ndarray:
    """The null distribution of R+ for n untied non-zero differences, P(R+ = 0 … n(n+1)/2), built as scipy
    builds it (each rank k enters with probability ½)."""
    c = np.ones(1, dtype=np.float64)
    for k in range(1, n + 1):
        prev = c
        c = np.zeros(k * (k + 1) // 2 + 1, dtype=np.float64)
        c[:prev.size] = prev * 0.5
        c[-prev.size:] += prev * 0.5
    c.flags.writeable = False
    return c


def paired_difference(a, b, level: float = 0.95) -> dict[str, float]:
    """Mean difference a − b with its t confidence interval, d_z and n (finite pairs only)."""
    a, b = _paired(a, b)
    mean, lo, hi = mean_ci(a - b, level)
    return {"mean_diff": mean, "ci_low": lo, "ci_high": hi, "dz": cohens_dz(a, b), "n": int(a.size)}


# ------------------------------------------------------------------------------------------ across methods


def _complete_block(matrix) -> tuple[np.ndarray, str]:
    """Rows = images (blocks), columns = methods; keep rows with every method finite."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError("need a 2-D array: rows = images, columns = methods")
    keep = np.all(np.isfinite(m), axis=1)
    return m[keep], ""


def oneway_anova(groups) -> Result:
    """The paper's one-way ANOVA F across methods (ignores the pairing), = scipy.stats.f_oneway."""
    groups = [np.asarray(g, dtype=np.float64) for g in groups]
    groups = [g[np.isfinite(g)] for g in groups]
    if len(groups) < 2:
        return na(f"n/a: {len(groups)} method(s), need >= 2")
    n = sum(g.size for g in groups)
    if any(g.size < 1 for g in groups) or n - len(groups) < 1:
        return na("n/a: too few values per method (need >= 1 each and more values than methods)", n)
    if all(np.all(g == g[0]) for g in groups):
        return na("n/a: zero variance within every method", n)
    from scipy import stats

    r = stats.f_oneway(*groups)
    return Result(float(r.statistic), float(r.pvalue), n, f"{len(groups) - 1}, {n - len(groups)}")


def rm_anova(matrix) -> Result:
    """Repeated-measures ANOVA (images = subjects, methods = within factor), via statsmodels AnovaRM."""
    m, _ = _complete_block(matrix)
    n, k = m.shape if m.ndim == 2 else (0, 0)
    if k < 2:
        return na(f"n/a: {k} method(s), need >= 2", n)
    if n < 2:
        return na(f"n/a: {n} image(s) with every method, need >= 2", n)
    resid = m - m.mean(axis=1, keepdims=True) - m.mean(axis=0, keepdims=True) + m.mean()
    if np.allclose(resid, 0.0, atol=1e-15 * max(1.0, float(np.abs(m).max()))):
        return na("n/a: no residual variance (method effects identical on every image)", n)
    import pandas as pd
    from statsmodels.stats.anova import AnovaRM

    long = pd.DataFrame({"subject": np.repeat(np.arange(n), k), "method": np.tile(np.arange(k), n),
                         "value": m.ravel()})
    table = AnovaRM(long, depvar="value", subject="subject", within=["method"]).fit().anova_table
    row = table.iloc[0]
    return Result(float(row["F Value"]), float(row["Pr > F"]), n, f"{int(row['Num DF'])}, {int(row['Den DF'])}")


def friedman(matrix) -> Result:
    """Friedman chi-square test across methods, blocks = images, = scipy.stats.friedmanchisquare."""
    m, _ = _complete_block(matrix)
    n, k = m.shape
    if k < 3:
        return na(f"n/a: {k} method(s), Friedman needs >= 3", n)
    if n < 2:
        return na(f"n/a: {n} image(s) with every method, need >= 2", n)
    if np.all(m == m[:, :1]):
        return na("n/a: every image ties all methods", n)
    from scipy import stats

    r = stats.friedmanchisquare(*m.T)
    return Result(float(r.statistic), float(r.pvalue), n, str(k - 1))


def holm(pvalues) -> np.ndarray:
    """Holm step-down adjusted p-values (statsmodels multipletests, method "holm"); NaN entries stay NaN."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    keep = np.isfinite(p)
    if keep.any():
        out[keep] = multipletests(p[keep], method="holm")[1]
    return out


def correlation_matrix(frame):
    """Pearson correlation between columns (metrics) across rows (images), pairwise-complete, sorted columns."""
    cols = sorted(frame.columns)
    return frame[cols].astype(float).corr(method="pearson")


def fmt_p(p: float) -> str:
    """Fixed, deterministic p-value text."""
    if not np.isfinite(p):
        return "n/a"
    return "<1e-300" if p == 0 else (f"{p:.2e}" if p < 1e-3 else f"{p:.4f}")
