"""Built-in metrics against reference implementations (skimage.metrics, numpy, scipy.stats)."""

import functools
import math

import numpy as np
import pytest
import scipy.stats
from skimage import data
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

from denoisebench.builtin import metrics as m
from denoisebench.builtin.classical import Gaussian as GaussianFilter
from denoisebench.builtin.noise import Gaussian, Poisson, SaltPepper
from denoisebench.errors import ImageError, ParameterError
from denoisebench.interfaces import Metric
from denoisebench.registry import Registry
from denoisebench.seeding import cell_rng


def u8(a):
    return a.astype(np.float32) / np.float32(255)


CLEAN = {
    "camera": u8(data.camera()[100:228, 150:278]),
    "coins": u8(data.coins()[:96, :120]),
    "moon": u8(data.moon()[200:264, 200:300]),
    "astronaut": u8(data.astronaut()[40:136, 180:276]),
    "coffee": u8(data.coffee()[100:180, 200:300]),
}


@functools.cache
def estimates(name):
    """Noisy and denoised versions of ``CLEAN[name]`` at several levels (gray and colour alike)."""
    clean = CLEAN[name]
    out = [Gaussian(sigma=s).apply(clean, cell_rng(s)) for s in (5, 25, 50)]
    out.append(SaltPepper(amount=0.2).apply(clean, cell_rng(1)))
    out.append(Poisson(peak=4).apply(clean, cell_rng(2)))
    out.append(GaussianFilter(sigma=1.0).denoise(out[1]))
    return out


CASES = [(name, i) for name in CLEAN for i in range(6)]


def sk_ssim(a, b):
    return structural_similarity(a.astype(np.float64), b.astype(np.float64), gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, data_range=1.0,
                                 channel_axis=-1 if a.ndim == 3 else None)


@pytest.mark.parametrize("name,i", CASES)
def test_ssim_equals_skimage(name, i):
    clean = CLEAN[name]
    est = estimates(name)[i]
    assert abs(m.ssim(clean, est) - sk_ssim(clean, est)) < 1e-6
    assert abs(m.ssim(clean.astype(np.float64), est.astype(np.float64)) - sk_ssim(clean, est)) < 1e-6


@pytest.mark.parametrize("name,i", CASES)
def test_psnr_mse_mae_pearson_equal_references(name, i):
    clean = CLEAN[name]
    est = estimates(name)[i]
    c64, e64 = clean.astype(np.float64), est.astype(np.float64)
    assert m.psnr(clean, est) == pytest.approx(peak_signal_noise_ratio(c64, e64, data_range=1.0), rel=1e-12)
    assert m.mse(clean, est) == pytest.approx(mean_squared_error(c64, e64), rel=1e-12)
    assert m.mae(clean, est) == pytest.approx(np.mean(np.abs(c64 - e64)), rel=1e-12)
    assert m.pearson(clean, est) == pytest.approx(scipy.stats.pearsonr(c64.ravel(), e64.ravel())[0], abs=1e-12)


def test_psnr_known_value():
    clean = np.full((16, 16), 0.5)
    assert m.psnr(clean, clean + 0.1) == pytest.approx(20.0)  # MSE 0.01 -> 10*log10(100)
    assert m.mse(clean, clean + 0.1) == pytest.approx(0.01)
    assert m.mae(clean, clean - 0.1) == pytest.approx(0.1)


def test_colour_ssim_is_mean_over_channels():
    clean = CLEAN["astronaut"]
    est = estimates("astronaut")[1]
    assert m.ssim(clean, est) == pytest.approx(np.mean([m.ssim(clean[..., c], est[..., c]) for c in range(3)]))


def test_pearson_constant_images_are_nan_and_sign():
    flat = np.full((16, 16), 0.4)
    ramp = np.linspace(0, 1, 256).reshape(16, 16)
    assert math.isnan(m.pearson(flat, ramp)) and math.isnan(m.pearson(ramp, flat))
    assert m.pearson(ramp, 1 - ramp) == pytest.approx(-1.0)
    assert m.pearson(ramp, 0.5 * ramp + 0.2) == pytest.approx(1.0)


