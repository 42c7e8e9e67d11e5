"""The per-image view and the outliers a mean hides, with a third-party denoiser that collapses on dark images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fakedist import run_with_plugin

from denoisebench.reporting.perimage import monotonic_violations
from denoisebench.reporting.tables import build_report
from denoisebench.store import Store

COLLAPSE = '''
import numpy as np
from scipy.ndimage import median_filter
from denoisebench import Denoiser, hookimpl


class Collapse(Denoiser):
    name = "collapse"
    description = "a median filter that returns flat grey on dark images"

    def denoise(self, noisy, *, noise=None, rng=None):
        if float(np.mean(noisy)) < 0.45:
            return np.full_like(noisy, 0.5)
        return median_filter(noisy, size=3).astype(noisy.dtype)


@hookimpl
def denoisebench_register_denoisers(registry):
    registry.add(Collapse)
'''


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    yield from run_with_plugin(tmp_path_factory, "acme-collapse", "collapse", "acme_collapse", COLLAPSE,
                               ["run", "--denoisers", "median,collapse", "--noise", "gaussian:15,gaussian:25",
                                "--max-images", "6", "--metrics", "psnr", "--quiet", "--no-figures"])


def test_outliers_name_the_collapsed_images(run_dir):
    with Store(run_dir) as store:
        cells = store.cells()
        report = build_report(store)
    wide = cells.pivot_table(index=["image_id", "noise_key"], columns="denoiser", values="psnr")
    worse = {img for (img, _), r in wide.iterrows() if r["collapse"] < r["noisy"]}
    assert worse and len(worse) < cells["image_id"].nunique()  # some images collapse, not all
    out = report.table("outliers").data
    flagged = {w.split(",")[0].split("/")[1] for w in out[out["kind"] == "worse than the noisy input"]["where"]}
    assert flagged == worse
    assert not (out["denoiser"] == "median").any()


def test_per_image_table_has_every_image_and_setting(run_dir):
    with Store(run_dir) as store:
        cells = store.cells()
        report = build_report(store)
    t = report.table("per_image")
    assert t.detail and t.keys == 2
    assert len(t.rows) == cells[["image_id", "noise_key"]].drop_duplicates().shape[0]
    assert "Per image" in (run_dir / "report.md").read_text() and (run_dir / "tables" / "per_image.csv").is_file()
    row = next(r for r in t.rows if r[1] == "gaussian 25")
    img = row[0].split("/")[1]
    value = cells[(cells["image_id"] == img) & (cells["denoiser"] == "median") &
                  cells["noise_key"].str.contains("25")]["psnr"].iloc[0]
    assert row[t.columns.index("median")] == f"{value:.2f}"


def test_metric_not_worse_at_a_stronger_level_is_reported():
    rows = []
    for level, psnr in (("15", 30.0), ("25", 31.0), ("50", 25.0)):  # 25 is *better* than 15: suspicious
        rows.append({"dataset": "d", "image_id": "a", "noise": "gaussian", "noise_key": f"g{level}",
                     "noise_level": level, "setting": f"gaussian {level}", "repetition": 0, "denoiser": "noisy",
                     "status": "ok", "psnr": psnr})
    cells = pd.DataFrame(rows)
    plan = {"noise": ["g15", "g25", "g50"], "noise_labels": {"g15": "gaussian 15", "g25": "gaussian 25",
                                                             "g50": "gaussian 50"}}
    found = monotonic_violations(cells, plan, {"psnr": {"higher_is_better": True, "format": "{:.2f}"}}, "psnr")
    assert [(f["denoiser"], f["where"]) for f in found] == [("noisy", "gaussian 15 → gaussian 25")]
    assert np.isclose(found[0]["gap"], 1.0)
