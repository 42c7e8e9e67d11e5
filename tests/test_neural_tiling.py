"""Whole-image inference of the neural models and the tiling that bounds memory on very large images.

The round-4 encoder–decoder pads an image to its 8-px grid; tiles start on that grid and drop a margin of
overlap/4 on their inner sides, so for the CNN-only model (receptive field ±62 px, front end included) tiles with an
overlap ≥ 256 give exactly the whole-image result whatever the weights. The hybrid's recurrent branch sees the whole
image, so tiling changes it in principle; the shipped weights are checked to change PSNR by < 0.01 dB.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("denoisebench_neural")

from denoisebench_neural import inference, weights  # noqa: E402
from denoisebench_neural.models import ModelConfig, build  # noqa: E402

DATA = Path(os.environ.get("DENOISEBENCH_DATA", "/work/shared/datasets"))
torch.set_num_threads(1)
CPU = torch.device("cpu")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a.astype(np.float64) - b) ** 2)))


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = 0.5 + 0.25 * np.sin(xx / 9.0 + yy / 23.0) * np.cos(yy / 13.0) + 0.1 * rng.standard_normal((h, w))
    return np.clip(img, 0, 1).astype(np.float32)


def random_unet(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    model = build(ModelConfig(kind=kind, arch="unet", channels=8, width2=8, width3=8, blocks=1, mid_blocks=2,
                              rnn_hidden=4, impulse_mask=True, impulse_detect="context")).eval()
    for p in model.parameters():  # non-zero everywhere (a fresh model is the identity map)
        torch.nn.init.normal_(p, std=0.05)
    return model


@pytest.mark.parametrize("shape", [(603, 701), (520, 777)])
def test_unet_cnn_tiles_equal_the_whole_image_exactly(shape):
    """Sides not a multiple of 8, tiles on the 8-px grid, overlap 256 (margin 64 > the ±62 px receptive field)."""
    model = random_unet("cnn")
    img = texture(*shape)
    img[np.random.default_rng(1).random(shape) < 0.1] = 1.0  # impulses, so the front end is exercised
    whole = inference.denoise_gray(model, img, CPU, tile=4096)
    tiled = inference.denoise_gray(model, img, CPU, tile=384, overlap=256, batch=2)
    assert tiled.shape == whole.shape == shape
    assert np.abs(whole - tiled).max() < 1e-5


def test_tiles_not_on_the_grid_are_rounded_onto_it():
    model = random_unet("cnn")
    img = texture(300, 333, seed=2)
    whole = inference.denoise_gray(model, img, CPU, tile=4096)
    tiled = inference.denoise_gray(model, img, CPU, tile=299, overlap=255)  # -> tile 296, overlap 256
    assert np.abs(whole - tiled).max() < 1e-5
    with pytest.raises(ValueError, match="grid"):
        inference.denoise_gray(model, img, CPU, tile=260, overlap=255)  # overlap 256 >= tile 256


def test_unet_hybrid_tiling_blends_without_seams():
    model = random_unet("hybrid")
    img = texture(400, 520, seed=3)
    whole = inference.denoise_gray(model, img, CPU, tile=4096)
    tiled = inference.denoise_gray(model, img, CPU, tile=256, overlap=128)
    diff = tiled - whole
    assert np.abs(diff).mean() < 0.01
    assert np.abs(np.diff(diff, axis=0)).max() < 0.01 and np.abs(np.diff(diff, axis=1)).max() < 0.01


def _large_test_image() -> np.ndarray:
    """A mosaic of six Set12 images, 2 × 3 of 512×512 (08–12, and 01 upsampled 2×), cut to 1000×1450."""
    from denoisebench.images import load_image

    names = ["08.png", "09.png", "10.png", "11.png", "12.png", "01.png"]
    paths = [DATA / "set12" / n for n in names]
    if not all(p.is_file() for p in paths):
        pytest.skip("Set12 not available")
    ims = [load_image(p, gray=True) for p in paths]
    ims = [im if im.shape == (512, 512) else np.kron(im, np.ones((2, 2), np.float32)) for im in ims]
    return np.vstack([np.hstack(ims[:3]), np.hstack(ims[3:])])[:1000, :1450]  # sides off the 8-px grid


@pytest.mark.parametrize("name", ["cnn", "hybrid"])
def test_shipped_model_tiling_changes_nothing_measurable(name):
    """A 1000×1450 image: the denoiser's default tiling against one whole-image pass. Round 4 (tile 1024, overlap
    256): within 0.02 everywhere. Round 3 (tile 512; the cnn overlap 128, the hybrid 256): the cnn is exact away
    from the right side (1450 is not a multiple of 4, so the whole pass pads it, a tile does not: the last 20 px
    differ, by up to 0.11), the hybrid's recurrent branch sees only its tile, so its pixels move, by < 0.02 for
    99.9 % of them (measured 0.0099; at most 0.024 away from that side); PSNR moves by < 0.01 dB for both
    (measured 9e-5 and 8e-4 dB)."""
    if name not in weights.manifest():
        pytest.skip("no shipped weights")
    from denoisebench_neural.denoisers import CNNDenoiser, HybridDenoiser

    from denoisebench.builtin.noise import Gaussian

    cls = CNNDenoiser if name == "cnn" else HybridDenoiser
    params = {**cls.default_params(), "device": "cpu"}
    den = cls(**params)
    arch = den._load().cfg.arch
    clean = _large_test_image()
    noisy = Gaussian(sigma=25).apply(clean, np.random.default_rng(0))
    assert clean.shape[0] > params["tile"] or clean.shape[1] > params["tile"]  # the default really tiles it
    tiled = den.denoise(noisy)
    whole = cls(**{**params, "tile": 2048}).denoise(noisy)
    gap = abs(psnr(clean, tiled) - psnr(clean, whole))
    assert gap < 0.01, gap
    diff = np.abs(tiled - whole)
    if arch == "unet":
        assert diff.max() < 0.02
    elif name == "cnn":
        assert diff[:, :-32].max() < 1e-5
    else:
        assert np.quantile(diff, 0.999) < 0.02 and diff[:, :-32].max() < 0.05
