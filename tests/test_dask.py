"""The Dask executor: same results as the local executor, error rows, a killed worker retried, resume, CLI.

A LocalCluster on 127.0.0.1 with its scratch space under a temporary directory is shared by the module and shut
down at the end. Fault-injecting denoisers come from a throw-away plugin *distribution* written to a temporary
folder on sys.path (a dist-info with an entry point), so the dask workers discover it exactly as they would a
pip-installed third-party plugin.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from denoisebench.config import Config  # noqa: E402
from denoisebench.engine import worker  # noqa: E402
from denoisebench.engine.dask_executor import DaskExecutor  # noqa: E402
from denoisebench.engine.executors import make_executor  # noqa: E402
from denoisebench.engine.grid import make_plan  # noqa: E402
from denoisebench.engine.local import LocalExecutor  # noqa: E402
from denoisebench.engine.provenance import open_store  # noqa: E402
from denoisebench.engine.runner import execute  # noqa: E402
from denoisebench.pluginmanager import make_plugins  # noqa: E402

PLUGIN = '''
"""Fault injection for tests: kill_once kills its dask worker process once (claimed via a flag file). Plugin code
runs in a worker process of the dask worker's own pool: killing the dask worker is its parent's death."""
import os
import signal

import cv2
import numpy as np

from denoisebench import hookimpl
from denoisebench.interfaces import Denoiser

FLAG = {flag!r}


def _in_dask_worker():
    """Whether this worker process runs for a dask worker (its parent; the local executor's parent is pytest)."""
    try:
        with open(f"/proc/{{os.getppid()}}/cmdline", "rb") as f:
            return b"spawn_main" in f.read()
    except OSError:
        return False


class KillOnce(Denoiser):
    name = "kill_once"
    description = "box filter; the first call in a dask worker after FLAG appears kills that worker (SIGKILL)"
    defaults = {{"size": 3}}

    def denoise(self, noisy, *, noise=None, rng=None):
        if _in_dask_worker():
            try:
                os.remove(FLAG)  # atomic claim: exactly one worker dies
            except FileNotFoundError:
                pass
            else:
                with open(FLAG + ".killed", "w") as f:
                    f.write(str(os.getppid()))
                os.kill(os.getppid(), signal.SIGKILL)
        k = self.params["size"]
        return cv2.blur(np.asarray(noisy, np.float32), (k, k), borderType=cv2.BORDER_REFLECT)


class KillAlways(Denoiser):
    name = "kill_always"
    description = "kills every dask worker that runs it while FLAG.poison exists"

    def denoise(self, noisy, *, noise=None, rng=None):
        if _in_dask_worker() and os.path.exists(FLAG + ".poison"):
            os.kill(os.getppid(), signal.SIGKILL)
        return np.asarray(noisy, np.float32)


class Raises(Denoiser):
    name = "raises"
    description = "always raises"

    def denoise(self, noisy, *, noise=None, rng=None):
        raise RuntimeError("deliberate failure")


class SegvSelf(Denoiser):
    name = "segv_self"
    description = "segfaults the process it runs in"

    def denoise(self, noisy, *, noise=None, rng=None):
        os.kill(os.getpid(), signal.SIGSEGV)


@hookimpl
def denoisebench_register_denoisers(registry):
    registry.add(SegvSelf)
    registry.add(KillOnce)
    registry.add(Raises)
    registry.add(KillAlways)
'''

METRICS = ("psnr", "ssim", "mse", "mae", "pearson")
#: columns that legitimately differ between two runs of the same cells
VOLATILE = ["seconds", "finished_at"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    flag = root / "kill.flag"
    (root / "dbtest_faults.py").write_text(PLUGIN.format(flag=str(flag)))
    info = root / "dbtest_faults-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dbtest-faults\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[denoisebench]\nfaults = dbtest_faults\n")
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(root))  # spawned dask workers inherit sys.path
    mp.setattr(worker, "_STATES", {})  # in-process (local -j1) state must see the new plugin
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def cluster(site, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("dask-scratch")
    # dask's nannies set OPENBLAS/OMP/MKL_NUM_THREADS=1 in their workers by default; BLAS dot products (pearson)
    # then round differently in the last bit from this multi-threaded test process, so the workers here keep
    # this process's environment: the comparison below is exact.
    settings = {"temporary-directory": str(scratch), "distributed.scheduler.allowed-failures": 2,
                "distributed.nanny.pre-spawn-environ": {}}
    with dask.config.set(settings):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      scheduler_port=0, dashboard_address=":0", local_directory=str(scratch)) as c:
            yield c


@pytest.fixture(scope="module")
def plugins(site):
    return make_plugins()


def config(**kw) -> Config:
    base = dict(datasets=("embedded",), denoisers=("median", "mean", "wiener"), noise=("gaussian:25", "salt_pepper:10%"),
                metrics=METRICS, max_images=2, repetitions=2, seed=7)
    return Config(**{**base, **kw})


def run(cfg: Config, plugins, executor, run_dir: Path) -> pd.DataFrame:
    plan = make_plan(cfg, plugins)
    store = open_store(run_dir, cfg, plugins, plan)
    try:
        execute(plan, store, executor, plugins)
        return store.cells()
    finally:
        store.close()
        executor.close()


def assert_same_cells(a: pd.DataFrame, b: pd.DataFrame) -> None:
    a = a.drop(columns=VOLATILE).sort_values("key").reset_index(drop=True)
    b = b.drop(columns=VOLATILE).sort_values("key").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_same_results_as_local_executor(cluster, plugins, tmp_path):
    cfg = config()
    local = run(cfg, plugins, LocalExecutor(1), tmp_path / "local")
    dask_cells = run(cfg, plugins, DaskExecutor(scheduler=cluster.scheduler_address), tmp_path / "dask")
    assert len(local) == 2 * 2 * 2 * 4  # images × noise settings × repetitions × (noisy + 3 denoisers)
    assert (local.status == "ok").all()
    assert_same_cells(local, dask_cells)
    # batching several runner tasks per dask task changes nothing either
    batched = run(cfg, plugins, DaskExecutor(scheduler=cluster.scheduler_address, batch=5), tmp_path / "batched")
    assert_same_cells(local, batched)


def test_model_loads_are_recorded_in_the_provenance(cluster, plugins, tmp_path):
    """As with the local executor: one record per denoiser instance per worker process, with the dask worker
    (a median size no other test here uses, so that the module's warm workers have not loaded it yet)."""
    cfg = config(denoisers=("median",), noise=("gaussian:25",), repetitions=1, params=("median.size=11",))
    plan = make_plan(cfg, plugins)
    store = open_store(tmp_path / "run", cfg, plugins, plan)
    executor = DaskExecutor(scheduler=cluster.scheduler_address)
    try:
        execute(plan, store, executor, plugins)
        loads = store.get_meta("provenance")[-1]["model_loads"]
    finally:
        store.close()
        executor.close()
    workers = {(r["dask_worker"], r["worker"]) for r in loads}
    assert all(address.startswith("tcp://") and pid != os.getpid() for address, pid in workers)
    # each worker process that ran it loaded it once
    assert loads and all(r["denoiser"] == "median" and r["params"] == '{"size":11}' for r in loads)
    assert len(loads) == len(workers)
    assert all(r["load_s"] >= 0 and r["warm_up_s"] >= 0 and r["warm_up"].startswith("crop") for r in loads)


def test_failures_become_error_rows(cluster, plugins, tmp_path):
    cfg = config(denoisers=("median", "raises"), noise=("gaussian:25",), repetitions=1)
    cells = run(cfg, plugins, DaskExecutor(scheduler=cluster.scheduler_address), tmp_path / "run")
    bad = cells[cells.denoiser == "raises"]
    assert len(bad) == 2 and (bad.status == "error").all()
    assert bad.error.str.contains("RuntimeError: deliberate failure").all()
    assert (cells[cells.denoiser != "raises"].status == "ok").all()

    # a task whose function raises on the worker (here: an unknown metric) -> error rows, the other tasks run
    plan = make_plan(config(denoisers=("median",), noise=("gaussian:25",), repetitions=1), plugins)
    broken = dataclasses.replace(plan.tasks[0], metrics=("no_such_metric",))
    ex = DaskExecutor(scheduler=cluster.scheduler_address)
    try:
        results = [r for batch in ex.run([broken, *plan.tasks[1:]]) for r in batch]
    finally:
        ex.close()
    by_image = {}
    for r in results:
        by_image.setdefault(r.image_id, set()).add(r.status)
    assert by_image[broken.image_id] == {"error"}
    assert all(s == {"ok"} for i, s in by_image.items() if i != broken.image_id)
    assert "task failed in the worker process: UnknownNameError" in next(r.error for r in results if r.status == "error")


def test_killed_worker_is_retried_and_values_equal_a_clean_run(cluster, site, plugins, tmp_path):
    cfg = config(denoisers=("median", "kill_once"), noise=("gaussian:25",), max_images=6, repetitions=1)
    clean = run(cfg, plugins, LocalExecutor(1), tmp_path / "clean")
    flag = site / "kill.flag"
    flag.write_text("armed")
    client = distributed.Client(cluster)
    before = set(client.run(os.getpid).values())
    faulty = run(cfg, plugins, DaskExecutor(scheduler=cluster.scheduler_address), tmp_path / "faulty")
    killed = int((site / "kill.flag.killed").read_text())
    after = set(client.run(os.getpid).values())
    client.close()
    assert not flag.exists() and killed in before and killed not in after  # a worker really died mid-run
    assert len(faulty) == len(clean) == 6 * 3 and (faulty.status == "ok").all()  # nothing lost, none twice
    assert faulty.key.is_unique
    assert_same_cells(clean, faulty)


def test_task_that_keeps_killing_workers_becomes_error_rows(cluster, site, plugins, tmp_path):
    poison = site / "kill.flag.poison"
    poison.write_text("armed")
    try:
        cfg = config(denoisers=("median", "kill_always"), noise=("gaussian:25",), max_images=1, repetitions=1)
        cells = run(cfg, plugins, DaskExecutor(scheduler=cluster.scheduler_address), tmp_path / "run")
    finally:
        poison.unlink()
    # the task is retried cell by cell: only the culprit's cell is an error row, naming it
    by = cells.set_index("denoiser")
    assert len(cells) == 3 and list(by.status.sort_index()) == ["error", "ok", "ok"]
    assert "KilledWorker" in by.loc["kill_always", "error"] and "denoiser kill_always" in by.loc["kill_always", "error"]


def test_a_segfaulting_denoiser_costs_only_its_cells_and_the_dask_worker_survives(cluster, plugins, tmp_path):
    client = distributed.Client(cluster)
    client.wait_for_workers(2, timeout=120)  # an earlier test killed some
    before = set(client.run(os.getpid).values())
    cfg = config(denoisers=("median", "segv_self", "wiener"), noise=("gaussian:25",), repetitions=1,
                 metrics=("psnr",))
    cells = run(cfg, plugins, DaskExecutor(scheduler=cluster.scheduler_address), tmp_path / "run")
    assert set(client.run(os.getpid).values()) == before  # no dask worker died
    client.close()
    by = cells.set_index("denoiser")
    assert (by.drop(index="segv_self").status == "ok").all() and (by.loc["segv_self", "status"] == "error").all()
    assert by.loc["segv_self", "error"].str.contains(
        r"was killed by signal 11 \(SIGSEGV\) while running denoiser segv_self \(plugin faults").all()
    clean = run(config(denoisers=("median", "wiener"), noise=("gaussian:25",), repetitions=1, metrics=("psnr",)),
                plugins, LocalExecutor(1), tmp_path / "clean")
    assert_same_cells(clean, cells[cells.denoiser != "segv_self"])


def test_client_killed_resumes_from_store(cluster, plugins, tmp_path):
    cfg = config(noise=("gaussian:25",), repetitions=1)
    plan = make_plan(cfg, plugins)
    store = open_store(tmp_path / "run", cfg, plugins, plan)
    seen = []

    def die_after_three(result):  # in the first task's batch: the second task is left to the resumed run
        seen.append(result.key)
        if len(seen) == 3:
            raise KeyboardInterrupt

    ex = DaskExecutor(scheduler=cluster.scheduler_address)
    with pytest.raises(KeyboardInterrupt):
        execute(plan, store, ex, plugins, die_after_three)
    ex.close()
    committed = store.count()  # every cell the observer saw, and the rest of its batch (committed together)
    assert 3 <= committed < plan.n_cells and set(seen) <= {k for k in store.cells()["key"]}
    with DaskExecutor(scheduler=cluster.scheduler_address) as again:
        counts = execute(plan, store, again, plugins)
    assert counts == {"ok": plan.n_cells - committed}
    assert store.count() == plan.n_cells == store.count("ok")
    store.close()


def test_own_local_cluster_with_scratch_under_tmp(plugins, tmp_path):
    cfg = config(denoisers=("median",), noise=("gaussian:25",), repetitions=1)
    ex = DaskExecutor(workers=1, local_directory=str(tmp_path / "scratch"))
    cells = run(cfg, plugins, ex, tmp_path / "run")  # run() closes the executor: cluster shut down
    assert (cells.status == "ok").all() and len(cells) == 2 * 2
    assert any((tmp_path / "scratch").iterdir())
    assert ex.cluster is None and ex.client is None


def test_cli_with_scheduler(cluster, tmp_path):
    from denoisebench.cli import main
    from denoisebench.store import Store

    args = ["run", "--denoisers", "median,mean", "--noise", "gaussian:25", "--max-images", "2", "--metrics",
            "psnr,ssim", "--quiet"]
    assert main([*args, "--output", str(tmp_path / "a")]) == 0
    assert main([*args, "--executor", "dask", "--scheduler", cluster.scheduler_address,
                 "--output", str(tmp_path / "b")]) == 0
    with Store(tmp_path / "a") as a, Store(tmp_path / "b") as b:
        assert a.count("ok") == b.count("ok") == 2 * 3
        assert_same_cells(a.cells(), b.cells())


def test_bad_options_and_missing_dask(monkeypatch, capsys):
    from denoisebench.cli import main
    from denoisebench.errors import ConfigError

    with pytest.raises(ConfigError, match="--workers 0"):
        DaskExecutor(workers=0)
    with pytest.raises(ConfigError, match="pass one"):
        DaskExecutor(scheduler="tcp://127.0.0.1:1", workers=2)
    with pytest.raises(ConfigError, match="cannot connect"):
        DaskExecutor(scheduler="tcp://127.0.0.1:1", connect_timeout="1s").start()
    assert main(["run", "--denoisers", "median", "--workers", "2", "--output", "/nonexistent/x", "--quiet"]) == 2
    assert "--workers: a dask option; pass --executor dask" in capsys.readouterr().err
    monkeypatch.setitem(__import__("sys").modules, "denoisebench.engine.dask_executor", None)
    with pytest.raises(ConfigError, match=r"pip install 'denoisebench\[dask\]'"):
        make_executor("dask", workers=1)
    assert main(["run", "--denoisers", "median", "--executor", "dask", "--output", "/nonexistent/x", "--quiet"]) == 2
    assert "denoisebench[dask]" in capsys.readouterr().err

