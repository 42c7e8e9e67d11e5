"""Classical denoisers: cv2 fast paths against scipy/skimage references, contract checks, impulse filtering."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal
from skimage import data
from skimage.filters import gaussian as sk_gaussian

from denoisebench.builtin import classical, filters
from denoisebench.builtin.classical import CLASSICAL, Gaussian, Mean, Median, SwitchingMedian, Wiener
from denoisebench.builtin.noise import NOISE_MODELS, SaltPepper
from denoisebench.builtin.noise import Gaussian as GaussianNoise
from denoisebench.errors import ParameterError
from denoisebench.interfaces import Denoiser, NoiseSpec
from denoisebench.registry import Registry
from denoisebench.seeding import cell_rng

CAMERA = data.camera()[96:224, 160:288].astype(np.float32) / np.float32(255)  # 128×128, exactly k/255
COLOUR = data.astronaut()[64:160, 160:256].astype(np.float32) / np.float32(255)  # 96×96×3


def noisy_float(image, sigma=25, seed=0):
    return GaussianNoise(sigma=sigma).apply(image, cell_rng(seed))


def psnr(a, b):
    return 10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2))


def per_channel(fn, x):
    return np.stack([fn(x[..., c]) for c in range(x.shape[2])], axis=2) if x.ndim == 3 else fn(x)


# ------------------------------------------------------------------------------------- median


@pytest.mark.parametrize("size", [3, 5, 7, 9])
@pytest.mark.parametrize("kind", ["uint8", "float", "colour_uint8", "colour_float"])
def test_median_equals_scipy(size, kind):
    x = {"uint8": CAMERA, "float": noisy_float(CAMERA), "colour_uint8": COLOUR,
         "colour_float": noisy_float(COLOUR)}[kind]
    ref = per_channel(lambda c: ndi.median_filter(c, size, mode="nearest"), x)
    np.testing.assert_array_equal(Median(size=size).denoise(x), ref)


def test_median_paths():
    assert filters.uint8_exact(CAMERA) is not None
    assert filters.uint8_exact(SaltPepper(amount=0.3).apply(CAMERA, cell_rng(1))) is not None
    assert filters.uint8_exact(noisy_float(CAMERA)) is None
    assert filters.uint8_exact(CAMERA + np.float32(1e-6)) is None


def test_median_partition_chunks_equal_scipy():
    x = np.random.default_rng(5).random((301, 77), dtype=np.float32)  # several chunks, odd shape
    np.testing.assert_array_equal(filters._median_partition(x, 11), ndi.median_filter(x, 11, mode="nearest"))


# ------------------------------------------------------------------------------------- gaussian / mean


@pytest.mark.parametrize("sigma", [0.5, 0.8, 1.2, 2.0, 3.3])
def test_gaussian_equals_scipy_and_skimage(sigma):
    x = noisy_float(CAMERA)
    out = Gaussian(sigma=sigma).denoise(x)
    ref = ndi.gaussian_filter(x.astype(np.float64), sigma, mode="reflect", truncate=4.0)
    np.testing.assert_allclose(out, ref, atol=1e-6, rtol=0)
    sk = sk_gaussian(x.astype(np.float64), sigma=sigma, mode="reflect", truncate=4.0, preserve_range=True)
    np.testing.assert_allclose(out, sk, atol=1e-6, rtol=0)
    col = noisy_float(COLOUR)
    ref_c = ndi.gaussian_filter(col.astype(np.float64), (sigma, sigma, 0), mode="reflect", truncate=4.0)
    np.testing.assert_allclose(Gaussian(sigma=sigma).denoise(col), ref_c, atol=1e-6, rtol=0)


@pytest.mark.parametrize("size", [3, 5, 7])
def test_mean_equals_scipy_uniform_filter(size):
    for x in (noisy_float(CAMERA), noisy_float(COLOUR)):
        ref = ndi.uniform_filter(x.astype(np.float64), (size, size) + (1,) * (x.ndim - 2), mode="reflect")
        np.testing.assert_allclose(Mean(size=size).denoise(x), ref, atol=1e-6, rtol=0)


# ------------------------------------------------------------------------------------- wiener


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")
@pytest.mark.parametrize("size", [3, 5, 7])
@pytest.mark.parametrize("noise", [None, 0.002])
def test_wiener_zero_border_equals_scipy_everywhere(size, noise):
    x = noisy_float(CAMERA)
    ref = scipy.signal.wiener(x.astype(np.float64), size, noise)
    out = Wiener(size=size, noise=noise, border="zero").denoise(x)
    np.testing.assert_allclose(out, ref, atol=1e-6, rtol=0)


@pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")  # scipy's 0/0 in flat windows
@pytest.mark.parametrize("size", [3, 5, 7])
def test_wiener_reflect_border_equals_scipy_on_reflected_padding(size):
    """border='reflect' = scipy.signal.wiener on the symmetrically padded image, cropped back; the noise power
    is the mean local variance over the image's own pixels."""
    x = noisy_float(CAMERA)
    r = size // 2
    padded = np.pad(x.astype(np.float64), r, mode="symmetric")
    box = np.ones((size, size)) / size**2
    local_mean = scipy.signal.correlate(padded, box, "same")
    local_var = scipy.signal.correlate(padded**2, box, "same") - local_mean**2
    noise = local_var[r:-r, r:-r].mean()
    ref = scipy.signal.wiener(padded, size, noise)[r:-r, r:-r]
    np.testing.assert_allclose(Wiener(size=size).denoise(x), ref, atol=1e-6, rtol=0)  # noise estimated
    ref2 = scipy.signal.wiener(padded, size, 0.003)[r:-r, r:-r]
    np.testing.assert_allclose(Wiener(size=size, noise=0.003).denoise(x), ref2, atol=1e-6, rtol=0)


