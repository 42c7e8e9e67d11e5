"""No plugin can crash a run, hang it, or silently change a number (issue 13).

A hostile plugin registered in this test session (``make_plugins(extra_plugins=...)``: its workers are forked, so
they inherit it) injects every fault: denoisers that exit, raise SystemExit/KeyboardInterrupt, segfault, are
killed like the OOM killer does, hang, or catch everything while hanging; denoisers that return uint8, int, bool
or 0..255 floats; metrics that write into their arrays, return a string, NaN, a short batch, segfault or hang.
Each costs only its own cell (or metric), names the culprit, and the other values equal a clean run's.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np
import pytest

from denoisebench import hookimpl
from denoisebench.config import Config
from denoisebench.engine.grid import make_plan
from denoisebench.engine.local import LocalExecutor
from denoisebench.engine.provenance import open_store
from denoisebench.engine.runner import execute, pending_count
from denoisebench.interfaces import Denoiser, Metric
from denoisebench.pluginmanager import make_plugins


def _den(name, fault):
    return type(f"Den_{name}", (Denoiser,), {"name": name, "description": f"hostile: {name}",
                                               "denoise": lambda self, noisy, *, noise=None, rng=None: fault(noisy)})


def _sleep_through_everything(noisy):
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            time.sleep(0.05)
        except BaseException:  # catches any in-process alarm or interrupt: only a kill from outside stops it
            pass
    return noisy.copy()


DENOISER_FAULTS = {
    "os_exit": lambda x: os._exit(1),
    "sys_exit": lambda x: sys.exit(7),
    "kbint": lambda x: (_ for _ in ()).throw(KeyboardInterrupt()),
    "segv": lambda x: os.kill(os.getpid(), signal.SIGSEGV),
    "oom": lambda x: os.kill(os.getpid(), signal.SIGKILL),  # what the kernel's OOM killer sends
    "hang": lambda x: time.sleep(60),
    "stubborn": _sleep_through_everything,
    "uint8": lambda x: np.round(x * 255).astype(np.uint8),
    "int255": lambda x: np.round(x * 255).astype(np.int64),
    "boolean": lambda x: x > 0.5,
    "float255": lambda x: x * 255.0,
    "slightly_over": lambda x: np.clip(x, 0, 1) * 1.02,  # within the tolerance: clipped, ok
    "good": lambda x: x.copy(),
}
HOSTILE_DENOISERS = [_den(n, f) for n, f in DENOISER_FAULTS.items()]


def _met(name, compute=None, batch=None):
    body = {"name": name, "higher_is_better": True, "description": f"hostile: {name}"}
    if compute:
        body["compute"] = lambda self, ref, est: compute(ref, est)
    if batch:
        body["compute_batch"] = lambda self, refs, ests: batch(refs, ests)
    return type(f"Met_{name}", (Metric,), body)


def _write(a):
    a[...] = 0
    return 0.0


METRIC_FAULTS = {
    "writes_reference": dict(compute=lambda r, e: _write(r)),
    "writes_estimate": dict(compute=lambda r, e: _write(e)),
    "returns_text": dict(compute=lambda r, e: "abc"),
    "returns_nan": dict(compute=lambda r, e: float("nan")),
    "short_batch": dict(batch=lambda rs, es: [1.0] * (len(es) - 1)),
    "metric_segv": dict(compute=lambda r, e: os.kill(os.getpid(), signal.SIGSEGV)),
    "metric_hang": dict(compute=lambda r, e: time.sleep(60)),
}
HOSTILE_METRICS = [_met(n, **f) for n, f in METRIC_FAULTS.items()]


class Hostile:
    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        for cls in HOSTILE_DENOISERS:
            registry.add(cls)

    @hookimpl
    def denoisebench_register_metrics(self, registry):
        for cls in HOSTILE_METRICS:
            registry.add(cls)


@pytest.fixture(scope="module")
def plugins():
    return make_plugins(extra_plugins=[("hostile", Hostile())])


def run(plugins, cfg, run_dir, jobs=1):
    plan = make_plan(cfg, plugins)
    store = open_store(run_dir, cfg, plugins, plan)
    counts = execute(plan, store, LocalExecutor(jobs, plugins=plugins), plugins)
    return plan, store, counts


CRASHERS = ("os_exit", "sys_exit", "kbint", "segv", "oom")
BASE = dict(noise=("gaussian:25",), metrics=("psnr", "mse"), max_images=2)


def by_cell(store):
    return store.cells().set_index(["denoiser", "image_id"]).sort_index()


@pytest.fixture(scope="module")
def clean(plugins, tmp_path_factory):
    _, store, _ = run(plugins, Config(denoisers=("median", "good"), **BASE), tmp_path_factory.mktemp("clean"))
    yield by_cell(store)
    store.close()


@pytest.mark.parametrize("jobs", [1, 2])
def test_crashing_denoisers_cost_only_their_own_cells(plugins, clean, tmp_path, jobs):
    # the crashers sit between the good cells of each task: those are kept or run again, never lost
    cfg = Config(denoisers=("median", *CRASHERS, "good"), **BASE)
    plan, store, counts = run(plugins, cfg, tmp_path / "run", jobs)
    cells = by_cell(store)
    assert counts == {"ok": 2 * 3, "error": 2 * len(CRASHERS)}
    expected = {"os_exit": "exited with code 1", "segv": "was killed by signal 11 (SIGSEGV",
                "oom": "was killed by signal 9 (SIGKILL; out of memory"}
    for name in CRASHERS:
        for err, provider in cells.loc[name, ["error", "provider"]].itertuples(index=False):
            assert provider == "hostile"
            if name in expected:
                assert f"worker process {expected[name]}" in err and f"denoiser {name} (plugin hostile)" in err
    assert "sys.exit(7)" in cells.loc["sys_exit", "error"].iloc[0]
    assert "KeyboardInterrupt" in cells.loc["kbint", "error"].iloc[0]
    for den in ("noisy", "median", "good"):
        assert (cells.loc[den, "status"] == "ok").all()
        assert cells.loc[den, ["psnr", "mse"]].equals(clean.loc[den, ["psnr", "mse"]])
    # resume retries the failed cells only
    assert pending_count(plan, store) == 2 * len(CRASHERS)
    store.close()


def test_timeouts_are_enforced_from_outside(plugins, clean, tmp_path):
    cfg = Config(denoisers=("hang", "stubborn", "good"), cell_timeout=1.0, **BASE)
    t0 = time.monotonic()
    _, store, counts = run(plugins, cfg, tmp_path / "run")
    assert time.monotonic() - t0 < 40  # four 30-60 s calls were cut short
    cells = by_cell(store)
    assert counts == {"ok": 4, "timeout": 4}
    for name in ("hang", "stubborn"):
        assert (cells.loc[name, "status"] == "timeout").all()
        assert "ran longer than --cell-timeout 1 s and was stopped" in cells.loc[name, "error"].iloc[0]
    assert cells.loc["good", "psnr"].equals(clean.loc["good", "psnr"])
    store.close()


def test_wrong_output_types_and_ranges_are_error_rows(plugins, tmp_path):
    cfg = Config(denoisers=("uint8", "int255", "boolean", "float255", "slightly_over", "good"),
                 **{**BASE, "max_images": 1})
    _, store, _ = run(plugins, cfg, tmp_path / "run")
    cells = store.cells().set_index("denoiser")
    assert cells.loc["uint8", "status"] == "error"
    assert "returned uint8 values (0..255)" in cells.loc["uint8", "error"]
    assert "return floating-point values in [0, 1]" in cells.loc["uint8", "error"]
    assert "returned int64 values" in cells.loc["int255", "error"]
    assert "returned bool values" in cells.loc["boolean", "error"]
    assert "outside [0, 1] by more than 0.1" in cells.loc["float255", "error"]
    assert cells.loc["slightly_over", "status"] == "ok" and cells.loc["good", "status"] == "ok"
    store.close()


def test_metric_faults_are_errors_of_that_metric_only(plugins, clean, tmp_path):
    metrics = ("psnr", *METRIC_FAULTS, "mse")
    cfg = Config(denoisers=("median", "good"), cell_timeout=2.0, **{**BASE, "metrics": metrics})
    _, store, counts = run(plugins, cfg, tmp_path / "run")
    cells = by_cell(store)
    assert counts == {"ok": 6}
    # a metric that writes into its arrays raises inside the plugin; the later metrics see the true images
    assert cells[["psnr", "mse"]].equals(clean[["psnr", "mse"]])
    errors = store.cells()["metric_errors"].map(__import__("json").loads)
    for e in errors:
        assert set(e) == set(METRIC_FAULTS)
        assert "read-only" in e["writes_reference"] and "read-only" in e["writes_estimate"]
        assert "returned str 'abc'" in e["returns_text"] and "finite real number" in e["returns_text"]
        assert "returned nan" in e["returns_nan"]
        assert "compute_batch returned 2 values for 3 image pairs" in e["short_batch"]
        assert "metric metric_segv (plugin hostile)" in e["metric_segv"] and "SIGSEGV" in e["metric_segv"]
        assert "ran longer than --cell-timeout 2 s" in e["metric_hang"]
    assert cells[list(METRIC_FAULTS)].isna().all().all()
    store.close()


def test_workers_never_outnumber_tasks_and_stay_warm(plugins, tmp_path):
    from denoisebench.engine.pool import WorkerPool

    plan = make_plan(Config(denoisers=("good",), **BASE), plugins)
    pool = WorkerPool(8, plugins=plugins)
    pids = []
    try:
        for _rows in pool.run(plan.tasks):
            pids.append({w.pid for w in pool.workers})
        assert len(pool.workers) == 2  # two tasks, not eight workers
        again = list(pool.run(plan.tasks))
        assert len(again) == 2 and {w.pid for w in pool.workers} == pids[-1]  # the same warm workers
    finally:
        pool.close()
    assert pool.workers == []
