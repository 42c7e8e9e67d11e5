"""Bit-for-bit reproducibility: the same config and seed give identical stored values and rendered tables,

whether run with 1 or 2 workers, in one go or interrupted and resumed (also by ``kill -9``), and in any cell
order. Wall times (the ``seconds`` column, the metric ``time``, Table 4's time column) and finish stamps vary by
nature and are left out of the comparison; everything else must match byte for byte.
"""

from __future__ import annotations

import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from denoisebench.config import Config
from denoisebench.engine.grid import make_plan
from denoisebench.engine.local import LocalExecutor
from denoisebench.engine.provenance import open_store
from denoisebench.engine.runner import execute
from denoisebench.pluginmanager import make_plugins
from denoisebench.reporting.markdown import render_markdown
from denoisebench.reporting.tables import build_report
from denoisebench.store import Store

DENOISERS = ("median", "gaussian", "wiener", "mean", "switching_median")
#: every metric but LPIPS, which is checked on its own below: its float32 network (torch CPU convolutions) gives
#: features that depend on the batch an image is evaluated in, so its last bits follow the cell order
METRICS = ("psnr", "ssim", "mse", "mae", "pearson", "accuracy", "precision", "recall", "f1", "roc_auc")
CONFIG = Config(datasets=("embedded:crop=64",), denoisers=DENOISERS, metrics=METRICS,
                noise=("gaussian:25", "salt_pepper:10%", "speckle:0.04"), max_images=2, seed=7)
#: columns that vary by nature between two runs of the same cells
VARYING = ("seconds", "finished_at")


@pytest.fixture(scope="module")
def plugins():
    return make_plugins()


def run_grid(run_dir: Path, plugins, *, jobs: int = 1, config: Config = CONFIG, shuffle: int | None = None,
             only=None) -> Path:
    """Run ``config`` into ``run_dir`` through the runner; ``only(task_index, cell)`` keeps a subset of cells;
    ``shuffle`` permutes tasks and the cells within each task with that seed."""
    config = replace(config, jobs=jobs)
    plan = make_plan(config, plugins)
    if only is not None:
        plan.tasks = [replace(t, cells=tuple(c for c in t.cells if only(i, c))) for i, t in enumerate(plan.tasks)]
        plan.tasks = [t for t in plan.tasks if t.cells]
    if shuffle is not None:
        rng = random.Random(shuffle)
        rng.shuffle(plan.tasks)
        plan.tasks = [replace(t, cells=tuple(rng.sample(t.cells, len(t.cells)))) for t in plan.tasks]
    store = open_store(run_dir, config, plugins, plan)
    try:
        execute(plan, store, LocalExecutor(jobs), plugins)
    finally:
        store.close()
    return run_dir


def stored_values(run_dir: Path) -> tuple[list, list]:
    """Every stored cell row (less the varying columns) and every metric value, in key order, as raw SQL rows."""
    db = sqlite3.connect(Path(run_dir) / "results.sqlite")
    try:
        cols = [r[1] for r in db.execute("PRAGMA table_info(cells)") if r[1] not in VARYING]
        cells = db.execute(f"SELECT {', '.join(cols)} FROM cells ORDER BY key").fetchall()
        # repr() of the float keeps every bit: 0.1 and 0.1 + 1e-17 print differently
        metrics = [(k, m, repr(v)) for k, m, v in db.execute("SELECT key, metric, value FROM metrics ORDER BY key, metric")]
    finally:
        db.close()
    return cells, metrics


def without_timing(report):
    """The report less its wall-time parts (Table 4's time column and the time rows of its CSV data)."""
    for table in report.tables:
        drop = [j for j, c in enumerate(table.columns) if c.startswith("time")]
        if not drop:
            continue
        keep = [j for j in range(len(table.columns)) if j not in drop]
        table.columns = [table.columns[j] for j in keep]
        table.rows = [[row[j] for j in keep] for row in table.rows]
        table.best = {(i, keep.index(j)) for i, j in table.best if j in keep}
        if table.data is not None and "metric" in table.data.columns:
            table.data = table.data[table.data["metric"] != "time"].reset_index(drop=True)
    return report


