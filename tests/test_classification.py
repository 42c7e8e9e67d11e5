"""Thresholded classification metrics (Table 1) against brute-force and scipy references."""

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu
from skimage.filters import threshold_otsu

from denoisebench.builtin import classification as cls
from denoisebench.errors import ParameterError
from denoisebench.pluginmanager import make_plugins


@pytest.fixture
def pair():
    rng = np.random.default_rng(3)
    clean = np.clip(np.kron(rng.random((4, 4)), np.ones((5, 5))) + rng.normal(0, 0.02, (20, 20)), 0, 1)
    out = np.clip(clean + rng.normal(0, 0.15, clean.shape), 0, 1)
    out[0, :6] = 0.5  # ties in the scores
    return clean.astype(np.float32), np.round(out, 2).astype(np.float32)


def brute_auc(mask, scores):
    pos, neg = scores[mask], scores[~mask]
    wins = sum(float(p > q) + 0.5 * float(p == q) for p in pos for q in neg)
    return wins / (pos.size * neg.size)


def test_counts_and_rates_by_hand(pair):
    clean, out = pair
    v = cls.classify(clean, out)
    t = threshold_otsu(clean.astype(np.float64))
    assert v["threshold"] == pytest.approx(t)
    truth, pred = clean.ravel() > t, out.ravel() > t
    tp = sum(1 for a, b in zip(truth, pred) if a and b)
    fp = sum(1 for a, b in zip(truth, pred) if not a and b)
    fn = sum(1 for a, b in zip(truth, pred) if a and not b)
    tn = truth.size - tp - fp - fn
    assert (v["tp"], v["fp"], v["tn"], v["fn"]) == (tp, fp, tn, fn)
    assert v["accuracy"] == pytest.approx((tp + tn) / truth.size)
    assert v["precision"] == pytest.approx(tp / (tp + fp))
    assert v["recall"] == pytest.approx(tp / (tp + fn))
    p, r = tp / (tp + fp), tp / (tp + fn)
    assert v["f1"] == pytest.approx(2 * p * r / (p + r))


def test_roc_auc_vs_brute_force_and_mannwhitney(pair):
    clean, out = pair
    t = threshold_otsu(clean.astype(np.float64))
    mask = clean.ravel() > t
    scores = out.ravel().astype(np.float64)
    auc = cls.classify(clean, out)["roc_auc"]
    assert auc == pytest.approx(brute_auc(mask, scores), rel=1e-12)
    u = mannwhitneyu(scores[mask], scores[~mask]).statistic
    assert auc == pytest.approx(u / (mask.sum() * (~mask).sum()), rel=1e-12)


def test_perfect_and_undefined_cases():
    clean = np.zeros((16, 16), np.float32)
    clean[:, 8:] = 1.0
    v = cls.classify(clean, clean)
    assert v["accuracy"] == 1.0 and v["f1"] == 1.0 and v["roc_auc"] == 1.0
    assert v["fp"] == 0 and v["fn"] == 0
    v = cls.classify(clean, np.zeros_like(clean))  # nothing predicted positive
    assert math.isnan(v["precision"]) and v["recall"] == 0.0
    assert math.isnan(cls.roc_auc(np.ones(5, bool), np.arange(5.0)))  # one-class mask


def test_metric_plugins_registered_and_fixed_threshold(pair):
    clean, out = pair
    plugins = make_plugins()
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "tp", "fp", "tn", "fn"):
        metric = plugins.metrics.get(name)()
        assert metric.compute(clean, out) == pytest.approx(cls.classify(clean, out)[name], nan_ok=True)
        assert "Otsu" in metric.convention
    fixed = plugins.metrics.get("tp")(threshold=0.5)
    assert fixed.compute(clean, out) == cls.classify(clean, out, 0.5)["tp"]
    with pytest.raises(ParameterError, match="threshold"):
        plugins.metrics.get("f1")(threshold=2)


def test_colour_pools_channels():
    rng = np.random.default_rng(1)
    clean = rng.random((12, 12, 3)).astype(np.float32)
    v = cls.classify(clean, clean)
    assert v["tp"] + v["fp"] + v["tn"] + v["fn"] == clean.size
