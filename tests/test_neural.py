"""Tests of the denoisebench-neural plugin: models, tiled inference, weights verification, training, plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("denoisebench_neural")

from denoisebench_neural import inference, weights  # noqa: E402
from denoisebench_neural.models import ModelConfig, build, param_count  # noqa: E402

from denoisebench.errors import UnavailableError  # noqa: E402

DATA = Path(os.environ.get("DENOISEBENCH_DATA", "/work/shared/datasets"))
torch.set_num_threads(1)


def tiny(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    return build(ModelConfig(kind=kind, channels=8, blocks=1, rnn_channels=4, rnn_hidden=4)).eval()


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = 0.5 + 0.3 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + 0.05 * rng.standard_normal((h, w))
    return np.clip(img, 0, 1).astype(np.float32)


@pytest.mark.parametrize("kind", ["cnn", "hybrid"])
@pytest.mark.parametrize("shape", [(37, 53), (64, 64), (5, 9)])
def test_shapes_and_residual(kind, shape):
    model = tiny(kind)
    x = torch.rand(2, 1, *shape)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


def test_cnn_is_hybrid_without_rnn_branch():
    cnn, hyb = tiny("cnn"), tiny("hybrid")
    assert cnn.rnn is None and hyb.rnn is not None
    assert param_count(hyb) > param_count(cnn)
    # the shared CNN branch is initialised identically for the same seed (a clean ablation)
    for (n1, p1), (n2, p2) in zip(cnn.cnn.named_parameters(), hyb.cnn.named_parameters()):
        assert n1 == n2 and torch.equal(p1, p2)


def test_tiled_equals_untiled_for_cnn():
    model = tiny("cnn")
    img = smooth_image(200, 236)
    dev = torch.device("cpu")
    whole = inference.denoise_gray(model, img, dev, tile=512)
    tiled = inference.denoise_gray(model, img, dev, tile=64, overlap=48, batch=3)
    # the receptive field (10 px) is inside the discarded margin (12 px): equal up to float rounding
    assert np.abs(whole - tiled).max() < 1e-5


def test_tiling_has_no_seams_for_hybrid():
    model = tiny("hybrid")
    img = smooth_image(160, 200, seed=1)
    dev = torch.device("cpu")
    whole = inference.denoise_gray(model, img, dev, tile=512)
    tiled = inference.denoise_gray(model, img, dev, tile=96, overlap=48)
    diff = tiled - whole
    # the RNN sees only its tile, so values differ a little, but the blend changes them gradually: no step
    assert np.abs(diff).mean() < 0.05
    assert np.abs(np.diff(diff, axis=0)).max() < 0.01
    assert np.abs(np.diff(diff, axis=1)).max() < 0.01


def test_blend_weights_partition():
    w = inference._ramp(96, True, True, 48)
    assert w[:12].sum() == 0 and w[-12:].sum() == 0 and w[48] == 1
    # two neighbouring tiles' ramps sum to 1 over the overlap
    a, b = inference._ramp(96, False, True, 48), inference._ramp(96, True, False, 48)
    total = np.zeros(96 + 48)
    total[:96] += a
    total[48:] += b
    assert np.allclose(total, 1)


def test_deterministic_and_batch_matches_single():
    model = tiny("hybrid")
    dev = torch.device("cpu")
    imgs = [smooth_image(40, 48, s) for s in range(3)] + [smooth_image(33, 21, 5)]
    one = [inference.denoise_gray(model, im, dev) for im in imgs]
    many = inference.denoise_many(model, imgs, dev, batch=2)
    again = inference.denoise_many(model, imgs, dev, batch=2)
    for a, b, c in zip(one, many, again):
        assert a.shape == b.shape
        assert np.abs(a - b).max() < 1e-5
        assert np.array_equal(b, c)


def _write_weights(tmp_path: Path, kind: str = "cnn") -> Path:
    model = tiny(kind)
    path = tmp_path / f"{kind}.safetensors"
    weights.save(model, path, {"step": 1})
    weights.record(kind, path, weights_dir=tmp_path)
    return path


def test_weights_roundtrip_and_sha256(tmp_path):
    path = _write_weights(tmp_path)
    entry = json.loads((tmp_path / "MANIFEST.json").read_text())["cnn"]
    assert entry["sha256"] == weights.sha256(path)
    model, meta = weights.load_shipped("cnn", weights_dir=tmp_path)
    ref = tiny("cnn")
    for k, v in ref.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    assert meta["step"] == 1 and meta["config"]["channels"] == 8


def test_corrupt_and_missing_weights_give_one_line(tmp_path):
    path = _write_weights(tmp_path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(UnavailableError) as err:
        weights.load_shipped("cnn", weights_dir=tmp_path)
    assert "corrupt" in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)
    path.unlink()
    with pytest.raises(UnavailableError, match="missing"):
        weights.load_shipped("cnn", weights_dir=tmp_path)
    with pytest.raises(UnavailableError, match="no weights recorded"):
        weights.load_shipped("hybrid", weights_dir=tmp_path)


def test_reship_changes_only_the_inference_config_and_amends_the_card(tmp_path):
    from denoisebench_neural import ship

    torch.manual_seed(0)
    model = build(ModelConfig(kind="cnn", channels=8, blocks=1, impulse_mask=True)).eval()
    weights.save(model, tmp_path / "cnn.safetensors", {"step": 3})
    old = weights.record("cnn", tmp_path / "cnn.safetensors", tmp_path)
    (tmp_path / "cnn.md").write_text(f"# Model card: `cnn`\n\n- **Architecture:** {ship.FRONT}rest of it.\n"
                                     f"- **Parameters:** 1 (sha256 `{old['sha256']}`)\n")
    entry = ship.reship("cnn", {"impulse_detect": "context", "impulse_min_share": 0.5}, "Measured: X.", tmp_path)
    new, meta = weights.load_shipped("cnn", weights_dir=tmp_path)  # checks the file against the new sha256
    assert entry["sha256"] == weights.sha256(tmp_path / "cnn.safetensors") != old["sha256"]
    assert (new.cfg.impulse_detect, new.cfg.impulse_min_share, meta["step"]) == ("context", 0.5, 3)
    assert meta["config_overrides"] == {"impulse_detect": "context", "impulse_min_share": 0.5}
    assert all(torch.equal(v, new.state_dict()[k]) for k, v in model.state_dict().items())
    # the same network: no exact 0/1 pixel, the same output bit for bit; a black square is kept, not filled, now
    x = torch.from_numpy(np.clip(smooth_image(40, 48), 0.01, 0.99))[None, None]
    y = x.clone()
    y[..., 8:28, 8:28] = 0.0
    with torch.no_grad():
        assert torch.equal(model(x), new(x)) and not torch.equal(model(y), new(y))
    lines = (tmp_path / "cnn.md").read_text().split("\n")
    assert lines[2] == f"- **Architecture:** {ship.front(new.cfg.to_dict())}rest of it." and "≥ 50 %" in lines[2]
    assert lines[3].startswith(ship.CHANGE) and lines[3].endswith(
        "`impulse_detect` value → context, `impulse_min_share` 0.4 → 0.5. Measured: X.")
    assert entry["sha256"] in lines[4] and old["sha256"] not in lines[4]


@pytest.mark.parametrize("item, says", [
    ("arch=unet", "'arch' is not an inference-only field; pass one of impulse_min_share, impulse_detect"),
    ("impulse_detect=median", "'median' is invalid for impulse_detect; pass value or context"),
    ("impulse_min_share=1.5", "'1.5' is invalid for impulse_min_share; pass a number in (0, 1]"),
    ("impulse_min_share=half", "'half' is invalid for impulse_min_share; pass a number in (0, 1]"),
])
def test_ship_set_takes_only_inference_fields_with_valid_values(item, says, capsys):
    from denoisebench_neural import ship

    with pytest.raises(SystemExit) as exit_:
        ship.main(["--reship", "cnn", "--set", item, "--reason", "r"])
    assert exit_.value.code == 2 and says in capsys.readouterr().err


def test_garbage_file_is_unavailable_not_crash(tmp_path):
    from denoisebench_neural.denoisers import CNNDenoiser

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    den = CNNDenoiser(weights=str(bad), device="cpu")
    with pytest.raises(UnavailableError) as err:
        den.denoise(np.zeros((8, 8), np.float32))
    assert "\n" not in str(err.value)


def test_denoiser_wrong_kind_and_colour(tmp_path):
    from denoisebench_neural.denoisers import CNNDenoiser, HybridDenoiser

    path = _write_weights(tmp_path, "cnn")
    with pytest.raises(UnavailableError, match="cnn"):
        HybridDenoiser(weights=str(path), device="cpu").denoise(np.zeros((8, 8), np.float32))
    den = CNNDenoiser(weights=str(path), device="cpu")
    rgb = np.stack([smooth_image(24, 20, s) for s in range(3)], axis=2)
    keep = rgb.copy()
    out = den.denoise(rgb)
    assert out.shape == rgb.shape and out.dtype == np.float32 and np.array_equal(rgb, keep)
    gray = den.denoise(np.ascontiguousarray(rgb[:, :, 1]))
    assert np.abs(out[:, :, 1] - gray).max() < 1e-6


def test_train_smoke_and_resume(tmp_path):
    import cv2
    from denoisebench_neural.train import TrainOptions, train

    data = tmp_path / "data"
    data.mkdir()
    for i in range(7):
        cv2.imwrite(str(data / f"im{i}.png"), (smooth_image(48, 56, i) * 255).astype(np.uint8))
    opts = TrainOptions(model="hybrid", data=str(data), out=str(tmp_path / "run"), epochs=1, epoch_size=8,
                        batch_size=4, patch_size=32, channels=8, blocks=1, val_crop=32, threads=1)
    events = []
    summary = train(opts, lambda kind, **info: events.append(kind))
    assert summary["steps"] == 2 and {"start", "step", "epoch", "done"} <= set(events)
    run = tmp_path / "run"
    model, meta = weights.load_file(run / "best.safetensors")
    assert model.cfg.kind == "hybrid" and meta["step"] == 2
    assert set(summary["test"]["psnr_type"]) == {"gaussian", "speckle", "salt_pepper", "mixed"}
    opts.epochs, opts.resume = 2, True
    summary = train(opts)
    assert summary["steps"] == 4
    assert [h["step"] for h in json.loads((run / "history.json").read_text())] == [2, 4]


def test_train_init_starts_from_a_weights_file_and_refuses_another_architecture(tmp_path):
    import cv2
    import torch
    from denoisebench_neural.train import TrainOptions, train

    from denoisebench.errors import ConfigError

    data = tmp_path / "data"
    data.mkdir()
    for i in range(7):
        cv2.imwrite(str(data / f"im{i}.png"), (smooth_image(48, 56, i) * 255).astype(np.uint8))
    base = dict(model="cnn", data=str(data), epochs=1, epoch_size=8, batch_size=4, patch_size=32, channels=8,
                blocks=1, val_crop=32, threads=1)
    train(TrainOptions(**base, out=str(tmp_path / "a")))
    start, _ = weights.load_file(tmp_path / "a" / "best.safetensors")
    # lr tiny: the fine-tuned tensors stay next to the start's, far from a fresh initialisation's
    opts = TrainOptions(**base, out=str(tmp_path / "b"), init=str(tmp_path / "a" / "best.safetensors"), lr=1e-9,
                        impulse_detect="context", impulse_min_share=0.6)
    train(opts)
    tuned, _ = weights.load_file(tmp_path / "b" / "best.safetensors")
    assert tuned.cfg.impulse_detect == "context" and tuned.cfg.impulse_min_share == 0.6
    for (name, a), b in zip(start.state_dict().items(), tuned.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), name
    with pytest.raises(ConfigError, match="channels=8 .options: 16."):
        train(TrainOptions(**{**base, "channels": 16}, out=str(tmp_path / "c"), init=opts.init))


def test_batches_are_seeded():
    from denoisebench_neural.data import PatchSampler

    imgs = [smooth_image(48, 48, i) for i in range(3)]
    a = PatchSampler(imgs, 32, seed=3).batch(7, 4)
    b = PatchSampler(imgs, 32, seed=3).batch(7, 4)
    c = PatchSampler(imgs, 32, seed=3).batch(8, 4)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])


def test_plugin_import_does_not_import_torch():
    code = "import sys, denoisebench_neural.plugin; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plugin_registers_denoisers_and_train_command():
    import argparse

    from denoisebench_neural import plugin

    from denoisebench.registry import Registry

    reg = Registry("denoiser")
    plugin.denoisebench_register_denoisers(reg)
    assert {"cnn", "hybrid"} <= set(reg.names())
    parser = argparse.ArgumentParser()
    plugin.denoisebench_add_commands(parser.add_subparsers())
    args = parser.parse_args(["train", "cnn", "--epochs", "3", "--budget-minutes", "5"])
    assert args.model == "cnn" and args.epochs == 3 and args.batch_size == 32 and args.lr == 1e-3


@pytest.mark.parametrize("name", ["cnn", "hybrid"])
def test_shipped_weights_denoise(name):
    if name not in weights.manifest():
        pytest.skip("no shipped weights yet")
    from denoisebench_neural.denoisers import CNNDenoiser, HybridDenoiser

    from denoisebench.builtin.noise import Gaussian
    from denoisebench.images import load_image

    path = DATA / "set12" / "01.png"
    if not path.is_file():
        pytest.skip("Set12 not available")
    clean = load_image(path, gray=True)[64:192, 64:192]
    noisy = Gaussian(sigma=25).apply(clean, np.random.default_rng(0))
    den = (CNNDenoiser if name == "cnn" else HybridDenoiser)(device="cpu")
    out = den.denoise(noisy)

    def psnr(a, b):
        return 10 * np.log10(1 / np.mean((a - b) ** 2))

    assert psnr(clean, out) > psnr(clean, noisy) + 5  # measured: +5.95 (cnn), +6.05 (hybrid) dB


def test_user_weights_file_missing_is_one_line(tmp_path):
    with pytest.raises(UnavailableError) as err:
        weights.load_file(tmp_path / "nope.safetensors")
    assert "missing" in str(err.value) and "denoisebench train" in str(err.value) and "\n" not in str(err.value)


def test_core_cli_has_train_command():
    exe = Path(sys.executable).with_name("denoisebench")
    if not exe.exists():
        pytest.skip("denoisebench console script not installed")
    out = subprocess.run([str(exe), "train", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--budget-minutes" in out.stdout and "--resume" in out.stdout


@pytest.mark.parametrize("name", ["cnn", "hybrid"])
def test_cells_record_which_shipped_weights_they_used(name):
    from denoisebench_neural import denoisers

    cls = {c.name: c for c in (denoisers.CNNDenoiser, denoisers.HybridDenoiser)}[name]
    sha = weights.manifest()[name]["sha256"]
    assert cls.default_params()["weights"] == f"shipped:{sha[:12]}"
    stale = cls(**{**cls.default_params(), "weights": "shipped:000000000000"})
    with pytest.raises(UnavailableError, match="start a new run"):
        stale.denoise(np.zeros((32, 32), np.float32))


def test_middle_hybrid_starts_as_the_cnn():
    """rnn_position='middle': same CNN and head initialisation as the CNN-only model, zero-initialised fusion, so the
    ablation differs only by what the recurrent branch learns."""
    torch.manual_seed(0)
    cnn = build(ModelConfig(kind="cnn"))
    torch.manual_seed(0)
    hybrid = build(ModelConfig(kind="hybrid", rnn_position="middle"))
    x = torch.rand(2, 1, 40, 52)
    with torch.no_grad():
        assert torch.equal(cnn(x), hybrid(x))
    assert all(torch.equal(v, hybrid.state_dict()[k]) for k, v in cnn.state_dict().items())
    assert param_count(hybrid) > param_count(cnn)


def test_fill_impulses_is_normalised_convolution():
    """Flagged pixels (exactly 0 or 1) get the mean of the unflagged pixels in the smallest window that has one;
    every other pixel is untouched. Checked against a direct numpy loop."""
    from denoisebench_neural.models import fill_impulses

    rng = np.random.default_rng(3)
    x = rng.uniform(0.05, 0.95, (23, 31)).astype(np.float32)
    x[rng.random(x.shape) < 0.6] = 0.0
    x[rng.random(x.shape) < 0.2] = 1.0
    x[:6, :6] = 1.0  # a block that needs the 5×5 / 7×7 windows
    mask, filled = fill_impulses(torch.from_numpy(x)[None, None])
    mask, filled = mask[0, 0].numpy(), filled[0, 0].numpy()
    flagged = (x <= 0) | (x >= 1)
    assert np.array_equal(mask.astype(bool), flagged)
    want = x.copy()
    for i, j in zip(*np.nonzero(flagged)):
        for r in (1, 2, 3):
            win = x[max(0, i - r):i + r + 1, max(0, j - r):j + r + 1]
            ok = (win > 0) & (win < 1)
            if ok.any():
                want[i, j] = win[ok].mean()
                break
    assert np.allclose(filled, want, atol=1e-6)
    assert np.array_equal(filled[~flagged], x[~flagged])


def test_impulse_front_end_model_and_old_configs():
    """impulse_mask=True: 12 input channels, output = filled image − residual (so a fresh model is ≈ the filled
    image); a config saved without the field (the first shipped weights) still builds the 4-channel model."""
    from denoisebench_neural.models import fill_impulses

    torch.manual_seed(0)
    model = build(ModelConfig(kind="hybrid", rnn_position="middle", impulse_mask=True, channels=8, blocks=2,
                              rnn_channels=4, rnn_hidden=4)).eval()
    assert model.cnn[0].in_channels == 12
    x = torch.rand(1, 1, 30, 42)
    x[x < 0.1] = 0.0
    with torch.no_grad():
        y = model(x)
        _, filled = fill_impulses(x)
    assert y.shape == x.shape and float((y - filled).abs().max()) < 0.05  # head starts near zero
    old = ModelConfig.from_dict({"kind": "cnn", "channels": 8, "blocks": 1})
    assert old.impulse_mask is False and build(old).cnn[0].in_channels == 4


def test_tiled_equals_untiled_with_impulse_front_end():
    torch.manual_seed(0)
    model = build(ModelConfig(kind="cnn", channels=8, blocks=1, impulse_mask=True)).eval()
    img = smooth_image(200, 236, seed=2)
    img[np.random.default_rng(0).random(img.shape) < 0.3] = 1.0
    dev = torch.device("cpu")
    whole = inference.denoise_gray(model, img, dev, tile=512)
    tiled = inference.denoise_gray(model, img, dev, tile=96, overlap=64, batch=3)
    # receptive field: the CNN's ~10 px plus the front end's 3 px, inside the discarded margin (16 px)
    assert np.abs(whole - tiled).max() < 1e-5


def test_tiled_equals_untiled_with_context_front_end():
    """As above with the shipped models' context detector (share 0.6): its 7x7 counts and the fill widen the front
    end's reach to 6 px, still inside the discarded margin; the image has a true black region and a true white one."""
    torch.manual_seed(0)
    model = build(ModelConfig(kind="cnn", channels=8, blocks=1, impulse_mask=True, impulse_detect="context",
                              impulse_min_share=0.6)).eval()
    img = smooth_image(200, 236, seed=2)
    img[20:120, 30:110], img[90:180, 150:220] = 0.0, 1.0
    rng = np.random.default_rng(0)
    hit = rng.random(img.shape) < 0.3
    img[hit] = (rng.random(img.shape) < 0.5)[hit].astype(img.dtype)
    dev = torch.device("cpu")
    whole = inference.denoise_gray(model, img, dev, tile=512)
    tiled = inference.denoise_gray(model, img, dev, tile=160, overlap=96, batch=3)
    # the CNN's receptive field plus the context front end's reach (7x7 counts, then the <= 7x7 fill) lies inside
    # the discarded margin (24 px); with overlap 32 (an 8-px margin) the tiles differ by 3e-5 (measured)
    assert np.abs(whole - tiled).max() < 1e-5


