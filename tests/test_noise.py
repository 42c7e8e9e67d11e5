"""Built-in noise models against their DESIGN.md definitions: exact where possible, otherwise statistically.

Statistical checks use 256×256 (65,536 samples) and tolerances of about 5 standard errors.
"""

import numpy as np
import pytest
from scipy import stats
from skimage.util import random_noise

from denoisebench.builtin.noise import NOISE_MODELS, Gaussian, Mixed, Poisson, SaltPepper, Speckle
from denoisebench.errors import ParameterError
from denoisebench.seeding import cell_rng

N = 256 * 256


def flat(value=0.5, shape=(256, 256)):
    return np.full(shape, value, dtype=np.float32)


def rng(seed=7):
    return cell_rng(seed)


@pytest.mark.parametrize("sigma", [15.0, 25.0, 50.0])
def test_gaussian_residual_std_and_mean(sigma):
    clean = flat()
    noisy = Gaussian(sigma=sigma, clip=False).apply(clean, rng())  # mid-gray, no clipping: n itself
    res = noisy.astype(np.float64) - clean
    s = sigma / 255.0
    assert abs(res.mean()) < 5 * s / np.sqrt(N)
    assert res.std() == pytest.approx(s, rel=5 / np.sqrt(2 * N))
    assert stats.normaltest(res.ravel()).pvalue > 1e-4


def test_gaussian_exact_draw():
    """y = x + n with n the generator's float32 standard normals times sigma/255, then clip."""
    clean = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    noisy = Gaussian(sigma=25).apply(clean, rng(3))
    n = rng(3).standard_normal(clean.shape, dtype=np.float32) * np.float32(25 / 255)
    np.testing.assert_array_equal(noisy, np.clip(clean + n, 0, 1))


def test_gaussian_clip_option():
    clean = flat(0.98)
    clipped = Gaussian(sigma=50).apply(clean, rng())
    raw = Gaussian(sigma=50, clip=False).apply(clean, rng())
    assert clipped.max() == 1.0 and raw.max() > 1.0
    np.testing.assert_array_equal(clipped, np.clip(raw, 0, 1))


def test_gaussian_zero_sigma_is_identity():
    clean = np.random.default_rng(0).random((32, 32), dtype=np.float32)
    np.testing.assert_array_equal(Gaussian(sigma=0).apply(clean, rng()), clean)


@pytest.mark.parametrize("var", [0.01, 0.04, 0.1])
def test_speckle_matches_skimage_model(var):
    clean = flat(0.4)
    ours = Speckle(var=var, clip=False).apply(clean, rng()).astype(np.float64)
    theirs = random_noise(clean.astype(np.float64), mode="speckle", var=var, clip=False, rng=1)
    rel_ours, rel_theirs = (ours - clean) / clean, (theirs - clean) / clean  # both ~ N(0, var)
    assert abs(rel_ours.mean()) < 5 * np.sqrt(var / N)
    assert rel_ours.var() == pytest.approx(var, rel=5 * np.sqrt(2 / N))
    assert stats.ks_2samp(rel_ours.ravel(), rel_theirs.ravel()).pvalue > 1e-4


def test_speckle_is_multiplicative():
    clean = np.zeros((64, 64), dtype=np.float32)
    clean[:, 32:] = 0.5
    noisy = Speckle(var=0.1).apply(clean, rng())
    assert np.all(noisy[:, :32] == 0)  # x·n = 0 where x = 0
    assert noisy[:, 32:].std() > 0.1


@pytest.mark.parametrize("amount,ratio", [(0.1, 0.5), (0.3, 0.5), (0.5, 0.5), (0.2, 0.8), (0.2, 1.0)])
def test_salt_pepper_fractions(amount, ratio):
    clean = flat()
    noisy = SaltPepper(amount=amount, salt_ratio=ratio).apply(clean, rng())
    salt, pepper = np.mean(noisy == 1), np.mean(noisy == 0)
    for frac, p in ((salt, amount * ratio), (pepper, amount * (1 - ratio))):
        assert abs(frac - p) <= 5 * np.sqrt(p * (1 - p) / N) + 1e-12
    untouched = (noisy != 0) & (noisy != 1)
    np.testing.assert_array_equal(noisy[untouched], clean[untouched])  # other pixels are exactly unchanged
    ref = random_noise(clean, mode="s&p", amount=amount, salt_vs_pepper=ratio, rng=2)
    assert abs(salt - np.mean(ref == 1)) < 10 * np.sqrt(amount * ratio / N) + 1e-12


