"""Runner: per-cell isolation, common random numbers, crash-safe store and resume."""

import numpy as np
import pytest

from denoisebench import hookimpl
from denoisebench.config import Config
from denoisebench.engine.grid import make_plan
from denoisebench.engine.local import LocalExecutor
from denoisebench.engine.provenance import open_store
from denoisebench.engine.runner import execute, pending_count
from denoisebench.errors import DenoiseBenchError, StoreError
from denoisebench.interfaces import Denoiser
from denoisebench.pluginmanager import make_plugins


class Identity(Denoiser):
    name = "identity"

    def denoise(self, noisy, *, noise=None, rng=None):
        return noisy.copy()


class Boom(Denoiser):
    name = "boom"

    def denoise(self, noisy, *, noise=None, rng=None):
        raise RuntimeError("exploded on purpose")


class BadShape(Denoiser):
    name = "badshape"

    def denoise(self, noisy, *, noise=None, rng=None):
        return noisy[:-1]


class Nan(Denoiser):
    name = "nanout"

    def denoise(self, noisy, *, noise=None, rng=None):
        return np.full_like(noisy, np.nan)


class Mutator(Denoiser):
    name = "mutator"

    def denoise(self, noisy, *, noise=None, rng=None):
        noisy[:] = 0.5  # misbehaves: must not affect the other cells
        return noisy


class Sleeper(Denoiser):
    name = "sleeper"

    def denoise(self, noisy, *, noise=None, rng=None):
        import time

        time.sleep(30)  # hangs, as far as a 0.3 s cell timeout is concerned
        return noisy.copy()


class TestPlugin:
    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        for cls in (Identity, Boom, BadShape, Nan, Mutator, Sleeper):
            registry.add(cls)


@pytest.fixture(scope="module")
def plugins():
    return make_plugins(extra_plugins=[("testplugin", TestPlugin())])


def config(**kw):
    base = dict(denoisers=("mutator", "identity", "boom", "badshape", "nanout", "median"),
                noise=("gaussian:25", "salt_pepper:30%"), metrics=("psnr", "mse"), max_images=2)
    return Config(**{**base, **kw})


def run(plugins, cfg, run_dir, executor=None):
    plan = make_plan(cfg, plugins)
    store = open_store(run_dir, cfg, plugins, plan)
    counts = execute(plan, store, executor or LocalExecutor(1, plugins=plugins), plugins)
    return plan, store, counts


def test_failures_become_error_rows_and_other_cells_go_on(plugins, tmp_path):
    plan, store, counts = run(plugins, config(), tmp_path / "run")
    cells = store.cells()
    assert len(cells) == plan.n_cells == 2 * 2 * 7
    by = cells.set_index(["denoiser", "image_id", "noise_key"])
    status = cells.groupby("denoiser")["status"].unique().map(list).to_dict()
    assert status == {"badshape": ["error"], "boom": ["error"], "identity": ["ok"], "median": ["ok"],
                      "mutator": ["ok"], "nanout": ["error"], "noisy": ["ok"]}
    errors = cells[cells.status == "error"].groupby("denoiser")["error"].first()
    assert "exploded on purpose" in errors["boom"]
    assert "must keep the shape" in errors["badshape"]
    assert "NaN" in errors["nanout"]
    # common random numbers: the identity denoiser sees exactly the noisy image every other row saw,
    # even though the mutator ran first and wrote into its input
    for key in by.loc["noisy"].index:
        assert by.loc[("identity", *key), "psnr"] == by.loc[("noisy", *key), "psnr"]
        assert by.loc[("median", *key), "psnr"] > by.loc[("noisy", *key), "psnr"]
    assert counts == {"ok": 16, "error": 12}
    store.close()


class StopAfter(LocalExecutor):
    """Simulates a run killed after ``n`` tasks: the generator stops with an exception mid-run."""

    def __init__(self, n, plugins):
        super().__init__(1, plugins=plugins)
        self.n = n

    def run(self, tasks):
        for i, results in enumerate(super().run(tasks)):
            if i == self.n:
                raise KeyboardInterrupt
            yield results


