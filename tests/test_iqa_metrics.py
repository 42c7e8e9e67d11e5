"""The IQA metrics (fsim, fsimc, ms_ssim, gmsd, vif) against independent references and their contract.

References: scikit-image's SSIM (MS-SSIM's scale-1 term), scipy.signal.convolve2d (MATLAB conv2 'same'),
straight float64 transcriptions of the official MATLAB loops written here from the scripts (phasecong2, GMSD.m),
and piq's FSIM/GMSD where piq is importable (a test-time cross-check only, skipped otherwise). The official
values themselves are checked in tests/test_calibration.py.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import pathlib
import sys
import types

import numpy as np
import pytest
import scipy.fft
import scipy.signal
from skimage import data
from skimage.metrics import structural_similarity

from denoisebench.builtin.iqa import FSIM, GMSD, METRICS, MSSSIM, VIF, FSIMc
from denoisebench.builtin.iqa import _common as common
from denoisebench.builtin.iqa import fsim as fsim_module
from denoisebench.builtin.iqa import gmsd as gmsd_module
from denoisebench.builtin.iqa import msssim as msssim_module
from denoisebench.builtin.iqa import vif as vif_module
from denoisebench.errors import ImageError, ParameterError
from denoisebench.pluginmanager import make_plugins

RNG = np.random.default_rng(20261201)
GRAY = (data.camera()[40:240, 60:300] / 255.0).astype(np.float32)  # 200×240
COLOUR = (data.astronaut()[100:300, 120:360] / 255.0).astype(np.float32)


def noisy(img, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma / 255, img.shape), 0, 1).astype(np.float32)


ALL = {cls.name: cls for cls in METRICS}


# ------------------------------------------------------------------------------------------- contract


def test_registered_through_the_entry_point_with_metadata():
    plugins = make_plugins()
    for name, cls in ALL.items():
        assert plugins.metrics.get(name) is cls
        meta = cls.meta()
        assert meta["label"] and meta["format"].format(0.5) and meta["convention"]
        assert 10 <= meta["order"] <= 14
    assert [ALL[n].order for n in ("fsim", "fsimc", "ms_ssim", "gmsd", "vif")] == [10, 11, 12, 13, 14]
    assert not GMSD.higher_is_better and all(ALL[n].higher_is_better for n in ("fsim", "fsimc", "ms_ssim", "vif"))
    assert not VIF.symmetric and VIF.value_range == (0.0, None) and VIF.identity is None  # 1 is not VIF's optimum


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("img", [GRAY, COLOUR], ids=["gray", "colour"])
def test_identity_range_and_direction(name, img):
    m = ALL[name]()
    assert m.compute(img, img) == pytest.approx(1.0 if name == "vif" else m.identity, abs=1e-9)
    light, heavy = (m.compute(img, noisy(img, s)) for s in (10, 40))
    lo, hi = m.value_range
    for v in (light, heavy):
        assert math.isfinite(v) and (lo is None or v >= lo) and (hi is None or v <= hi)
    assert (light > heavy) if m.higher_is_better else (light < heavy)


@pytest.mark.parametrize("name", [n for n, c in ALL.items() if c.symmetric])
def test_symmetric_metrics_are_symmetric(name):
    m = ALL[name]()
    a, b = noisy(COLOUR, 15, 1), noisy(COLOUR, 30, 2)
    assert m.compute(a, b) == pytest.approx(m.compute(b, a), abs=1e-7)


def test_options_are_validated_in_one_line():
    for cls in ALL.values():
        with pytest.raises(ParameterError, match="unknown parameter 'colour'") as exc:
            cls(colour="y")
        assert "\n" not in str(exc.value)
        with pytest.raises(ParameterError, match="uint8='yes' is invalid; pass true or false"):
            cls(uint8="yes")
        assert "uint8=true" in cls(uint8=True).convention and "uint8=true" not in cls().convention
    with pytest.raises(ParameterError, match="method='sum' is invalid; pass one of product, wtd_sum"):
        MSSSIM(method="sum")
    assert "wtd_sum" in MSSSIM(method="wtd_sum").convention
    assert MSSSIM(method="wtd_sum").options == {"method": "wtd_sum"} and MSSSIM().options == {}


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", sorted(ALL))
def test_bad_input_is_a_one_line_image_error(name):
    m = ALL[name]()
    cases = {
        "shape": (GRAY, GRAY[:-1]),
        "NaN": (GRAY, np.where(GRAY > 0.5, np.nan, GRAY).astype(np.float32)),
        "not an image": (GRAY[None], GRAY[None]),
    }
    for what, (a, b) in cases.items():
        with pytest.raises(ImageError) as exc:
            m.compute(a, b)
        text = str(exc.value)
        assert "\n" not in text and text.startswith(f"{name}:"), (what, text)
    small = m.min_side - 1
    with pytest.raises(ImageError, match=f"needs both sides >= {m.min_side}"):
        m.compute(GRAY[:small, :small], GRAY[:small, :small])


def test_minimum_sizes():
    assert MSSSIM.min_side == 176  # msssim.m: min(H, W) / 2^4 >= 11
    assert VIF.min_side == 72  # buildSpyr: 4 levels of the 9-tap lofilt
    assert FSIM.min_side == 48  # the coarsest log-Gabor wavelength
    for cls in (MSSSIM, VIF, FSIM, GMSD):
        side = cls.min_side
        assert math.isfinite(cls().compute(GRAY[:side, :side], noisy(GRAY[:side, :side], 20)))


def test_constant_images():
    flat = np.full_like(GRAY, 0.4)
    for cls in (FSIM, FSIMc):
        with pytest.raises(ImageError, match="the reference is constant.*undefined"):
            cls().compute(flat, GRAY)
        with pytest.raises(ImageError, match="the estimate is constant.*undefined"):
            cls().compute(GRAY, flat)
    with pytest.raises(ImageError, match="singular 3x3 block covariance"):
        VIF().compute(flat, GRAY)
    assert abs(VIF().compute(GRAY, flat)) < 1e-9  # a flat estimate carries none of the reference's information
    # defined for constant images: GMSD (no gradient anywhere: GMS = 1), MS-SSIM (C1, C2 > 0)
    assert GMSD().compute(flat, flat) == 0.0 and MSSSIM().compute(flat, flat) == pytest.approx(1.0)
    assert math.isfinite(GMSD().compute(flat, GRAY)) and math.isfinite(MSSSIM().compute(flat, GRAY))


def test_anticorrelated_ms_ssim_is_an_error_not_nan():
    with pytest.raises(ImageError, match="negative.*anticorrelated"):
        MSSSIM().compute(GRAY, 1 - GRAY)
    assert math.isfinite(MSSSIM(method="wtd_sum").compute(GRAY, 1 - GRAY))


# ------------------------------------------------------------------------------------------- MATLAB helpers


@pytest.mark.parametrize("shape", [(7, 9), (8, 10)])
@pytest.mark.parametrize("k", [2, 3, 4])
def test_conv2_same_is_matlabs(shape, k):
    x = RNG.random(shape)
    kernel = RNG.random((k, k))
    full = scipy.signal.convolve2d(x, kernel, mode="full")
    # MATLAB: 'same' is the central part of the full convolution, starting at floor(size(kernel)/2) + 1
    expected = full[k // 2:k // 2 + shape[0], k // 2:k // 2 + shape[1]]
    np.testing.assert_allclose(common.conv2_same(x, kernel), expected, atol=1e-12)


@pytest.mark.parametrize("f", [2, 3])
def test_average_downsample_is_conv2_then_every_fth(f):
    x = RNG.random((11, 14))
    full = scipy.signal.convolve2d(x, np.ones((f, f)) / f**2, mode="full")
    same = full[f // 2:f // 2 + 11, f // 2:f // 2 + 14]
    np.testing.assert_allclose(common.average_downsample(x, f), same[::f, ::f], atol=1e-12)


def test_matlab_round_and_rgb2gray():
    assert [common.matlab_round(v) for v in (0.5, 1.5, 2.5, 1.49)] == [1, 2, 3, 1]
    # MATLAB rgb2gray: the first row of inv([1 .956 .621; 1 -.272 -.647; 1 -1.106 1.703])
    t = np.linalg.inv(np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]]))
    np.testing.assert_allclose(common.RGB2GRAY, t[0], atol=1e-12)


def test_ms_ssim_downsample_is_symmetric_imfilter():
    for shape in ((9, 12), (10, 13)):
        x = RNG.random(shape)
        p = np.pad(x, ((0, 1), (0, 1)), mode="symmetric")  # imfilter 'symmetric' for a 2x2 kernel anchored at (1,1)
        same = (p[:-1, :-1] + p[1:, :-1] + p[:-1, 1:] + p[1:, 1:]) / 4
        np.testing.assert_allclose(msssim_module.downsample(x), same[::2, ::2], atol=1e-12)


# ------------------------------------------------------------------------------------------- MS-SSIM


@pytest.mark.parametrize("img", [GRAY, COLOUR], ids=["gray", "colour"])
def test_ms_ssim_scale1_ssim_term_equals_skimage(img):
    est = noisy(img, 25)
    ssim1, _ = msssim_module.scale_terms(img, est)[0]
    g = lambda a: common.gray(a.astype(np.float64) * 255)  # noqa: E731
    ref = structural_similarity(g(img), g(est), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255)
    assert ssim1 == pytest.approx(ref, abs=1e-7)


def test_ms_ssim_pools_the_scale_terms():
    est = noisy(GRAY, 25)
    terms = msssim_module.scale_terms(GRAY, est)
    w = msssim_module.WEIGHTS
    product = math.prod(cs**wi for (_, cs), wi in zip(terms[:4], w[:4])) * terms[4][0] ** w[4]
    wtd = (sum(cs * wi for (_, cs), wi in zip(terms[:4], w[:4])) + terms[4][0] * w[4]) / sum(w)
    assert MSSSIM().compute(GRAY, est) == pytest.approx(product, rel=1e-12)
    assert MSSSIM(method="wtd_sum").compute(GRAY, est) == pytest.approx(wtd, rel=1e-12)
    assert w == (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


# ------------------------------------------------------------------------------------------- GMSD


def test_gmsd_equals_a_transcription_of_gmsd_m():
    est = noisy(GRAY[:199, :241], 20)  # odd sides: the zero-padded last row/column of conv2 'same'
    y1, y2 = GRAY[:199, :241].astype(np.float64) * 255, est.astype(np.float64) * 255

    def conv2_same(x, k):
        full = scipy.signal.convolve2d(x, k, mode="full")
        return full[k.shape[0] // 2:k.shape[0] // 2 + x.shape[0], k.shape[1] // 2:k.shape[1] // 2 + x.shape[1]]

    dx = np.array([[1, 0, -1]] * 3) / 3.0
    maps = []
    for y in (y1, y2):
        y = conv2_same(y, np.ones((2, 2)) / 4)[::2, ::2]
        maps.append(np.hypot(conv2_same(y, dx), conv2_same(y, dx.T)))
    q = (2 * maps[0] * maps[1] + 170) / (maps[0] ** 2 + maps[1] ** 2 + 170)
    assert gmsd_module.gmsd(GRAY[:199, :241], est) == pytest.approx(np.std(q, ddof=1), rel=1e-10)


# ------------------------------------------------------------------------------------------- FSIM


def phasecong2_reference(im):
    """FeatureSIM.m's phasecong2, transcribed loop for loop in float64 (independent of fsim.py's algebra)."""
    rows, cols = im.shape
    xr = (np.arange(-(cols - 1) / 2, (cols - 1) / 2 + 1) / (cols - 1)) if cols % 2 else np.arange(-cols / 2, cols / 2) / cols
    yr = (np.arange(-(rows - 1) / 2, (rows - 1) / 2 + 1) / (rows - 1)) if rows % 2 else np.arange(-rows / 2, rows / 2) / rows
    x, y = np.meshgrid(xr, yr)
    radius = np.fft.ifftshift(np.sqrt(x**2 + y**2))
    theta = np.fft.ifftshift(np.arctan2(-y, x))
    lp = np.fft.ifftshift(1.0 / (1.0 + (np.sqrt(x**2 + y**2) / 0.45) ** 30))
    radius[0, 0] = 1
    imagefft = np.fft.fft2(im)
    log_gabor = []
    for s in range(4):
        g = np.exp(-(np.log(radius * 6 * 2**s)) ** 2 / (2 * np.log(0.55) ** 2)) * lp
        g[0, 0] = 0
        log_gabor.append(g)
    energy_all = np.zeros_like(im)
    an_all = np.zeros_like(im)
    theta_sigma = np.pi / 4 / 1.2
    for o in range(4):
        angl = o * np.pi / 4
        ds = np.sin(theta) * np.cos(angl) - np.cos(theta) * np.sin(angl)
        dc = np.cos(theta) * np.cos(angl) + np.sin(theta) * np.sin(angl)
        spread = np.exp(-np.arctan2(ds, dc) ** 2 / (2 * theta_sigma**2))
        eo, ifft_filters = [], []
        for s in range(4):
            filt = log_gabor[s] * spread
            ifft_filters.append(np.real(np.fft.ifft2(filt)) * np.sqrt(rows * cols))
            eo.append(np.fft.ifft2(imagefft * filt))
            if s == 0:
                em_n = np.sum(filt**2)
        sum_e = sum(e.real for e in eo)
        sum_o = sum(e.imag for e in eo)
        x_energy = np.sqrt(sum_e**2 + sum_o**2) + 1e-4
        mean_e, mean_o = sum_e / x_energy, sum_o / x_energy
        energy = sum(e.real * mean_e + e.imag * mean_o - np.abs(e.real * mean_o - e.imag * mean_e) for e in eo)
        mean_e2n = -np.median(np.abs(eo[0]) ** 2) / np.log(0.5)
        noise_power = mean_e2n / em_n
        sum_an2 = sum(np.sum(f**2) for f in ifft_filters)
        sum_aiaj = sum(np.sum(ifft_filters[i] * ifft_filters[j]) for i in range(4) for j in range(i + 1, 4))
        tau = np.sqrt((2 * noise_power * sum_an2 + 4 * noise_power * sum_aiaj) / 2)
        threshold = (tau * np.sqrt(np.pi / 2) + 2.0 * np.sqrt((2 - np.pi / 2) * tau**2)) / 1.7
        energy_all += np.maximum(energy - threshold, 0)
        an_all += sum(np.abs(e) for e in eo)
    return energy_all / an_all


@pytest.mark.parametrize("shape", [(96, 120), (97, 121)])
def test_phase_congruency_equals_a_float64_transcription(shape):
    im = GRAY[:shape[0], :shape[1]].astype(np.float64) * 255
    np.testing.assert_allclose(fsim_module.phase_congruency(im), phasecong2_reference(im), atol=2e-5)


def test_fsim_pooling_and_float32_responses():
    """FSIM from the float64 transcription of phasecong2 and the MATLAB pooling equals ours to 1e-6."""
    ref, est = GRAY.astype(np.float64) * 255, noisy(GRAY, 25).astype(np.float64) * 255
    pc1, pc2 = phasecong2_reference(ref), phasecong2_reference(est)
    g = [np.hypot(common.conv2_same(y, fsim_module.SCHARR_X), common.conv2_same(y, fsim_module.SCHARR_Y))
         for y in (ref, est)]
    s_pc = (2 * pc1 * pc2 + 0.85) / (pc1**2 + pc2**2 + 0.85)
    s_g = (2 * g[0] * g[1] + 160) / (g[0] ** 2 + g[1] ** 2 + 160)
    pcm = np.maximum(pc1, pc2)
    expected = np.sum(s_g * s_pc * pcm) / np.sum(pcm)
    assert FSIM().compute(GRAY, noisy(GRAY, 25)) == pytest.approx(expected, abs=1e-6)


def test_fsim_downsamples_as_featuresim():
    big = np.ascontiguousarray(np.tile(GRAY, (2, 2)))[:400, :460]  # min side 400 -> F = round(400/256) = 2
    est = noisy(big, 20)
    y1 = common.average_downsample(big.astype(np.float64) * 255, 2)
    y2 = common.average_downsample(est.astype(np.float64) * 255, 2)
    small = FSIM().compute((y1 / 255).astype(np.float64), (y2 / 255).astype(np.float64))
    assert FSIM().compute(big, est) == pytest.approx(small, abs=1e-9)


def test_fsimc_equals_fsim_on_gray_and_uses_chroma_on_colour():
    est = noisy(GRAY, 20)
    assert FSIMc().compute(GRAY, est) == FSIM().compute(GRAY, est)
    tinted = COLOUR.copy()
    tinted[..., 0] = np.clip(tinted[..., 0] * 1.3, 0, 1)
    # a pure chroma change barely moves luminance FSIM but lowers FSIMc
    assert FSIMc().compute(COLOUR, tinted) < FSIM().compute(COLOUR, tinted)


def test_fsim_cache_never_serves_a_changed_array():
    est = noisy(GRAY, 20)
    first = FSIM().compute(GRAY, est)
    est2 = est.copy()
    est2[10:20, 10:20] = 0
    assert FSIM().compute(GRAY, est2) != first
    assert fsim_module.fsim_pair(GRAY, est, cache=False)[0] == pytest.approx(first, abs=1e-12)
    assert FSIM().compute(GRAY, est) == first


# ------------------------------------------------------------------------------------------- VIF


def test_vif_pyramid_filters_and_subbands():
    from denoisebench.builtin.iqa import sp5

    assert sp5.LOFILT.shape == (9, 9) and sp5.LO0FILT.shape == (5, 5)
    np.testing.assert_allclose(sp5.LOFILT, sp5.LOFILT.T)
    # band 4 (90°) is band 1 (0°) turned by 90 degrees
    np.testing.assert_allclose(sp5.BAND_FILTERS[3], -sp5.BAND_FILTERS[0].T, atol=1e-12)
    bands = vif_module.subbands(GRAY.astype(np.float64) * 255)
    assert [lev for lev, _ in bands] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert [b.shape for _, b in bands][::2] == [(200, 240), (100, 120), (50, 60), (25, 30)]


def test_vif_is_not_symmetric_and_rewards_contrast():
    est = noisy(GRAY, 20)
    assert VIF().compute(GRAY, est) != pytest.approx(VIF().compute(est, GRAY), abs=1e-3)
    ref = (0.1 + 0.8 * GRAY).astype(np.float32)
    stretched = ((ref - 0.5) * 1.2 + 0.5).astype(np.float32)  # within [0, 1]: no clipping
    assert VIF().compute(ref, stretched) > 1.0  # VIF > 1 for a contrast-enhanced estimate (Sheikh & Bovik)


# ------------------------------------------------------------------------------------------- piq cross-check


def _piq(module):
    """A piq module imported without piq's __init__ (which needs torchvision); skip when piq is absent."""
    torch = pytest.importorskip("torch")
    spec = importlib.util.find_spec("piq") if "piq" not in sys.modules else None
    if "piq" not in sys.modules:
        if spec is None or not spec.submodule_search_locations:
            pytest.skip("piq is not installed (test-time cross-check only: pip install --no-deps piq)")
        pkg = types.ModuleType("piq")
        pkg.__path__ = [str(pathlib.Path(spec.submodule_search_locations[0]))]
        sys.modules["piq"] = pkg
    return importlib.import_module(f"piq.{module}"), torch


