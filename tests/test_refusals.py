"""Issue 13's silently wrong selections and tracebacks: each is one line (exit 2) now, and the store is intact."""

from __future__ import annotations

import sqlite3

import pytest

from denoisebench.cli import main
from denoisebench.config import Config
from denoisebench.engine.grid import make_plan
from denoisebench.engine.local import LocalExecutor
from denoisebench.engine.provenance import open_store
from denoisebench.engine.runner import execute
from denoisebench.errors import StoreError
from denoisebench.pluginmanager import make_plugins
from denoisebench.store import Store


def one_line_error(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("denoisebench: error: ") and "\n" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.mark.parametrize("noise, needle", [
    ("gaussian:sigma=Infinity", "sigma=Infinity is not a finite number"),
    ("gaussian:sigma=1e400", "sigma=1e400 is not a finite number"),
    ("gaussian:sigma=15,sigma=25", "sigma is given twice"),
    ("gaussian:", "nothing after ':'"),
])
def test_bad_noise_specs_are_refused(capsys, tmp_path, noise, needle):
    one_line_error(capsys, ["run", "--denoisers", "median", "--noise", noise, "--output", str(tmp_path / "r")], needle)


def test_bad_max_images_and_from_combinations_are_refused(capsys, tmp_path):
    one_line_error(capsys, ["run", "--max-images", "-1", "--output", str(tmp_path / "r")], "--max-images -1")
    one_line_error(capsys, ["run", "--from", str(tmp_path / "nonexist.jsonl")],
                   "no such run directory or baseline file")
    (tmp_path / "b.jsonl").write_text("{}\n")
    one_line_error(capsys, ["run", "--from", str(tmp_path / "b.jsonl"), "--denoisers", "mean"],
                   "--denoisers cannot change it")


@pytest.fixture
def finished_run(tmp_path):
    plugins = make_plugins()
    cfg = Config(denoisers=("median",), noise=("gaussian:25",), metrics=("psnr",), max_images=2)
    plan = make_plan(cfg, plugins)
    store = open_store(tmp_path / "run", cfg, plugins, plan)
    execute(plan, store, LocalExecutor(1), plugins)
    store.close()
    return tmp_path / "run", cfg, plugins


def test_corrupt_store_is_one_line_in_report_and_resume(finished_run, capsys):
    run_dir, _, _ = finished_run
    db = sqlite3.connect(run_dir / "results.sqlite")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    path = run_dir / "results.sqlite"
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(page, len(data), page):  # every page but the header page: garbage
        data[start:start + page] = b"\xa5" * min(page, len(data) - start)
    path.write_bytes(bytes(data))
    before = path.read_bytes()
    one_line_error(capsys, ["report", str(run_dir)], "is corrupt", "--output NEW_DIR")
    one_line_error(capsys, ["run", "--from", str(run_dir)], "is corrupt")
    assert path.read_bytes() == before  # never overwritten


def test_disk_full_while_writing_is_one_line_and_the_store_stays_intact(finished_run):
    from denoisebench.results import CellResult

    run_dir, cfg, plugins = finished_run
    store = Store(run_dir)
    cells = store.count()
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")  # as good as a full disk
    cell = make_plan(cfg, plugins).tasks[0].cells[1]
    big = CellResult.for_cell(cell, 0, "error", error="x" * 200_000)
    with pytest.raises(StoreError, match="database or disk is full; free some space") as info:
        store.write(big)
    assert "\n" not in str(info.value)
    assert store.count() == cells and store.count("ok") == cells
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store.close()


def test_truncated_image_is_named_as_such(tmp_path, capsys):
    from denoisebench.images import load_image, save_image

    folder = tmp_path / "imgs"
    folder.mkdir()
    import numpy as np

    save_image(folder / "a.png", np.full((32, 32), 0.5, np.float32))
    data = (folder / "a.png").read_bytes()
    (folder / "b.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(Exception, match=r"b.png: a .png file that cannot be decoded \(truncated or corrupt\)"):
        load_image(folder / "b.png")


def test_unwritable_output_paths_are_one_line(finished_run, capsys):
    run_dir, _, _ = finished_run
    bad = "/proc/version/out"  # not a directory, whoever runs the tests
    one_line_error(capsys, ["baseline", "export", str(run_dir), bad + ".jsonl"], "/proc/version")
    one_line_error(capsys, ["compare", str(run_dir), str(run_dir), "--markdown", bad + ".md"], "/proc/version")


@pytest.mark.parametrize("key, value, needle", [("seed", "7", "config: seed is str '7'; it must be an integer"),
                                                ("datasets", "embedded", "datasets is str 'embedded'")])
def test_baseline_with_wrongly_typed_config_is_one_line(finished_run, capsys, tmp_path, key, value, needle):
    import json

    run_dir, _, _ = finished_run
    path = tmp_path / "base.jsonl"
    assert main(["baseline", "export", str(run_dir), str(path)]) == 0
    capsys.readouterr()
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        if record.get("header") == "config":
            record["value"][key] = value
            lines[i] = json.dumps(record)
            break
    else:
        pytest.fail("no config header in the exported baseline")
    path.write_text("\n".join(lines) + "\n")
    one_line_error(capsys, ["run", "--from", str(path), "--output", str(tmp_path / "out")], needle)