def report_without_timing(store: Store):
    """The reporting layer's own timing-free report where it has one (``include_timing=False``), else ours."""
    try:
        report = build_report(store, title="report", include_timing=False)
    except TypeError:
        report = build_report(store, title="report")
    return without_timing(report)


def rendered(run_dir: Path) -> str:
    """Markdown, terminal text and CSV of every table, without timings; the title is fixed (it names the dir)."""
    from rich.console import Console

    from denoisebench.reporting.terminal import print_report

    with Store(run_dir) as store:
        report = report_without_timing(store)
    parts = [render_markdown(report)]
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_report(report, console)
    parts.append(console.file.getvalue())
    for table in report.tables:
        if table.data is not None:
            parts.append(table.data.to_csv(index=False, float_format="%.10g"))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, plugins):
    """The grid run once, in one go, with one worker, in plan order."""
    run_dir = run_grid(tmp_path_factory.mktemp("one-go") / "run", plugins)
    cells, metrics = stored_values(run_dir)
    assert len(cells) == 2 * 3 * (1 + len(DENOISERS))
    assert len(metrics) >= len(cells) * 3
    return run_dir, (cells, metrics), rendered(run_dir)


def assert_same(run_dir: Path, reference) -> None:
    _, values, text = reference
    cells, metrics = stored_values(run_dir)
    assert cells == values[0]
    assert metrics == values[1]
    assert rendered(run_dir) == text


def test_reference_is_complete(reference):
    run_dir, (cells, metrics), text = reference
    with Store(run_dir) as store:
        assert store.count("ok") == len(cells)
    assert "Table 4" in text and "time/image" not in text


def test_two_workers_match_one(tmp_path, plugins, reference):
    assert_same(run_grid(tmp_path / "run", plugins, jobs=2), reference)


def test_shuffled_order_matches(tmp_path, plugins, reference):
    assert_same(run_grid(tmp_path / "run", plugins, shuffle=12345), reference)


def test_interrupted_and_resumed_matches(tmp_path, plugins, reference):
    run_dir = tmp_path / "run"
    # first invocation: only some cells (every other denoiser on the first tasks), as if stopped part-way
    run_grid(run_dir, plugins, only=lambda i, c: i == 0 or (i < 4 and c.denoiser in DENOISERS[::2]))
    with Store(run_dir) as store:
        partial = store.count()
    assert 0 < partial < len(reference[1][0])
    run_grid(run_dir, plugins, shuffle=3)  # resume: the remaining cells, in another order
    assert_same(run_dir, reference)


def test_resume_after_failed_cells_matches(tmp_path, plugins, reference):
    """A cell recorded as an error is redone on resume and then matches too."""
    run_dir = run_grid(tmp_path / "run", plugins)
    with Store(run_dir) as store, store.db:
        key = store.db.execute("SELECT key FROM cells WHERE denoiser = 'wiener' LIMIT 1").fetchone()[0]
        store.db.execute("UPDATE cells SET status = 'error', error = 'simulated' WHERE key = ?", (key,))
        store.db.execute("DELETE FROM metrics WHERE key = ?", (key,))
    run_grid(run_dir, plugins)
    assert_same(run_dir, reference)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "denoisebench", *args]


def _grid_args() -> list[str]:
    return ["--dataset", CONFIG.datasets[0], "--denoisers", ",".join(CONFIG.denoisers),
            "--noise", ",".join(CONFIG.noise), "--metrics", ",".join(CONFIG.metrics),
            "--max-images", str(CONFIG.max_images), "--seed", str(CONFIG.seed)]


