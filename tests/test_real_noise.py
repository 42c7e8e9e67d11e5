"""Real-world noise: paired datasets (polyu, pairs:PATH, sidd, nam), the captured setting ``real``, noise-level
estimates for non-blind denoisers, the per-group breakdown tables, and the refusals of bad pairs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import estimate_sigma

from denoisebench import hookimpl
from denoisebench.baseline.drift import compare_sides
from denoisebench.baseline.file import load_side
from denoisebench.cli import main
from denoisebench.config import Config
from denoisebench.datasets import dataset_from_spec
from denoisebench.engine.grid import make_plan
from denoisebench.engine.worker import run_task
from denoisebench.errors import DenoiseBenchError
from denoisebench.interfaces import Dataset, Denoiser
from denoisebench.pluginmanager import make_plugins
from denoisebench.reporting.tables import build_report
from denoisebench.store import Store

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
needs_polyu = pytest.mark.skipif(not (SHARED / "polyu_cropped").is_dir(), reason="shared/datasets/polyu_cropped "
                                 "not available")


@pytest.fixture(scope="module")
def plugins():
    return make_plugins()


def write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    assert cv2.imwrite(str(path), arr[..., ::-1] if arr.ndim == 3 else arr)
    return path


def pair(seed: int, shape=(24, 20, 3)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.2, 0.7, shape[1]).reshape((1, -1) + (1,) * (len(shape) - 2)) + 0.02 * seed
    clean = np.broadcast_to(ramp, shape).copy()
    return clean, np.clip(clean + rng.normal(0, 0.05, shape), 0, 1)


def read(path: Path) -> np.ndarray:
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return (arr[..., ::-1] if arr.ndim == 3 else arr).astype(np.float64) / 255.0


def cells_of(run_dir: Path):
    with Store(run_dir) as store:
        return store.cells()


# ------------------------------------------------------------------------------------------ contract


def test_existing_datasets_are_not_paired_and_keep_working(plugins):
    ds = dataset_from_spec(plugins, "embedded:crop=32")
    assert Dataset.paired is False and ds.paired is False and ds.groups("camera") == {}
    with pytest.raises(DenoiseBenchError, match="not paired"):
        ds.noisy("camera")


def test_real_needs_a_paired_dataset(plugins, capsys):
    with pytest.raises(DenoiseBenchError, match="only for paired datasets") as exc:
        make_plan(Config(datasets=("embedded:crop=32",), noise=("real",), denoisers=("median",)), plugins)
    assert "\n" not in str(exc.value) and "embedded" in str(exc.value)
    assert main(["run", "--dataset", "embedded:crop=32", "--noise", "real", "--denoisers", "median", "--dry-run"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------ pairs:


@pytest.fixture
def suffix_folder(tmp_path) -> Path:
    folder = tmp_path / "captures"
    for i, name in enumerate(["a", "b", "c10", "c2"]):
        clean, noisy = pair(i)
        write(folder / f"{name}_clean.png", clean)
        write(folder / f"{name}_noisy.png", noisy)
    return folder


def test_pairs_suffix_scheme_ids_label_and_values(plugins, suffix_folder, tmp_path):
    ds = dataset_from_spec(plugins, f"pairs:{suffix_folder}")
    assert ds.ids() == ["a", "b", "c2", "c10"]  # natural order
    clean, noisy = ds.pair("b")
    np.testing.assert_allclose(clean, read(suffix_folder / "b_clean.png"), atol=1e-6)
    np.testing.assert_allclose(noisy, read(suffix_folder / "b_noisy.png"), atol=1e-6)
    run_dir = tmp_path / "run"
    assert main(["run", "--dataset", f"pairs:{suffix_folder}", "--denoisers", "median", "--metrics", "psnr,ssim",
                 "--output", str(run_dir), "--quiet"]) == 0
    cells = cells_of(run_dir)
    assert set(cells["dataset"]) == {"pairs:captures"} and set(cells["noise"]) == {"real"}
    assert (cells["status"] == "ok").all() and len(cells) == 4 * 2
    noisy_rows = cells[cells["denoiser"] == "noisy"].set_index("image_id")
    for image_id in ds.ids():
        ref, cap = read(suffix_folder / f"{image_id}_clean.png"), read(suffix_folder / f"{image_id}_noisy.png")
        assert noisy_rows.loc[image_id, "psnr"] == pytest.approx(peak_signal_noise_ratio(ref, cap, data_range=1),
                                                                 abs=1e-4)
        sigma = estimate_sigma(cap, channel_axis=-1, average_sigmas=True) * 255
        assert noisy_rows.loc[image_id, "noise_sigma"] == pytest.approx(sigma, abs=1e-3)
    with Store(run_dir) as store:
        files = store.get_meta("dataset_files")["pairs:captures"]
        assert len(files) == 8 and all(len(h) == 64 for h in files.values())
        assert store.get_meta("plan")["paired"] == ["pairs:captures"]


def test_pairs_subfolder_scheme(plugins, tmp_path):
    folder = tmp_path / "scope"
    for i, name in enumerate(["x1", "x2"]):
        clean, noisy = pair(i, (16, 16))
        write(folder / "clean" / f"{name}.png", clean)
        write(folder / "noisy" / f"{name}.png", noisy)
    ds = dataset_from_spec(plugins, f"pairs:{folder}")
    assert ds.ids() == ["x1", "x2"]
    clean, noisy = ds.pair("x2")
    assert clean.shape == noisy.shape == (16, 16)
    np.testing.assert_allclose(noisy, read(folder / "noisy" / "x2.png"), atol=1e-6)


@pytest.mark.parametrize("layout, message", [
    ({"noisy/a.png": 1, "clean/a.png": 1, "b_noisy.png": 1, "b_clean.png": 1}, "mixes both naming schemes"),
    ({"noisy/a.png": 1}, "has noisy/ but no clean/"),
    ({"a.png": 1, "b.png": 1}, "no pairs found (2 image files without"),
])
def test_pairs_folder_refusals_are_one_line(plugins, tmp_path, layout, message):
    folder = tmp_path / "bad"
    for rel in layout:
        write(folder / rel, pair(0, (8, 8))[0])
    with pytest.raises(DenoiseBenchError) as exc:
        dataset_from_spec(plugins, f"pairs:{folder}").ids()
    assert message in str(exc.value) and "\n" not in str(exc.value) and str(folder) in str(exc.value)


def test_broken_pairs_are_error_rows_and_the_others_run(tmp_path, suffix_folder):
    write(suffix_folder / "lonely_noisy.png", pair(9)[1])             # no reference
    write(suffix_folder / "small_clean.png", pair(5, (10, 10, 3))[0])  # size mismatch
    write(suffix_folder / "small_noisy.png", pair(5, (12, 10, 3))[1])
    write(suffix_folder / "gray_clean.png", pair(6, (24, 20))[0])      # channel mismatch
    write(suffix_folder / "gray_noisy.png", pair(6, (24, 20, 3))[1])
    write(suffix_folder / "twice_clean.png", pair(7)[0])               # two references
    write(suffix_folder / "twice_gt.png", pair(7)[0])
    write(suffix_folder / "twice_noisy.png", pair(7)[1])
    run_dir = tmp_path / "run"
    assert main(["run", "--dataset", f"pairs:{suffix_folder}", "--denoisers", "median", "--metrics", "psnr",
                 "--output", str(run_dir), "--quiet"]) == 3  # failed cells: exit 3 unless --allow-errors
    cells = cells_of(run_dir)
    errors = cells[cells["status"] == "error"].drop_duplicates("image_id").set_index("image_id")["error"]
    assert set(errors.index) == {"lonely", "small", "gray", "twice"}
    assert "lonely_noisy.png has no reference (clean); expected lonely_clean.<ext>" in errors["lonely"]
    assert "size differs" in errors["small"] and "small_clean.png is 10x10x3" in errors["small"] \
        and "small_noisy.png is 10x12x3" in errors["small"]
    assert "channel count differs" in errors["gray"] and "20x24 gray" in errors["gray"]
    assert "has 2 clean files" in errors["twice"]
    assert all("\n" not in e for e in errors)
    ok = cells[cells["status"] == "ok"]
    assert set(ok["image_id"]) == {"a", "b", "c2", "c10"} and len(ok) == 8


# ------------------------------------------------------------------------------------------ mixing


def test_mixed_run_real_and_synthetic_on_the_reference(tmp_path, suffix_folder):
    run_dir = tmp_path / "mixed"
    assert main(["run", "--dataset", "embedded:crop=32", "--dataset", f"pairs:{suffix_folder}", "--max-images", "2",
                 "--noise", "real,gaussian:25", "--denoisers", "median,mean", "--metrics", "psnr",
                 "--output", str(run_dir), "--quiet"]) == 0
    cells = cells_of(run_dir)
    by = cells.groupby("dataset")["noise"].agg(lambda s: sorted(set(s)))
    assert by["embedded"] == ["gaussian"] and by["pairs:captures"] == ["gaussian", "real"]
    # gaussian on a paired dataset is drawn on the reference: its noisy PSNR is that of sigma 25, not the capture's
    g = cells[(cells["dataset"] == "pairs:captures") & (cells["noise"] == "gaussian") & (cells["denoiser"] == "noisy")]
    assert g["psnr"].between(19, 23).all() and g["noise_sigma"].isna().all()
    with Store(run_dir) as store:
        report = build_report(store)
    header = " ".join(report.header)
    assert "pairs:captures: paired dataset" in header and "applied to its reference images" in header
    mean_psnr = next(t for t in report.tables if t.key == "mean_psnr")
    assert [r[0] for r in mean_psnr.rows] == ["real", "gaussian 25"]  # in --noise order
    # the baseline compare treats real like any setting
    assert main(["compare", str(run_dir), str(run_dir)]) == 0
    assert {k[2] for k in load_side(run_dir).cells} >= {"real{}"}
    assert not compare_sides(load_side(run_dir), load_side(run_dir)).moved


def test_default_noise_gives_paired_datasets_only_real(plugins, suffix_folder):
    plan = make_plan(Config(datasets=("embedded:crop=32", f"pairs:{suffix_folder}"), denoisers=("median",),
                            max_images=1), plugins)
    assert plan.settings["pairs:captures"] == ["real{}"]
    assert "real{}" not in plan.settings["embedded"] and len(plan.settings["embedded"]) > 3


# ------------------------------------------------------------------------------------------ estimates


class Told(Denoiser):
    """Non-blind: records the noise spec it is told."""

    name = "told"
    needs_noise_level = True
    seen: list = []

    def denoise(self, noisy, *, noise=None, rng=None):
        Told.seen.append(noise)
        return noisy.copy()


class ToldPlugin:
    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        registry.add(Told)


def test_non_blind_denoisers_get_the_estimate_and_the_row_stores_it(suffix_folder):
    loaded = make_plugins(extra_plugins=[("told", ToldPlugin())])
    plan = make_plan(Config(datasets=(f"pairs:{suffix_folder}",), denoisers=("told", "median"), metrics=("psnr",),
                            max_images=1), loaded)
    Told.seen.clear()
    results = run_task(plan.tasks[0], plugins=loaded)
    cap = read(suffix_folder / "a_noisy.png")
    expected = estimate_sigma(cap, channel_axis=-1, average_sigmas=True) * 255
    assert len(Told.seen) == 2  # the untimed warm-up of the new instance, then the cell's call: both are told
    for spec in Told.seen:
        assert spec.model == "gaussian" and spec.kwargs["sigma"] == pytest.approx(expected, abs=1e-3)
    assert all(r.status == "ok" and r.metrics["noise_sigma"] == pytest.approx(expected, abs=1e-3) for r in results)


# ------------------------------------------------------------------------------------------ sidd, nam


def sidd_folder(tmp_path: Path, noisy_key="ValidationNoisyBlocksSrgb", shape=(2, 3, 8, 8, 3)) -> Path:
    folder = tmp_path / "sidd"
    folder.mkdir()
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 256, shape, dtype=np.uint8)
    noisy = np.clip(gt.astype(int) + rng.integers(-20, 21, shape), 0, 255).astype(np.uint8)
    scipy.io.savemat(folder / "ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": gt})
    scipy.io.savemat(folder / "ValidationNoisyBlocksSrgb.mat", {noisy_key: noisy})
    return folder


def test_sidd_blocks_from_mat_files(plugins, tmp_path):
    folder = sidd_folder(tmp_path)
    ds = dataset_from_spec(plugins, f"sidd:{folder}")
    assert ds.ids() == ["01_01", "01_02", "01_03", "02_01", "02_02", "02_03"]
    gt = scipy.io.loadmat(folder / "ValidationGtBlocksSrgb.mat")["ValidationGtBlocksSrgb"]
    noisy = scipy.io.loadmat(folder / "ValidationNoisyBlocksSrgb.mat")["ValidationNoisyBlocksSrgb"]
    clean, cap = ds.pair("02_03")
    np.testing.assert_array_equal(clean, gt[1, 2].astype(np.float32) / 255)
    np.testing.assert_array_equal(cap, noisy[1, 2].astype(np.float32) / 255)
    assert ds.groups("02_03") == {"image": "02"}


def test_sidd_reads_matlab_v73_with_h5py(plugins, tmp_path):
    h5py = pytest.importorskip("h5py")
    folder = tmp_path / "sidd73"
    folder.mkdir()
    data = {k: np.random.default_rng(1).integers(0, 256, (1, 2, 4, 4, 3), dtype=np.uint8)
            for k in ("ValidationGtBlocksSrgb", "ValidationNoisyBlocksSrgb")}
    for key, arr in data.items():
        with h5py.File(folder / f"{key}.mat", "w", userblock_size=512) as f:
            f[key] = arr.transpose()  # MATLAB v7.3 stores column-major
        with open(folder / f"{key}.mat", "r+b") as f:  # the MATLAB 7.3 header scipy recognises
            f.write(b"MATLAB 7.3 MAT-file".ljust(116) + b"\x00" * 8 + b"\x00\x02IM")
    ds = dataset_from_spec(plugins, f"sidd:{folder}")
    np.testing.assert_array_equal(ds.noisy("01_02"), data["ValidationNoisyBlocksSrgb"][0, 1] / np.float32(255))


@pytest.mark.parametrize("kind, message", [
    ("key", "ValidationNoisyBlocksSrgb.mat: no key 'ValidationNoisyBlocksSrgb' (found: wrong)"),
    ("shape", "expected uint8 of shape images x blocks x H x W x 3"),
])
def test_sidd_bad_mat_files_are_one_line(plugins, tmp_path, kind, message):
    folder = sidd_folder(tmp_path, noisy_key="wrong") if kind == "key" else tmp_path / "s"
    if kind == "shape":
        folder.mkdir()
        for key in ("ValidationGtBlocksSrgb", "ValidationNoisyBlocksSrgb"):
            scipy.io.savemat(folder / f"{key}.mat", {key: np.zeros((4, 8, 8), np.uint8)})
    with pytest.raises(DenoiseBenchError) as exc:
        dataset_from_spec(plugins, f"sidd:{folder}").ids()
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_nam_groups_from_file_names(plugins, tmp_path):
    folder = tmp_path / "cc"
    for name in ("5dmark3_iso3200_1", "d800_iso1600_2"):
        clean, noisy = pair(1)
        write(folder / f"{name}_mean.png", clean)
        write(folder / f"{name}_real.png", noisy)
    ds = dataset_from_spec(plugins, f"nam:{folder}")
    assert ds.ids() == ["5dmark3_iso3200_1", "d800_iso1600_2"]
    assert ds.groups("d800_iso1600_2") == {"camera": "d800", "iso": "1600"}


# ------------------------------------------------------------------------------------------ polyu


@needs_polyu
def test_polyu_ids_groups_and_pairs(plugins):
    ds = dataset_from_spec(plugins, f"polyu:root={SHARED}")
    ids = ds.ids()
    assert len(ids) == 100 and ids[0] == "Canon5D2_5_160_3200_chair_5"
    cameras = {ds.groups(i)["camera"] for i in ids}
    assert cameras == {"Canon5D2", "Canon600D", "Canon80D", "NikonD800", "Sony"}
    assert ds.groups("Canon80D_8_8_12800_printer_11") == {"camera": "Canon80D", "iso": "12800"}
    assert ds.groups("NikonD800_6-3_125_5000_plant__4") == {"camera": "NikonD800", "iso": "5000"}  # sic, "__"
    clean, noisy = ds.pair(ids[0])
    assert clean.shape == noisy.shape == (512, 512, 3)
    np.testing.assert_allclose(noisy, read(SHARED / "polyu_cropped" / f"{ids[0]}_real.JPG"), atol=1e-6)
    prov = ds.provenance(ids[0])
    assert prov["noisy_file"] == f"{ids[0]}_real.JPG" and len(prov["noisy_sha256"]) == 64


@needs_polyu
def test_polyu_run_real_setting_and_per_camera_breakdown(tmp_path, monkeypatch):
    monkeypatch.setenv("DENOISEBENCH_DATA", str(SHARED))
    run_dir = tmp_path / "polyu"
    # the first 31 ids (natural order) cover two cameras (29 Canon5D2 + 2 Canon80D); --max-images keeps it short
    assert main(["run", "--dataset", "polyu", "--max-images", "31", "--denoisers", "mean", "--metrics", "psnr,ssim",
                 "--output", str(run_dir), "--quiet"]) == 0
    cells = cells_of(run_dir)
    assert set(cells["noise"]) == {"real"} and (cells["status"] == "ok").all()
    row = cells[(cells["denoiser"] == "noisy")].iloc[-1]
    folder = SHARED / "polyu_cropped"
    ref, cap = read(folder / f"{row.image_id}_mean.JPG"), read(folder / f"{row.image_id}_real.JPG")
    assert row.psnr == pytest.approx(peak_signal_noise_ratio(ref, cap, data_range=1), abs=1e-4)
    assert row.ssim == pytest.approx(structural_similarity(ref, cap, channel_axis=-1, gaussian_weights=True,
                                                           sigma=1.5, use_sample_covariance=False, data_range=1),
                                     abs=1e-5)
    with Store(run_dir) as store:
        report = build_report(store)
        groups = store.get_meta("image_groups")["polyu"]
    table = next(t for t in report.tables if t.key == "groups_polyu_camera_psnr")
    assert [r[1] for r in table.rows] == ["Canon5D2", "Canon80D"] and [r[2] for r in table.rows] == ["29", "2"]
    # independent: mean over the camera's images of the stored per-image PSNR of the noisy input
    noisy = cells[cells["denoiser"] == "noisy"]
    canon80 = noisy[noisy["image_id"].map(lambda i: groups[i]["camera"]) == "Canon80D"]["psnr"].mean()
    assert table.rows[1][table.columns.index("noisy")] == f"{canon80:.2f}"
    assert any(t.key == "groups_polyu_iso_ssim" for t in report.tables)
    assert json.loads(json.dumps(table.data.to_dict("records")))  # CSV-able raw values