def test_shipped_cnn_architecture_tiles_without_changing_the_result():
    """The shipped CNN's receptive field (front end included) fits the default tiling's discarded margin."""
    torch.manual_seed(0)
    model = build(ModelConfig(kind="cnn", impulse_mask=True)).eval()
    for p in model.parameters():  # random, non-zero weights everywhere (trained-like, not the identity start)
        torch.nn.init.normal_(p, std=0.05)
    img = smooth_image(300, 560, seed=4)
    img[np.random.default_rng(1).random(img.shape) < 0.2] = 0.0
    dev = torch.device("cpu")
    whole = inference.run_model(model, img[None], dev)[0]
    tiled = inference.denoise_gray(model, img, dev, tile=256)  # default overlap 128: 3×2 tiles
    inner = np.clip(whole, 0, 1)
    assert np.abs(inner - tiled).max() < 1e-5  # measured 1.2e-7; overlap 64 gives 1.9e-4


# ------------------------------------------------------------------ round 4: multi-scale encoder–decoder (arch=unet)


def tiny_unet(kind: str, seed: int = 0, cell: str = "lstm", **kw):
    torch.manual_seed(seed)
    cfg = dict(kind=kind, arch="unet", channels=8, width2=12, width3=16, blocks=1, mid_blocks=2, rnn_hidden=6,
               rnn_cell=cell, impulse_mask=True, impulse_detect="context")
    return build(ModelConfig(**{**cfg, **kw})).eval()


