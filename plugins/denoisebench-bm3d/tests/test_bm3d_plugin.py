"""The BM3D plugin: discovered through its entry point, passes the conformance kit, denoises for real."""

from __future__ import annotations

import numpy as np
from denoisebench_bm3d.plugin import BM3D

from denoisebench.interfaces import NoiseSpec
from denoisebench.pluginmanager import make_plugins
from denoisebench.testing import add_gaussian, parametrize_with_checks


@parametrize_with_checks([BM3D])
def test_bm3d_conforms(subject, check):
    check(subject)


def test_discovered_through_entry_point():
    plugins = make_plugins()
    assert plugins.denoisers.get("bm3d") is BM3D
    provider = plugins.denoisers.provider("bm3d")
    assert provider.plugin == "bm3d" and provider.distribution == "denoisebench-bm3d"
    assert plugins.status["bm3d"].status == "ok"


def test_sigma_rules(gray_image):
    den = BM3D()
    assert BM3D.default_params(NoiseSpec.make("gaussian", {"sigma": 25.0}))["sigma"] == 25.0
    assert BM3D.default_params(NoiseSpec.make("mixed", {"sigma": 15.0, "amount": 0.1}))["sigma"] == 15.0
    assert BM3D.default_params(NoiseSpec.make("speckle", {"var": 0.04}))["sigma"] is None
    noisy = add_gaussian(gray_image, 20.0, seed=1, clip=False)
    est = den.sigma_psd(noisy, NoiseSpec.make("poisson", {"peak": 16.0})) * 255
    assert 15 < est < 25  # estimated from the image (true 20)
    assert den.sigma_psd(noisy, NoiseSpec.make("gaussian", {"sigma": 30.0})) * 255 == 30.0
    assert BM3D(sigma=10.0).sigma_psd(noisy, None) * 255 == 10.0


def test_beats_the_noise_by_a_wide_margin(gray_image):
    noisy = add_gaussian(gray_image, 25.0, seed=2, clip=False)
    out = BM3D().denoise(noisy, noise=NoiseSpec.make("gaussian", {"sigma": 25.0}))
    psnr = lambda a: 10 * np.log10(1.0 / np.mean((a.astype(np.float64) - gray_image) ** 2))  # noqa: E731
    assert psnr(out) > psnr(noisy) + 8
