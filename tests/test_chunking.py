"""Cheap tasks travel to the workers in chunks (issue 19): values do not depend on -j or on the chunking, and a
crash or a hang in the middle of a chunk still costs only the call that caused it."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import pytest

from denoisebench import hookimpl
from denoisebench.config import Config
from denoisebench.engine import pool as pool_module
from denoisebench.engine.grid import make_plan
from denoisebench.engine.local import LocalExecutor
from denoisebench.engine.pool import WorkerPool
from denoisebench.engine.provenance import open_store
from denoisebench.engine.runner import execute
from denoisebench.interfaces import Denoiser
from denoisebench.pluginmanager import make_plugins

CHEAP = Config(denoisers=("mean", "median"), noise=("gaussian:15", "gaussian:25"), metrics=("psnr", "mse"),
               repetitions=5, max_images=3)  # 30 tasks, 90 cells

VALUES = ["key", "status", "error", "psnr", "mse", "seed", "shape"]


def run(plugins, cfg, run_dir, executor):
    plan = make_plan(cfg, plugins)
    store = open_store(run_dir, cfg, plugins, plan)
    counts = execute(plan, store, executor, plugins)
    return store, counts


@pytest.fixture
def big_chunks(monkeypatch):
    """Chunks as large as the spread over the workers allows, however fast this machine is now."""
    monkeypatch.setattr(pool_module, "CHUNK_SECONDS", 1e6)


def test_one_and_two_workers_store_identical_values(tmp_path, big_chunks):
    plugins = make_plugins()  # spawned workers, as the CLI uses
    one, _ = run(plugins, CHEAP, tmp_path / "one", LocalExecutor(1))
    two, _ = run(plugins, CHEAP, tmp_path / "two", LocalExecutor(2))
    a, b = one.cells()[VALUES], two.cells()[VALUES]
    assert len(a) == 90 and (a["status"] == "ok").all()
    assert a.equals(b)  # bit for bit: same floats, not approximately
    one.close()
    two.close()


def test_tasks_are_chunked(big_chunks):
    plugins = make_plugins()
    plan = make_plan(CHEAP, plugins)
    pool = WorkerPool(1)
    try:
        batches = list(pool.run(plan.tasks))
    finally:
        pool.close()
    assert sum(len(b) for b in batches) == plan.n_cells
    assert len(batches) < len(plan.tasks)  # fewer messages than tasks
    assert sorted(r.key for b in batches for r in b) == sorted(c.key for t in plan.tasks for c in t.cells)


def _crash_at_25(noisy, noise):
    if noise.kwargs["sigma"] == 25:
        os.kill(os.getpid(), signal.SIGSEGV)
    return noisy.copy()


def _hang_at_25(noisy, noise):
    if noise.kwargs["sigma"] == 25:
        time.sleep(60)
    return noisy.copy()


def _den(name, fault):
    return type(name, (Denoiser,), {"name": name, "needs_noise_level": True,
                                    "denoise": lambda self, noisy, *, noise=None, rng=None: fault(noisy, noise)})


class Faulty:
    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        registry.add(_den("segv_at_25", _crash_at_25))
        registry.add(_den("hang_at_25", _hang_at_25))


@pytest.fixture(scope="module")
def faulty():
    return make_plugins(extra_plugins=[("faulty", Faulty())])


@pytest.mark.parametrize("culprit,status,cfg", [
    ("segv_at_25", "error", {}),
    ("hang_at_25", "timeout", {"cell_timeout": 1.0, "repetitions": 2, "max_images": 2}),
])
def test_a_fault_in_a_chunk_costs_only_its_cell(faulty, tmp_path, big_chunks, culprit, status, cfg):
    clean_cfg = replace(CHEAP, denoisers=("mean",), metrics=("psnr",), **cfg)
    cfg = replace(clean_cfg, denoisers=("mean", culprit))
    clean, _ = run(faulty, clean_cfg, tmp_path / "clean", LocalExecutor(1, plugins=faulty))
    store, counts = run(faulty, cfg, tmp_path / "run", LocalExecutor(1, plugins=faulty))
    cells = store.cells()
    bad = cells[cells["denoiser"] == culprit]
    n_25 = len(bad) // 2
    assert counts[status] == n_25 and (bad[bad["noise_key"].str.contains("25")]["status"] == status).all()
    assert (bad[~bad["noise_key"].str.contains("25")]["status"] == "ok").all()
    err = bad[bad["status"] == status]["error"].iloc[0]
    assert culprit in err or "cell-timeout" in err
    good = cells[cells["denoiser"] != culprit].reset_index(drop=True)
    assert good[["key", "status", "psnr"]].equals(clean.cells()[["key", "status", "psnr"]])
    clean.close()
    store.close()
