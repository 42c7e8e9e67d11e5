"""The planner builds its Cells and Tasks the way unpickling does (a new instance, its __dict__ filled) for speed:
they must be indistinguishable from the constructor's, and the plan's order and contents must be unchanged."""

from __future__ import annotations

import gc
import itertools
import pickle

import pytest

from denoisebench.config import NOISY, Config
from denoisebench.engine.grid import make_plan
from denoisebench.pluginmanager import make_plugins
from denoisebench.results import Cell, Task

PLUGINS = make_plugins()


def _config(**kw):
    base = {"denoisers": ("mean", "median"), "noise": ("gaussian:25", "salt_pepper:10%"), "metrics": ("psnr", "ssim"),
            "max_images": 3, "repetitions": 2, "params": ("median.size=3,5",), "seed": 7, "cell_timeout": 12.0}
    return Config(**{**base, **kw})


@pytest.mark.parametrize("fast", [True, False])
def test_plan_cells_and_tasks_equal_constructed_ones(fast, monkeypatch):
    """Both ways of building (the template fill and the constructors) give the constructor's objects."""
    from denoisebench.engine import grid

    assert grid._FAST  # Cell and Task are plain frozen dataclasses today
    monkeypatch.setattr(grid, "_FAST", fast)
    config = _config()
    plan = make_plan(config, PLUGINS)
    ids = PLUGINS.datasets.get("embedded")().ids()[:3]
    specs = plan.noise
    want = []
    for image_id, spec, rep in itertools.product(ids, specs, range(2)):
        combo = [(NOISY, ()), ("mean", tuple(sorted(PLUGINS.denoisers.get("mean").default_params(spec).items())))]
        base = PLUGINS.denoisers.get("median").default_params(spec)
        combo += [("median", tuple(sorted({**base, "size": s}.items()))) for s in (3, 5)]
        cells = tuple(Cell("embedded", image_id, spec, name, p, rep, True, 7, "none") for name, p in combo)
        want.append(Task("embedded", image_id, spec, rep, True, 7, cells, ("psnr", "ssim"), (), 12.0, "none"))
    assert plan.tasks == want  # same order, same fields
    assert plan.n_cells == 3 * 2 * 2 * 4
    for got, exp in zip(plan.tasks, want):
        assert hash(got) == hash(exp) and type(got) is Task
        for c, e in zip(got.cells, exp.cells):
            assert type(c) is Cell and hash(c) == hash(e) and c.key == e.key and c.params_text == e.params_text
            assert pickle.loads(pickle.dumps(c)) == e
        assert pickle.loads(pickle.dumps(got)) == exp


def test_planning_leaves_the_collector_as_it_was():
    assert gc.isenabled()
    make_plan(_config(), PLUGINS)
    assert gc.isenabled()
    gc.disable()
    try:
        make_plan(_config(), PLUGINS)
        assert not gc.isenabled()
    finally:
        gc.enable()