@pytest.mark.parametrize("cls", m.METRICS)
def test_metric_classes_identity_symmetry_direction(cls):
    metric = cls()
    clean = CLEAN["camera"]
    est = estimates("camera")[1]
    assert metric.compute(clean, clean) == cls.identity
    if cls.symmetric:
        assert metric.compute(clean, est) == pytest.approx(metric.compute(est, clean), rel=1e-12)
    better = estimates("camera")[0]  # sigma 5 is closer to clean than sigma 25
    s_good, s_bad = metric.compute(clean, better), metric.compute(clean, est)
    assert (s_good > s_bad) if cls.higher_is_better else (s_good < s_bad)
    assert cls.convention and cls.name


def test_directions():
    assert {c.name: c.higher_is_better for c in m.METRICS} == {
        "psnr": True, "ssim": True, "mse": False, "mae": False, "pearson": True}


def test_bad_input_one_line():
    with pytest.raises(ImageError) as info:
        m.psnr(np.zeros((8, 8)), np.zeros((8, 9)))
    assert "\n" not in str(info.value) and "(8, 9)" in str(info.value)
    with pytest.raises(ImageError) as info:
        m.ssim(np.zeros((8, 40)), np.zeros((8, 40)))
    assert "\n" not in str(info.value) and "11" in str(info.value)
    with pytest.raises(ParameterError) as info:
        m.PSNR(y_channel=True)
    assert "'y_channel'" in str(info.value)


def test_registration_hook():
    registry = Registry("metric", Metric)
    m.denoisebench_register_metrics(registry)
    assert registry.names() == ["psnr", "ssim", "mse", "mae", "pearson"]


@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera"])
def test_y_channel_option_matches_skimage_luma(name):
    """psnr/ssim channel=y: colour images scored on BT.601 luma (skimage rgb2ycbcr Y / 255); gray unchanged."""
    from skimage.color import rgb2ycbcr

    clean = CLEAN[name]
    for est in estimates(name):
        if clean.ndim == 3:
            y_ref = rgb2ycbcr(clean.astype(np.float64))[..., 0] / 255
            y_est = rgb2ycbcr(est.astype(np.float64))[..., 0] / 255
        else:
            y_ref, y_est = clean.astype(np.float64), est.astype(np.float64)
        want_psnr = peak_signal_noise_ratio(y_ref, y_est, data_range=1)
        want_ssim = structural_similarity(y_ref, y_est, data_range=1, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False)
        assert abs(m.PSNR(channel="y").compute(clean, est) - want_psnr) < 1e-9
        assert abs(m.SSIM(channel="y").compute(clean, est) - want_ssim) < 1e-6
        if clean.ndim == 3:  # the option changes colour values
            assert abs(m.PSNR().compute(clean, est) - want_psnr) > 1e-3


def test_channel_option_bad_value_is_one_line():
    with pytest.raises(ParameterError, match="channel='ycbcr' is invalid; pass rgb") as err:
        m.PSNR(channel="ycbcr")
    assert "\n" not in str(err.value)
    assert "luma" in m.SSIM(channel="y").convention and "luma" not in m.SSIM().convention
    assert "all RGB" not in m.PSNR(channel="y").convention


@pytest.mark.parametrize("shape", [(321, 481), (321, 481, 3), (7, 5)])
def test_psnr_mse_mae_are_exact_float64_values(shape):
    """The blocked float64 difference equals the textbook float64 computation (and skimage's PSNR on float64)."""
    from skimage.metrics import peak_signal_noise_ratio

    from denoisebench.builtin.metrics import mae, mse, psnr

    rng = np.random.default_rng(3)
    x = rng.random(shape, dtype=np.float32)
    y = np.clip(x + rng.normal(0, 0.1, shape).astype(np.float32), 0, 1)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    assert mse(x, y) == pytest.approx(np.mean((x64 - y64) ** 2), rel=1e-13)
    assert mae(x, y) == pytest.approx(np.mean(np.abs(x64 - y64)), rel=1e-13)
    assert abs(psnr(x, y) - peak_signal_noise_ratio(x64, y64, data_range=1)) < 1e-12


def _spread(rng, shape, dtype=np.float32):
    """Values over many binary exponents, so that most float32 differences of two such images round."""
    return (rng.random(shape) ** rng.uniform(1, 30, size=shape)).astype(dtype)