@pytest.mark.parametrize("shape", [(200, 240), (199, 241)])
def test_fsim_and_gmsd_agree_with_piq(shape):
    piq_fsim, torch = _piq("fsim")
    piq_gmsd, _ = _piq("gmsd")
    ref = np.ascontiguousarray(GRAY[:shape[0], :shape[1]])
    est = noisy(ref, 25)
    t = lambda a: torch.from_numpy(a.astype(np.float64))[None, None]  # noqa: E731
    assert FSIM().compute(ref, est) == pytest.approx(float(piq_fsim.fsim(t(est), t(ref), data_range=1.0,
                                                                          chromatic=False)), abs=1e-5)
    if shape[0] % 2 == 0:  # piq pools odd sides differently from GMSD.m's zero-padded conv2
        assert GMSD().compute(ref, est) == pytest.approx(float(piq_gmsd.gmsd(t(est), t(ref), data_range=1.0)),
                                                         abs=1e-5)


def test_gray_conversion_uint8_rounds_like_matlab():
    u = (COLOUR * 255).round()
    g = common.gray(u, uint8=True)
    assert np.all(g == np.round(g)) and np.abs(g - common.gray(u)).max() <= 0.5
    a, b = common.pair("x", COLOUR + 0.3 / 255, COLOUR, 1, uint8=True)
    assert np.array_equal(a, b)  # both rounded to the same 8-bit levels
