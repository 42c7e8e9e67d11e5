"""Built-in datasets: embedded (offline), folder, standard sets (local copy, checksums, download via pooch)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import pickle
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from denoisebench.builtin import datasets as bd
from denoisebench.builtin import standard_sets as ss
from denoisebench.datasets import dataset_from_spec
from denoisebench.errors import (
    ChecksumError,
    ConfigError,
    DatasetError,
    ImageError,
    ParameterError,
    UnknownNameError,
)
from denoisebench.images import save_image, to_gray
from denoisebench.pluginmanager import make_plugins
from denoisebench.selection import format_dataset_spec, parse_dataset_spec, parse_value

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not (SHARED / "set12").is_dir(), reason="shared/datasets not available")


@pytest.fixture(scope="module")
def plugins():
    return make_plugins(extra_plugins=[("datasets_under_test", bd)], load_entrypoints=False)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.delenv(ss.DATA_ENV, raising=False)
    monkeypatch.setenv(ss.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ----------------------------------------------------------------------------------------------- embedded


def test_registered_through_the_hook(plugins):
    names = set(plugins.datasets.names())
    assert {"embedded", "embedded_color", "folder", "set12", "bsd68", "cbsd68", "kodak24", "kodak24_crop500",
            "mcmaster", "urban100", "train400"} <= names
    assert plugins.datasets.provider("set12").plugin == "datasets_under_test"


def test_entry_point_declares_the_plugin():
    p = make_plugins()
    assert p.status["datasets"].status == "ok", p.status["datasets"].reason
    assert "embedded" in p.status["datasets"].provides["datasets"]


def test_embedded_loads_offline_gray_256(monkeypatch, plugins):
    def no_network(*a, **k):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    ds = dataset_from_spec(plugins, "embedded")
    records = list(ds)
    assert len(records) >= 8 and len(ds) == len(records)
    for rec in records:
        assert rec.image.shape == (256, 256) and rec.image.dtype == np.float32
        assert 0.0 <= rec.image.min() and rec.image.max() <= 1.0 and rec.image.std() > 0.02
        assert rec.provenance["license"] and rec.provenance["sha256_matches_pinned"]
    import skimage.data

    cam = skimage.data.camera().astype(np.float32) / 255
    assert np.array_equal(ds.load("camera"), cam[128:384, 128:384])
    astro = to_gray(skimage.data.astronaut().astype(np.float32) / 255)[128:384, 128:384]
    assert np.allclose(ds.load("astronaut"), astro, atol=1e-6)
    coffee = skimage.data.coffee()  # 400x600: centre crop at (72, 172)
    assert np.allclose(ds.load("coffee"), to_gray(coffee[72:328, 172:428].astype(np.float32) / 255), atol=1e-6)


def test_embedded_color_and_crop_option(plugins):
    ds = dataset_from_spec(plugins, "embedded_color")
    assert ds.ids() == ["astronaut", "coffee", "chelsea", "rocket"] and ds.color
    assert ds.load("chelsea").shape == (256, 256, 3)
    full = dataset_from_spec(plugins, "embedded:crop=0")
    assert full.load("coins").shape == (303, 384)
    assert dataset_from_spec(plugins, "embedded", crop=300).load("chelsea").shape == (300, 300)
    with pytest.raises(ParameterError, match="crop=-1"):
        dataset_from_spec(plugins, "embedded:crop=-1")
    with pytest.raises(DatasetError, match="no image 'lena'"):
        ds.load("lena")


# ----------------------------------------------------------------------------------------------- folder


def _rand(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_folder_lists_images_and_skips_other_files(tmp_path, plugins):
    save_image(tmp_path / "b10.png", _rand((20, 30)))
    save_image(tmp_path / "b2.png", _rand((16, 16, 3), 1))
    (tmp_path / "README.txt").write_text("not an image")
    (tmp_path / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (tmp_path / "sub").mkdir()
    ds = dataset_from_spec(plugins, str(tmp_path))  # a bare folder path
    assert ds.name == "folder" and ds.ids() == ["b2.png", "b10.png"] and ds.skipped == ["README.txt"]
    assert ds.load("b10.png").shape == (20, 30) and ds.load("b2.png").shape == (16, 16, 3)
    gray = dataset_from_spec(plugins, f"folder:{tmp_path},gray=true")
    assert gray.load("b2.png").shape == (16, 16)
    rgb = dataset_from_spec(plugins, f"folder:path={tmp_path},gray=false")
    assert rgb.load("b10.png").shape == (20, 30, 3)
    prov = ds.provenance("b2.png")
    assert prov["sha256"] == sha(tmp_path / "b2.png") and prov["path"] == str(tmp_path / "b2.png")


def test_folder_bad_files_are_one_line_errors_naming_the_file(tmp_path, plugins):
    save_image(tmp_path / "ok.png", _rand((8, 8)))
    (tmp_path / "notes.png").write_text("this is text, not a PNG")
    with pytest.raises(DatasetError) as err:
        dataset_from_spec(plugins, f"folder:{tmp_path}").ids()
    msg = str(err.value)
    assert str(tmp_path / "notes.png") in msg and "\n" not in msg

    (tmp_path / "notes.png").unlink()
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"empty\.jpg is empty"):
        dataset_from_spec(plugins, f"folder:{tmp_path}").ids()

    (tmp_path / "empty.jpg").unlink()
    good = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(good[:40])  # PNG signature, broken body: fails when loaded
    ds = dataset_from_spec(plugins, f"folder:{tmp_path}")
    assert ds.ids() == ["ok.png", "truncated.png"]
    with pytest.raises(ImageError, match=r"truncated\.png"):
        ds.load("truncated.png")


def test_folder_missing_empty_and_bad_options(tmp_path, plugins):
    with pytest.raises(DatasetError, match=f"{tmp_path / 'nope'} does not exist"):
        dataset_from_spec(plugins, f"folder:{tmp_path / 'nope'}").ids()
    with pytest.raises(DatasetError, match="no such folder"):
        dataset_from_spec(plugins, str(tmp_path / "nope"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=f"no image files in {tmp_path} \\(1 other files skipped\\)"):
        dataset_from_spec(plugins, f"folder:{tmp_path}").ids()
    with pytest.raises(DatasetError, match="is a file, not a folder"):
        dataset_from_spec(plugins, f"folder:{tmp_path / 'notes.txt'}").ids()
    with pytest.raises(ParameterError, match="path is required"):
        dataset_from_spec(plugins, "folder")
    with pytest.raises(ParameterError, match="gray='maybe'"):
        dataset_from_spec(plugins, f"folder:{tmp_path},gray=maybe")
    with pytest.raises(ParameterError, match="unknown parameter 'colour'"):
        dataset_from_spec(plugins, f"folder:{tmp_path},colour=1")


# ----------------------------------------------------------------------------------------------- specs


def test_spec_parsing(plugins):
    assert parse_value("TRUE") is True and parse_value("off") is False and parse_value("none") is None
    assert parse_value("25") == 25 and parse_value("0.5") == 0.5 and parse_value("/a/b") == "/a/b"
    reg = plugins.datasets
    assert parse_dataset_spec("set12", reg) == ("set12", {})
    assert parse_dataset_spec("set12:root=/x,verify=false", reg) == ("set12", {"root": "/x", "verify": False})
    assert parse_dataset_spec("set12:/data", reg) == ("set12", {"root": "/data"})
    assert parse_dataset_spec("set12:mirror=http://127.0.0.1:8000/m", reg)[1] == {
        "mirror": "http://127.0.0.1:8000/m"}
    with pytest.raises(UnknownNameError, match="unknown dataset 'set13'"):
        parse_dataset_spec("set13", reg)
    with pytest.raises(ConfigError, match="'a' is not key=value"):
        parse_dataset_spec("embedded:crop=1,a", reg)
    with pytest.raises(ConfigError, match="empty dataset spec"):
        parse_dataset_spec("  ", reg)
    with pytest.raises(ParameterError, match="unknown parameter 'bogus'"):
        dataset_from_spec(plugins, "set12:bogus=1")
    assert format_dataset_spec("set12", {"root": "/x", "verify": False, "mirror": None}) == \
        "set12:root=/x,verify=false"


def test_dataset_classes_pickle_by_reference(plugins):
    cls = plugins.datasets.get("kodak24")
    assert pickle.loads(pickle.dumps(cls)) is cls


def test_packaged_hashes_cover_every_standard_set():
    counts = {k: len(v) for k, v in ss.load_hashes().items()}
    expected = {"set12": 12, "bsd68": 68, "cbsd68": 68, "kodak24": 24, "kodak24_crop500": 24,
                "mcmaster": 18, "urban100_gray": 100, "train400": 400}
    assert {info.folder: counts[info.folder] for info in ss.SETS.values()} == expected
    if (SHARED / "all-sets.sha256").is_file():
        ours = Path(ss.__file__).parents[1] / "data" / ss.HASH_FILE
        assert ours.read_bytes() == (SHARED / "all-sets.sha256").read_bytes()


# ----------------------------------------------------------------------------------------------- local copies


@needs_shared
def test_standard_sets_from_local_root_are_verified(monkeypatch, plugins):
    ds = dataset_from_spec(plugins, f"set12:root={SHARED}")
    assert ds.ids() == [f"{i:02d}" for i in range(1, 13)]
    img = ds.load("08")
    assert img.shape == (512, 512) and img.dtype == np.float32
    prov = ds.provenance("01")
    assert prov["sha256"] == sha(SHARED / "set12" / "01.png") and prov["verified"] and prov["local_copy"]
    assert prov["source"].startswith("https://raw.githubusercontent.com/cszn/FFDNet/")
    monkeypatch.setenv(ss.DATA_ENV, str(SHARED))
    colour = dataset_from_spec(plugins, "cbsd68")
    ids = colour.ids()
    assert len(ids) == 68 and ids[0] == "101085" and colour.load(ids[0]).shape[2] == 3
    gray = dataset_from_spec(plugins, "bsd68")
    assert gray.load("test001").ndim == 2  # test001 is the gray version of cbsd68's first file (MANIFEST)
    assert np.abs(gray.load("test001") - to_gray(colour.load(ids[0]))).max() <= 1.01 / 255


def _local_copy(tmp_path: Path, folder="set12") -> Path:
    root = tmp_path / "data"
    shutil.copytree(SHARED / folder, root / folder)
    return root


@needs_shared
def test_corrupted_local_copy_raises_checksum_error_naming_the_file(tmp_path, plugins):
    root = _local_copy(tmp_path)
    bad = root / "set12" / "05.png"
    expected = sha(bad)
    data = bytearray(bad.read_bytes())
    data[-20] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as err:
        dataset_from_spec(plugins, f"set12:root={root}").ids()
    msg = str(err.value)
    assert str(bad) in msg and expected in msg and sha(bad) in msg and "\n" not in msg
    with pytest.raises(ChecksumError, match=r"05\.png"):
        dataset_from_spec(plugins, "set12", root=str(root)).load("05")
    assert len(dataset_from_spec(plugins, f"set12:root={root},verify=false").ids()) == 12


@needs_shared
def test_incomplete_or_absent_local_copy(tmp_path, plugins):
    root = _local_copy(tmp_path)
    (root / "set12" / "11.png").unlink()
    with pytest.raises(DatasetError, match=r"11\.png is missing"):
        dataset_from_spec(plugins, f"set12:root={root}").ids()
    with pytest.raises(DatasetError, match=f"no folder {root / 'bsd68'}"):
        dataset_from_spec(plugins, f"bsd68:root={root}").ids()


# ----------------------------------------------------------------------------------------------- downloads


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """A tiny HTTP server on 127.0.0.1 serving ``<served>/<folder>/<file>``."""
    served = tmp_path / "served"
    served.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@needs_shared
def test_download_with_pooch_is_verified_and_cached(tmp_path, monkeypatch, plugins, mirror):
    served, url = mirror
    shutil.copytree(SHARED / "set12", served / "set12")
    monkeypatch.setenv(ss.DATA_ENV, str(tmp_path / "empty_root"))  # set lacks set12: falls through to the cache
    ds = dataset_from_spec(plugins, f"set12:mirror={url}")
    assert len(ds.ids()) == 12
    cached = tmp_path / "cache" / "set12"
    assert sorted(p.name for p in cached.iterdir()) == sorted(p.name for p in (SHARED / "set12").iterdir())
    assert all(sha(cached / f) == h for f, h in ss.load_hashes()["set12"].items())
    assert np.array_equal(ds.load("03"), dataset_from_spec(plugins, f"set12:root={SHARED}").load("03"))
    assert ds.provenance("03")["path"] == str(cached / "03.png") and not ds.provenance("03")["local_copy"]

    shutil.rmtree(served / "set12")  # the server is now empty: the cache alone must serve the set
    again = dataset_from_spec(plugins, f"set12:mirror={url},download=false")
    assert len(again.ids()) == 12 and again.load("12").shape == (512, 512)

    (cached / "07.png").write_bytes(b"corrupt")  # a bad cached file is fetched again, and that fails here
    with pytest.raises(DatasetError, match=rf"download failed: {url}/set12/07\.png: .*{ss.DATA_ENV}"):
        dataset_from_spec(plugins, f"set12:mirror={url}").ids()
    with pytest.raises(DatasetError, match=r"07\.png is not in the cache and download=false"):
        dataset_from_spec(plugins, f"set12:mirror={url},download=false").load("07")


@needs_shared
def test_download_hash_mismatch_is_rejected_and_not_kept(tmp_path, plugins, mirror):
    served, url = mirror
    (served / "set12").mkdir()
    src = SHARED / "set12" / "02.png"
    data = bytearray(src.read_bytes())
    data[100] ^= 0x01
    (served / "set12" / "02.png").write_bytes(bytes(data))
    ds = dataset_from_spec(plugins, f"set12:mirror={url}")
    with pytest.raises(ChecksumError) as err:
        ds.load("02")
    msg = str(err.value)
    assert f"{url}/set12/02.png" in msg and sha(src) in msg and hashlib.sha256(data).hexdigest() in msg
    assert "\n" not in msg
    assert not (tmp_path / "cache" / "set12" / "02.png").exists()


def test_unreachable_download_names_url_and_local_alternative(plugins):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ds = dataset_from_spec(plugins, f"mcmaster:mirror=http://127.0.0.1:{port}")
    with pytest.raises(DatasetError) as err:
        ds.ids()
    msg = str(err.value)
    assert msg.startswith(f"download failed: http://127.0.0.1:{port}/mcmaster/")
    assert ss.DATA_ENV in msg and "mcmaster:root=" in msg and "\n" not in msg