def _count(run_dir: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{run_dir / 'results.sqlite'}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_kill_9_mid_run_then_resume_with_from(tmp_path, reference):
    """A real ``kill -9`` of a CLI run part-way, then ``denoisebench run --from RUN_DIR`` finishes it."""
    run_dir = tmp_path / "killed"
    total = len(reference[1][0])
    proc = subprocess.Popen(_cli("run", *_grid_args(), "--output", str(run_dir), "--quiet"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _count(run_dir) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _count(run_dir)
    if proc.returncode != -signal.SIGKILL or done >= total:
        pytest.skip(f"the run finished before it could be killed ({done}/{total} cells)")
    assert 0 < done < total
    out = subprocess.run(_cli("run", "--from", str(run_dir), "--quiet"), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert_same(run_dir, reference)
    # --from on a finished run re-runs nothing and changes nothing
    out = subprocess.run(_cli("run", "--from", str(run_dir)), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{total} cells, 0 to run" in " ".join(out.stdout.split())
    assert_same(run_dir, reference)


def test_from_reruns_the_stored_config(tmp_path, reference):
    """``--from`` re-creates the same config: its identity digest and every value match."""
    src = tmp_path / "src"
    out = subprocess.run(_cli("run", *_grid_args(), "--output", str(src), "--quiet", "-j", "2"),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert_same(src, reference)
    with Store(src) as store:
        stored = Config.from_dict(store.get_meta("config"))
    assert stored.identity() == CONFIG.identity()  # the CLI's comma lists are stored split, as in CONFIG
    # delete every metric row and cell, keep the meta: --from must rebuild the identical run
    with Store(src) as store, store.db:
        store.db.execute("DELETE FROM cells")
        store.db.execute("DELETE FROM metrics")
    out = subprocess.run(_cli("run", "--from", str(src), "--quiet"), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert_same(src, reference)


def test_from_missing_dir_is_one_line_error(tmp_path):
    out = subprocess.run(_cli("run", "--from", str(tmp_path / "nope")), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "nope" in out.stderr


def test_lpips_order_independent(tmp_path, plugins):
    """LPIPS values are bit-for-bit the same whatever the cell order.

    torch's CPU convolutions give an image's deeper AlexNet features last-bit differences depending on the batch
    *size* of the forward pass, and the runner batches the pending cells of a task; the plugin therefore runs
    every pass with exactly ``batch_size`` images (padding the last), which makes each value independent of the
    cells it is computed with.
    """
    # 2 and 3 denoisers: a task's estimates plus a fresh (or cached) reference give passes of different fill
    for n, seed in ((2, 5), (3, 1)):
        config = replace(CONFIG, metrics=("lpips",), denoisers=("median", "mean", "wiener")[:n])
        one = stored_values(run_grid(tmp_path / f"a{n}", plugins, config=config))[1]
        other = stored_values(run_grid(tmp_path / f"s{n}", plugins, config=config, shuffle=seed))[1]
        assert [k for k, _, _ in one] == [k for k, _, _ in other]
        assert one == other


NEURAL = Config(datasets=("embedded:crop=32",), denoisers=("cnn", "hybrid"), metrics=("psnr", "ssim", "mse"),
                noise=("gaussian:25",), max_images=2, seed=3)


def test_neural_denoisers_identical_with_one_two_workers_and_dask(tmp_path, plugins):
    """Every worker process pins the same intra-op thread count (recorded in the provenance), so torch's
    convolutions give the same bits with -j 1, -j 2 and on dask workers."""
    missing = [d for d in NEURAL.denoisers if d not in plugins.denoisers]
    if missing:
        pytest.skip(f"neural plugin not installed ({', '.join(missing)})")
    one = stored_values(run_grid(tmp_path / "one", plugins, config=NEURAL))
    with Store(tmp_path / "one") as store:
        assert store.count("ok") == store.count() == 2 * 3
        assert store.get_meta("provenance")[-1]["worker_threads"] == 1
    assert one == stored_values(run_grid(tmp_path / "two", plugins, config=NEURAL, jobs=2))
    distributed = pytest.importorskip("distributed")
    assert distributed
    from denoisebench.engine.dask_executor import DaskExecutor

    config = replace(NEURAL, executor="dask")
    plan = make_plan(config, plugins)
    store = open_store(tmp_path / "dask", config, plugins, plan)
    executor = DaskExecutor(workers=2, local_directory=str(tmp_path / "scratch"))
    try:
        execute(plan, store, executor, plugins)
    finally:
        store.close()
        executor.close()
    assert one == stored_values(tmp_path / "dask")