@pytest.mark.parametrize("kind", ["cnn", "hybrid"])
@pytest.mark.parametrize("shape", [(37, 53), (64, 64), (5, 9), (1, 3), (321, 481)])
def test_unet_shapes_any_size(kind, shape):
    model = tiny_unet(kind)
    assert model.multiple == model.tile_grid == 8
    x = torch.rand(2, 1, *shape)
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_unet_cnn_is_the_hybrid_without_its_recurrent_branch(cell):
    """Same trunk parameters (names, shapes, initial values for one seed); the hybrid adds only rnn.* and fuse.*;
    the fusion starts at zero, so the untrained hybrid computes exactly the CNN."""
    cnn, hyb = tiny_unet("cnn"), tiny_unet("hybrid", cell=cell)
    c, h = cnn.state_dict(), hyb.state_dict()
    assert set(h) - set(c) and all(k.startswith(("rnn.", "fuse.")) for k in set(h) - set(c))
    assert set(c) <= set(h) and all(torch.equal(v, h[k]) for k, v in c.items())
    assert type(hyb.rnn.rows.rnn).__name__ == cell.upper()
    x = torch.rand(2, 1, 40, 56)
    with torch.no_grad():
        assert torch.equal(cnn(x), hyb(x))


def test_unet_hybrid_sees_the_whole_image_and_the_cnn_does_not():
    """A change in one corner of a 256×256 image reaches the opposite corner through the recurrent branch (row then
    column scans over the whole 1/8-resolution map); the CNN's receptive field (±62 px) does not."""
    cnn, hyb = tiny_unet("cnn"), tiny_unet("hybrid")
    for m in (cnn, hyb):
        for p in m.parameters():
            torch.nn.init.normal_(p, std=0.05)
    h = hyb.cfg.rnn_hidden
    for scan in (hyb.rnn.rows.rnn, hyb.rnn.cols.rnn):  # a cell that remembers: forget-gate bias 5 (LSTM gates i,f,g,o)
        for name, p in scan.named_parameters():
            if name.startswith("bias_ih"):
                p.data[h:2 * h] = 5.0
    cnn, hyb = cnn.double(), hyb.double()  # float64: the far-field change is small, keep it above rounding
    x = torch.rand(1, 1, 256, 256, dtype=torch.float64) * 0.8 + 0.1
    x2 = x.clone()
    x2[..., :8, :8] = 0.9
    with torch.no_grad():
        d_cnn = (cnn(x) - cnn(x2))[..., -16:, -16:].abs().max()
        d_hyb = (hyb(x) - hyb(x2))[..., -16:, -16:].abs().max()
    assert d_cnn == 0 and d_hyb > 1e-10  # measured 2.8e-8