@pytest.mark.parametrize("shape", [(321, 481), (321, 481, 3), (1, 1), (9, 2000)])
def test_psnr_mse_difference_is_exact_even_where_float32_rounds(shape):
    """float32 pairs whose float32 differences round: MSE/PSNR still take the exact float64 difference (the
    reference is math.fsum of the float64 squares; a float32 subtraction would be ~1e-9 off)."""
    rng = np.random.default_rng(5)
    x, y = _spread(rng, shape), _spread(rng, shape)
    d64 = (x.astype(np.float64) - y.astype(np.float64)).ravel()
    want = math.fsum((d64 * d64).tolist()) / d64.size
    d32 = (x - y).astype(np.float64).ravel()
    if d64.size > 1:
        assert abs(math.fsum((d32 * d32).tolist()) / d64.size / want - 1) > 1e-12  # the case is a real test
    assert m.mse(x, y) == pytest.approx(want, rel=1e-14, abs=0)
    assert abs(m.psnr(x, y) - 10 * math.log10(1 / want)) < 1e-12
    # float64, mixed dtypes and non-contiguous views give the same value
    assert m.mse(x.astype(np.float64), y.astype(np.float64)) == pytest.approx(want, rel=1e-14, abs=0)
    assert m.mse(x, y.astype(np.float64)) == pytest.approx(want, rel=1e-14, abs=0)
    xt, yt = np.swapaxes(x, 0, 1), np.swapaxes(y, 0, 1)
    assert m.mse(xt[::-1], yt[::-1]) == pytest.approx(want, rel=1e-14, abs=0)


@pytest.mark.parametrize("shape", [(11, 11), (11, 40), (12, 13), (37, 11), (61, 300), (23, 31, 3), (321, 481),
                                   (321, 481, 3)])
@pytest.mark.parametrize("passes", ["whole", "strips"])
def test_ssim_equals_skimage_any_size_and_pass(shape, passes, monkeypatch):
    """Odd and minimal sizes, gray and colour, one filter pass or row strips (forced small here; large images
    take them) with small arithmetic blocks: equal to skimage on float64 within 1e-6 (float32, float64, mixed
    and non-contiguous inputs)."""
    if passes == "strips":
        monkeypatch.setattr(m, "_SSIM_PASS", 4 * shape[1] * 23)  # 13-row strips (min 16) and a shorter last one
        monkeypatch.setattr(m, "_SSIM_BLOCK", 3 * shape[1])
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    x = rng.random(shape, dtype=np.float32)
    x = cv2_blur(x)  # structure, so the SSIM is not ~0
    y = np.clip(x + rng.normal(0, 0.05, shape), 0, 1).astype(np.float32)
    want = sk_ssim(x, y)
    assert abs(m.ssim(x, y) - want) < 1e-6
    assert abs(m.ssim(x.astype(np.float64), y) - want) < 1e-6
    assert abs(m.ssim(np.asfortranarray(x), y[::1]) - want) < 1e-6
    assert m.ssim(x, x) == pytest.approx(1.0, abs=1e-12)


def cv2_blur(x):
    import cv2

    return cv2.GaussianBlur(x, (5, 5), 1.0)


def test_classification_cache_by_identity_only_for_read_only_arrays():
    from denoisebench.builtin import classification as cl

    rng = np.random.default_rng(4)
    clean = rng.random((40, 40), dtype=np.float32)
    out = np.clip(clean + rng.normal(0, 0.2, clean.shape).astype(np.float32), 0, 1)
    cl.clear_caches()
    frozen_clean, frozen_out = clean.view(), out.view()
    frozen_clean.flags.writeable = frozen_out.flags.writeable = False
    first = cl.cached_classify(frozen_clean, frozen_out, None)
    assert first == cl.classify(clean, out) and len(cl._IDENTITY) == 1
    assert cl.cached_classify(frozen_clean, frozen_out, None) is first  # found again, not recomputed
    # a writeable array may change between calls: never served from the identity cache
    before = cl.cached_classify(clean, out, None)
    out[:] = 1.0 - out
    after = cl.cached_classify(clean, out, None)
    assert after == cl.classify(clean, out) and after != before