def test_salt_pepper_extremes():
    clean = flat()
    np.testing.assert_array_equal(SaltPepper(amount=0.0).apply(clean, rng()), clean)
    full = SaltPepper(amount=1.0).apply(clean, rng())
    assert np.all((full == 0) | (full == 1))


def test_mixed_is_gaussian_then_salt_pepper():
    clean = flat()
    noisy = Mixed(sigma=25, amount=0.3).apply(clean, rng())
    impulse = (noisy == 0) | (noisy == 1)
    assert abs(impulse.mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / N)
    res = noisy[~impulse].astype(np.float64) - 0.5
    assert res.std() == pytest.approx(25 / 255, rel=0.02)
    # exact: the same generator drawn in the same order
    r = rng()
    expected = SaltPepper(amount=0.3, clip=False)._apply(Gaussian(sigma=25, clip=False)._apply(clean, r), r)
    np.testing.assert_array_equal(noisy, np.clip(expected, 0, 1))


@pytest.mark.parametrize("peak", [4.0, 16.0, 64.0])
def test_poisson_mean_variance_and_lattice(peak):
    x = 0.25
    noisy = Poisson(peak=peak, clip=False).apply(flat(x), rng()).astype(np.float64)
    counts = noisy * peak
    np.testing.assert_allclose(counts, np.rint(counts), atol=1e-4)  # y = k / peak with k an integer
    lam = peak * x
    assert abs(counts.mean() - lam) < 5 * np.sqrt(lam / N)
    assert counts.var() == pytest.approx(lam, rel=0.05)


def test_poisson_zero_stays_zero():
    assert np.all(Poisson(peak=4).apply(np.zeros((16, 16), np.float32), rng()) == 0)


@pytest.mark.parametrize("model", NOISE_MODELS)
def test_seeded_determinism_dtype_and_no_mutation(model):
    clean = np.random.default_rng(0).random((48, 40, 3), dtype=np.float32)
    before = clean.copy()
    noise = model(**model.defaults)
    a, b = noise.apply(clean, rng(11)), noise.apply(clean, rng(11))
    c = noise.apply(clean, rng(12))
    np.testing.assert_array_equal(clean, before)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and a.shape == clean.shape
    assert a.min() >= 0 and a.max() <= 1


def test_colour_channels_get_independent_noise():
    res = Gaussian(sigma=25).apply(flat(0.5, (128, 128, 3)), rng()) - 0.5
    r = np.corrcoef(res.reshape(-1, 3).T)
    assert np.all(np.abs(r[np.triu_indices(3, 1)]) < 5 / 128)


def test_standard_levels():
    levels = {m.name: list(m.levels) for m in NOISE_MODELS}
    assert levels["gaussian"] == ["15", "25", "50"]
    assert levels["speckle"] == ["0.01", "0.04", "0.1"]
    assert levels["salt_pepper"] == ["10%", "30%", "50%"]
    assert levels["mixed"] == ["15+10%", "25+30%"]
    assert sum(len(m.standard_specs()) for m in NOISE_MODELS) == 14
    for m in NOISE_MODELS:
        for spec in m.standard_specs():
            m(**spec.kwargs)  # every standard level validates


@pytest.mark.parametrize(
    "model,params,value",
    [
        (Gaussian, {"sigma": -1}, "-1"),
        (Gaussian, {"sigma": "25"}, "'25'"),
        (Speckle, {"var": -0.01}, "-0.01"),
        (SaltPepper, {"amount": 1.5}, "1.5"),
        (SaltPepper, {"salt_ratio": -0.1}, "-0.1"),
        (Mixed, {"amount": 2}, "2"),
        (Mixed, {"sigma": -5}, "-5"),
        (Poisson, {"peak": 0}, "0"),
        (Gaussian, {"sigmaa": 25}, "'sigmaa'"),
    ],
)
def test_bad_parameters_one_line(model, params, value):
    with pytest.raises(ParameterError) as info:
        model(**params)
    msg = str(info.value)
    assert "\n" not in msg and value in msg and model.name in msg