def test_round3_configs_still_build_the_flat_network():
    old = ModelConfig.from_dict({"kind": "hybrid", "channels": 48, "blocks": 4, "rnn_position": "middle",
                                 "impulse_mask": True})
    assert old.arch == "flat" and old.impulse_detect == "value"
    model = build(old)
    assert model.multiple == 4 and param_count(model) == 262068  # the round-3 shipped hybrid
    assert model.tile_grid == 1  # its tiles are cut as when its results were recorded
    with pytest.raises(ValueError, match="flat|unet"):
        build(ModelConfig(arch="resnet"))


def test_unet_train_smoke_with_patch_sizes_and_resume(tmp_path):
    from denoisebench_neural.train import TrainOptions, train

    data = tmp_path / "imgs"
    data.mkdir()
    import cv2

    for i in range(7):  # 5 / 1 / 1 train / validation / test
        cv2.imwrite(str(data / f"{i}.png"), (smooth_image(72, 80, seed=i) * 255).astype(np.uint8))
    opts = TrainOptions(model="hybrid", arch="unet", data=str(data), out=str(tmp_path / "run"), epochs=1,
                        epoch_size=8, batch_size=2, patch_size=32, patch_sizes="16,32,48", channels=4, width2=4,
                        width3=4, blocks=1, mid_blocks=1, rnn_hidden=2, impulse_detect="context", saturate=0.5,
                        val_crop=32, threads=1, rnn_cell="gru")
    first = train(opts)
    assert first["steps"] == 4
    opts.epochs, opts.resume = 2, True
    second = train(opts)
    assert second["steps"] == 8 and len(json.loads((tmp_path / "run" / "history.json").read_text())) == 2
    model, meta = weights.load_file(tmp_path / "run" / "best.safetensors")
    assert model.cfg.arch == "unet" and model.cfg.rnn_cell == "gru" and model.cfg.impulse_detect == "context"


def test_patch_sizes_keep_pixels_per_step_and_saturate_makes_true_extremes():
    from denoisebench_neural.data import PatchSampler

    ims = [smooth_image(100, 100, seed=s) for s in range(3)]
    sampler = PatchSampler(ims, 32, seed=0, sizes=(16, 32, 64), saturate=1.0)
    seen = set()
    for step in range(30):
        noisy, clean = sampler.batch(step, 8)
        side = clean.shape[-1]
        seen.add(side)
        assert clean.shape[0] == max(1, round(8 * (32 / side) ** 2))
        assert ((clean == 0) | (clean == 1)).mean() > 0.05  # every patch stretched until it clips
    assert seen == {16, 32, 64}
    a, b = sampler.batch(5, 8), sampler.batch(5, 8)
    assert np.array_equal(a[0], b[0])