def test_interrupted_run_resumes_to_the_same_results(plugins, tmp_path):
    cfg = config(denoisers=("identity", "median", "boom"))
    _, whole, _ = run(plugins, cfg, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        run(plugins, cfg, tmp_path / "resumed", StopAfter(2, plugins))
    plan = make_plan(cfg, plugins)
    store = open_store(tmp_path / "resumed", cfg, plugins, plan)
    done_before = store.count("ok")
    assert done_before == 2 * 3  # two tasks × (noisy, identity, median)
    # failed cells are never cached as done: the 'boom' cells of the finished tasks are pending again
    assert pending_count(plan, store) == plan.n_cells - done_before
    counts = execute(plan, store, LocalExecutor(1, plugins=plugins), plugins)
    assert counts["ok"] == plan.n_cells - 4 - done_before and counts["error"] == 4
    cols = ["key", "status", "psnr", "mse"]
    a = whole.cells()[cols].sort_values("key").reset_index(drop=True)
    b = store.cells()[cols].sort_values("key").reset_index(drop=True)
    assert a.equals(b)


def test_existing_run_dir_with_other_options_is_refused(plugins, tmp_path):
    run(plugins, config(denoisers=("identity",)), tmp_path / "r")[1].close()
    cfg = config(denoisers=("identity",), seed=7)
    with pytest.raises(StoreError, match=r"different options \(seed\)"):
        open_store(tmp_path / "r", cfg, plugins, make_plan(cfg, plugins))


def test_two_worker_processes_give_the_same_values(tmp_path):
    plugins = make_plugins()
    cfg = Config(denoisers=("median", "wiener"), noise=("gaussian:25",), metrics=("psnr",), max_images=2)
    _, one, _ = run(plugins, cfg, tmp_path / "one")
    _, two, _ = run(plugins, cfg, tmp_path / "two", LocalExecutor(2))
    cols = ["key", "status", "psnr"]
    assert one.cells()[cols].equals(two.cells()[cols])


def test_metric_options_reach_the_metric_and_are_recorded(tmp_path):
    from denoisebench.builtin.classification import cached_classify
    from denoisebench.datasets import dataset_from_spec

    plugins = make_plugins()
    base = dict(denoisers=("median",), noise=("gaussian:25",), metrics=("f1", "accuracy"), max_images=1)
    _, otsu, _ = run(plugins, Config(**base), tmp_path / "otsu")
    cfg = Config(**base, metric_options=("*.threshold=0.3",))
    _, fixed, _ = run(plugins, cfg, tmp_path / "fixed")
    a, b = otsu.cells().set_index("denoiser"), fixed.cells().set_index("denoiser")
    assert a.loc["noisy", "f1"] != b.loc["noisy", "f1"]
    # the stored value is the fixed-threshold classification of the same noisy image
    from denoisebench.seeding import cell_rng
    clean = dataset_from_spec(plugins, "embedded").load(b.loc["noisy", "image_id"])
    noise = plugins.noise_models.get("gaussian")(sigma=25.0)
    noisy = noise.apply(clean, cell_rng(int(b.loc["noisy", "seed"])))
    assert b.loc["noisy", "f1"] == cached_classify(clean, noisy, 0.3)["f1"]
    assert "t = 0.3 (fixed)" in fixed.get_meta("conventions")["metrics"]["f1"]
    assert "Otsu" in otsu.get_meta("conventions")["metrics"]["f1"]


def test_cell_timeout_stops_a_hanging_denoiser_and_the_run_goes_on(plugins, tmp_path):
    import time

    cfg = config(denoisers=("sleeper", "identity"), noise=("gaussian:25",), max_images=2, cell_timeout=0.3)
    t0 = time.monotonic()
    plan, store, counts = run(plugins, cfg, tmp_path / "run")
    assert time.monotonic() - t0 < 20  # two 30 s sleeps were cut short
    cells = store.cells().set_index("denoiser")
    assert counts == {"ok": 4, "timeout": 2}
    assert list(cells.loc["sleeper", "status"]) == ["timeout", "timeout"]
    assert "ran longer than --cell-timeout 0.3 s" in cells.loc["sleeper", "error"].iloc[0]
    assert list(cells.loc["identity", "status"]) == ["ok", "ok"]
    # a timed-out cell is not done: resuming runs it again; the timeout is not part of the run's identity
    assert pending_count(plan, store) == 2
    assert Config(**{**cfg.__dict__, "cell_timeout": 5.0}).digest() == cfg.digest()
    store.close()


def test_cell_timeout_must_be_seconds(plugins):
    make_plan(config(cell_timeout=2.0, executor="dask"), plugins)  # enforced by every executor's worker pool
    with pytest.raises(DenoiseBenchError, match="pass seconds >= 0"):
        make_plan(config(cell_timeout=-1.0), plugins)


def test_worker_decodes_an_image_once_for_its_tasks(monkeypatch):
    """An image has one task per noise setting: the worker keeps the last few images decoded, read-only."""
    from denoisebench.engine.worker import IMAGE_CACHE, WorkerState

    state = WorkerState()
    dataset = state.dataset("embedded")
    calls = []
    original = type(dataset).load
    monkeypatch.setattr(type(dataset), "load", lambda self, image_id: calls.append(image_id) or original(self, image_id))
    ids = dataset.ids()
    first = state.clean_image("embedded", ids[0])
    assert state.clean_image("embedded", ids[0]) is first and calls == [ids[0]]
    assert not first.flags.writeable
    for image_id in ids[1:IMAGE_CACHE + 1]:
        state.clean_image("embedded", image_id)
    state.clean_image("embedded", ids[0])  # pushed out by IMAGE_CACHE newer images: loaded again
    assert calls.count(ids[0]) == 2


def test_a_new_run_counts_its_cells_without_keys_and_stores_each_cells_own_key(plugins, tmp_path):
    """The keys of a new run are computed while the workers run (the pool's look-ahead, or the worker): each
    stored row still has its own cell's key, computed here from the cell's fields."""
    from denoisebench.results import cell_key

    cfg = config(denoisers=("identity", "median"), max_images=3, repetitions=3)
    plan = make_plan(cfg, plugins)
    store = open_store(tmp_path / "run", cfg, plugins, plan)
    assert pending_count(plan, store) == plan.n_cells
    assert not any("key" in c.__dict__ for t in plan.tasks for c in t.cells)  # nothing computed yet
    assert execute(plan, store, LocalExecutor(2, plugins=plugins), plugins) == {"ok": plan.n_cells}
    expected = {cell_key(c.dataset, c.image_id, c.noise, c.clip, c.denoiser, c.params_text, c.repetition,
                         c.base_seed, c.quantize): (c.denoiser, c.image_id, c.noise.key, c.repetition)
                for t in plan.tasks for c in t.cells}
    cells = store.cells()
    got = {k: (d, i, n, r) for k, d, i, n, r in
           zip(cells["key"], cells["denoiser"], cells["image_id"], cells["noise_key"], cells["repetition"])}
    assert got == expected
    assert pending_count(plan, store) == 0
    store.close()
