"""Model loading is not cell time (issue 19): a new denoiser instance is warmed up, untimed, before its first cell,
and the seconds of constructing and warming it are recorded per worker in the run's provenance."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from denoisebench import hookimpl
from denoisebench.config import Config
from denoisebench.engine.grid import make_plan
from denoisebench.engine.local import LocalExecutor
from denoisebench.engine.provenance import open_store
from denoisebench.engine.runner import execute
from denoisebench.errors import PluginError
from denoisebench.interfaces import Denoiser
from denoisebench.pluginmanager import make_plugins

#: the fake model takes this long to "load" on its first call (a lazily loaded network would)
LOAD_S = 1.5
#: a new input shape costs this long on the first call at that shape
PREP_S = 0.5


class SlowLoad(Denoiser):
    """Its first call in a process sleeps LOAD_S (loading a model), every later one is instant."""

    name = "slow_load"
    description = "first call loads a model for 1.5 s"

    def __init__(self, **params):
        super().__init__(**params)
        self.loaded = False

    def denoise(self, noisy, *, noise=None, rng=None):
        if not self.loaded:
            time.sleep(LOAD_S)
            self.loaded = True
        return noisy.copy()


class BigOnly(SlowLoad):
    """Refuses inputs smaller than 100 pixels a side (the warm-up then uses the whole image)."""

    name = "big_only"

    def denoise(self, noisy, *, noise=None, rng=None):
        if min(noisy.shape[:2]) < 100:
            raise PluginError("needs at least 100x100")
        return super().denoise(noisy, noise=noise, rng=rng)


class ShapePrep(Denoiser):
    """Its first call at each input shape sleeps PREP_S (as oneDNN or an FFT library preparing a new shape)."""

    name = "shape_prep"

    def __init__(self, **params):
        super().__init__(**params)
        self.shapes = set()

    def denoise(self, noisy, *, noise=None, rng=None):
        if noisy.shape not in self.shapes:
            time.sleep(PREP_S)
            self.shapes.add(noisy.shape)
        return noisy.copy()


class PerPixel(Denoiser):
    """Takes 0.04 s per 64x64 pixels: a call on the whole 256x256 image would take 0.64 s, more than the warm-up
    allows for it, so it is warmed up on the crop only."""

    name = "per_pixel"

    def denoise(self, noisy, *, noise=None, rng=None):
        time.sleep(0.04 * noisy.size / 64**2)
        return noisy.copy()


class Broken(Denoiser):
    name = "broken_always"

    def denoise(self, noisy, *, noise=None, rng=None):
        raise ValueError("no model file")


class RngUser(Denoiser):
    """Adds noise from the generator it is given: the warm-up must not consume the cell's generator."""

    name = "rng_user"
    deterministic = False

    def denoise(self, noisy, *, noise=None, rng=None):
        return np.clip(noisy + 0.01 * rng.standard_normal(noisy.shape), 0, 1).astype(np.float32)


class Slow:
    @hookimpl
    def denoisebench_register_denoisers(self, registry):
        for cls in (SlowLoad, BigOnly, ShapePrep, PerPixel, Broken, RngUser):
            registry.add(cls)


@pytest.fixture(scope="module")
def plugins():
    return make_plugins(extra_plugins=[("slowload", Slow())])


def run(plugins, cfg, run_dir, jobs=1):
    plan = make_plan(cfg, plugins)
    store = open_store(run_dir, cfg, plugins, plan)
    execute(plan, store, LocalExecutor(jobs, plugins=plugins), plugins)
    return store


CFG = dict(noise=("gaussian:15", "gaussian:25", "gaussian:50"), metrics=("psnr",), max_images=1)