def test_wiener_colour_is_per_channel():
    x = noisy_float(COLOUR)
    ref = per_channel(lambda c: scipy.signal.wiener(c.astype(np.float64), 5), x)
    np.testing.assert_allclose(Wiener(size=5, border="zero").denoise(x), ref, atol=1e-6, rtol=0)


def test_wiener_constant_image_is_finite():
    out = Wiener(size=3, noise=0.0).denoise(np.full((16, 16), 0.3, np.float32))
    np.testing.assert_allclose(out, 0.3, atol=1e-6)


# ------------------------------------------------------------------------------------- switching median


def reference_switching_median(x, impulse, max_size):
    out = x.copy()
    h, w = x.shape
    for i, j in zip(*np.nonzero(impulse), strict=True):
        for size in range(3, max_size + 1, 2):
            r = size // 2
            win = x[max(0, i - r):i + r + 1, max(0, j - r):j + r + 1]
            good = win[~impulse[max(0, i - r):i + r + 1, max(0, j - r):j + r + 1]]
            if good.size:
                out[i, j] = np.median(good)
                break
        else:
            out[i, j] = ndi.median_filter(x, max_size, mode="nearest")[i, j]
    return out


@pytest.mark.parametrize("amount", [0.3, 0.7, 0.95])
def test_switching_median_equals_loop_reference(amount):
    x = SaltPepper(amount=amount).apply(CAMERA[:24, :20], cell_rng(3))
    impulse = (x == 0) | (x == 1)
    out = SwitchingMedian(max_size=5).denoise(x)
    np.testing.assert_allclose(out, reference_switching_median(x, impulse, 5), atol=1e-7, rtol=0)
    np.testing.assert_array_equal(out[~impulse], x[~impulse])  # only impulses change


def test_switching_median_beats_median_on_30pct_salt_pepper():
    clean = data.camera()[128:384, 128:384].astype(np.float32) / np.float32(255)
    noisy = SaltPepper(amount=0.3).apply(clean, cell_rng(4))
    spec = NoiseSpec.make("salt_pepper", {"amount": 0.3})
    plain = psnr(clean, Median(**Median.default_params(spec)).denoise(noisy))
    best_plain = max(psnr(clean, Median(size=s).denoise(noisy)) for s in (3, 5, 7))
    switching = psnr(clean, SwitchingMedian(**SwitchingMedian.default_params(spec)).denoise(noisy))
    adaptive = psnr(clean, SwitchingMedian(detection="adaptive").denoise(noisy))
    assert switching > best_plain + 3.0, (switching, plain, best_plain)
    assert adaptive > best_plain + 1.0, (adaptive, best_plain)


def test_adaptive_detection_finds_impulses():
    x = SaltPepper(amount=0.3).apply(CAMERA, cell_rng(2))
    truth = ((x == 0) | (x == 1)) & (x != CAMERA)
    found = filters.adaptive_impulses(x, 7)
    assert found[truth].mean() > 0.99  # recall


def reference_adaptive_impulses(x, max_size):
    """Hwang & Haddad's test with scipy's full median/min/max at every size."""
    impulse = np.zeros(x.shape, bool)
    undecided = np.ones(x.shape, bool)
    for size in range(3, max_size + 1, 2):
        lo, hi = (f(x, size, mode="nearest") for f in (ndi.minimum_filter, ndi.maximum_filter))
        med = ndi.median_filter(x, size, mode="nearest")
        decide = undecided & (lo < med) & (med < hi)
        impulse |= decide & ((x <= lo) | (x >= hi))
        undecided &= ~decide
    return impulse | undecided