@pytest.mark.parametrize("jobs", [1, 2])
def test_first_cell_time_excludes_the_load_and_provenance_records_it(plugins, tmp_path, jobs):
    store = run(plugins, Config(denoisers=("slow_load", "big_only", "broken_always"), **CFG), tmp_path / "r", jobs)
    cells = store.cells().set_index(["denoiser", "noise_key"])
    for name in ("slow_load", "big_only"):
        assert (cells.loc[name, "status"] == "ok").all()
        # without the warm-up the first cell would be stored as >= 1.5 s
        assert (cells.loc[name, "seconds"] < LOAD_S).all(), cells.loc[name, "seconds"].tolist()
    assert (cells.loc["broken_always", "status"] == "error").all()
    assert "no model file" in cells.loc["broken_always", "error"].iloc[0]

    loads = store.get_meta("provenance")[-1]["model_loads"]
    by_name: dict[str, list[dict]] = {}
    for record in loads:
        by_name.setdefault(record["denoiser"], []).append(record)
    assert set(by_name) == {"slow_load", "big_only", "broken_always"}
    workers = {r["worker"] for r in loads}
    assert 1 <= len(workers) <= jobs and all(isinstance(w, int) and w != os.getpid() for w in workers)
    for records in by_name.values():
        assert len(records) == len({r["worker"] for r in records})  # once per worker that ran it
        for r in records:
            assert r["params"] == "{}" and r["load_s"] >= 0
    for r in by_name["slow_load"]:  # loaded on the crop; its second crop call is instant, so the whole image too
        assert r["warm_up"] == "crop 64x64, full 256x256" and r["warm_up_s"] >= LOAD_S
    for r in by_name["big_only"]:
        assert r["warm_up"] == "full 256x256" and r["warm_up_s"] >= LOAD_S
    for r in by_name["broken_always"]:
        assert r["warm_up"].startswith("failed: ValueError: no model file")
    store.close()


def test_warm_up_leaves_the_cells_generator_alone(plugins, tmp_path):
    """The stored value equals the one computed without any warm-up, in this process, from the cell's seed."""
    from denoisebench.engine import worker
    from denoisebench.seeding import cell_rng, cell_seed

    cfg = Config(denoisers=("rng_user",), **{**CFG, "noise": ("gaussian:25",)})
    store = run(plugins, cfg, tmp_path / "r")
    stored = store.cells().set_index("denoiser").loc["rng_user", "psnr"]
    task = make_plan(cfg, plugins).tasks[0]
    state = worker.WorkerState(plugins=plugins)
    seed = worker.task_seed(task)
    clean = state.clean_image(task.dataset_spec, task.image_id)
    noisy = plugins.noise_models.get("gaussian")(clip=True, sigma=25).apply(clean, cell_rng(seed))
    cell = task.cells[1]
    rng = cell_rng(cell_seed(seed, cell.denoiser, cell.params_text, "denoiser", 0))
    out = np.clip(noisy + 0.01 * rng.standard_normal(noisy.shape), 0, 1).astype(np.float32)
    expected = plugins.metrics.get("psnr")().compute(clean, out)
    assert stored == pytest.approx(expected, abs=0, rel=0)
    store.close()


def test_a_cheap_denoiser_is_also_warmed_up_on_the_whole_image(plugins, tmp_path):
    """The first call at a new input shape (PREP_S) happens in the warm-up, on the crop and on the whole image,
    not in a cell; a denoiser whose whole-image call would take longer than the warm-up allows is warmed up on the
    crop only."""
    store = run(plugins, Config(denoisers=("shape_prep", "per_pixel"), **CFG), tmp_path / "r")
    cells = store.cells().set_index("denoiser")
    assert (cells.loc["shape_prep", "status"] == "ok").all()
    assert (cells.loc["shape_prep", "seconds"] < PREP_S).all(), cells.loc["shape_prep", "seconds"].tolist()
    loads = {r["denoiser"]: r for r in store.get_meta("provenance")[-1]["model_loads"]}
    assert loads["shape_prep"]["warm_up"] == "crop 64x64, full 256x256"
    assert loads["shape_prep"]["warm_up_s"] >= 2 * PREP_S
    assert loads["per_pixel"]["warm_up"] == "crop 64x64"
    store.close()