@pytest.mark.parametrize("kind", ["s&p", "mixed", "gaussian"])
def test_adaptive_detection_equals_reference(kind):
    base = np.clip(CAMERA * 1.3 - 0.15, 0, 1)  # clipped flat regions leave pixels undecided at 3x3
    x = {"s&p": SaltPepper(amount=0.4).apply(base, cell_rng(6)),
         "mixed": SaltPepper(amount=0.1).apply(noisy_float(base, 15), cell_rng(6)),
         "gaussian": noisy_float(base, 50)}[kind]
    np.testing.assert_array_equal(filters.adaptive_impulses(x, 9), reference_adaptive_impulses(x, 9))


def test_median_at_equals_full_median():
    x = noisy_float(CAMERA)
    idx = np.random.default_rng(0).choice(x.size, 500, replace=False)
    for size in (3, 7, 11):
        full = ndi.median_filter(x, size, mode="nearest")
        np.testing.assert_array_equal(filters.median_at(x, size, idx), full.flat[idx])


def test_switching_median_all_impulses_falls_back():
    x = (np.random.default_rng(0).random((20, 20)) > 0.5).astype(np.float32)
    out = SwitchingMedian(max_size=3).denoise(x)
    np.testing.assert_array_equal(out, ndi.median_filter(x, 3, mode="nearest"))


# ------------------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("cls", CLASSICAL)
@pytest.mark.parametrize("image", [CAMERA, COLOUR], ids=["gray", "colour"])
def test_contract_shape_dtype_no_mutation_determinism(cls, image):
    for noisy in (noisy_float(image), SaltPepper(amount=0.3).apply(image, cell_rng(1)),
                  noisy_float(image).astype(np.float64)):
        before = noisy.copy()
        d = cls(**cls.default_params(None))
        out = d.denoise(noisy)
        np.testing.assert_array_equal(noisy, before)
        assert out.dtype == np.float32 and out.shape == noisy.shape
        assert np.all(np.isfinite(out)) and out.min() >= -1e-6 and out.max() <= 1 + 1e-6
        np.testing.assert_array_equal(out, d.denoise(noisy, noise=spec("gaussian", sigma=25)))


@pytest.mark.parametrize("cls", CLASSICAL)
def test_default_params_for_every_standard_noise(cls):
    for model in NOISE_MODELS:
        for spec in model.standard_specs():
            params = cls.default_params(spec)
            assert set(params) == set(cls.defaults)
            cls(**params)
    assert set(cls.param_grid) <= set(cls.defaults)
    for key, values in cls.param_grid.items():
        for v in values:
            cls(**{key: v})


def spec(model, **params):
    return NoiseSpec.make(model, params)


def test_default_params_follow_noise_level():
    sizes = [Median.default_params(spec("salt_pepper", amount=a))["size"] for a in (0.1, 0.3, 0.5)]
    assert sizes == sorted(sizes) and sizes[0] == 3 and sizes[-1] >= 7
    sigmas = [Gaussian.default_params(spec("gaussian", sigma=s))["sigma"] for s in (15, 25, 50)]
    assert sigmas == sorted(sigmas) and sigmas[0] < sigmas[-1]
    assert SwitchingMedian.default_params(spec("salt_pepper", amount=0.5))["detection"] == "extremes"


@pytest.mark.parametrize(
    "cls,params,value",
    [
        (Median, {"size": 4}, "4"),
        (Median, {"size": 1}, "1"),
        (Median, {"size": 3.0}, "3.0"),
        (Mean, {"size": -3}, "-3"),
        (Gaussian, {"sigma": 0}, "0"),
        (Gaussian, {"sigma": "1"}, "'1'"),
        (Wiener, {"noise": -0.1}, "-0.1"),
        (Wiener, {"border": "wrap"}, "'wrap'"),
        (SwitchingMedian, {"detection": "magic"}, "'magic'"),
        (SwitchingMedian, {"max_size": 6}, "6"),
        (Median, {"ksize": 3}, "'ksize'"),
    ],
)
def test_bad_parameters_one_line(cls, params, value):
    with pytest.raises(ParameterError) as info:
        cls(**params)
    msg = str(info.value)
    assert "\n" not in msg and value in msg and cls.name in msg


def test_registration_hook():
    registry = Registry("denoiser", Denoiser)
    classical.denoisebench_register_denoisers(registry)
    assert registry.names() == ["median", "gaussian", "wiener", "mean", "switching_median"]
