"""A third party's metric is first-class: its direction, label and format are stored with the run and every
table, best-marking and the baseline read them from there (no name list in the core)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fakedist import run_with_plugin

from denoisebench.baseline.file import export_baseline
from denoisebench.reporting.markdown import render_markdown
from denoisebench.reporting.tables import build_report
from denoisebench.store import Store

NRMSE = '''
import numpy as np
from denoisebench import hookimpl
from denoisebench.interfaces import Metric


class NRMSE(Metric):
    name = "nrmse"
    description = "RMSE normalised by the reference's dynamic range"
    higher_is_better = False
    label = "NRMSE"
    format = "{:.5f}"
    value_range = (0.0, None)
    convention = "sqrt(mean((x - y)^2)) / (max(x) - min(x)); colour over all channels"

    def compute(self, reference, estimate):
        ref = np.asarray(reference, dtype=np.float64)
        return float(np.sqrt(np.mean((ref - estimate) ** 2)) / (ref.max() - ref.min()))


@hookimpl
def denoisebench_register_metrics(registry):
    registry.add(NRMSE)
'''
RUN = ["run", "--denoisers", "median,mean,gaussian", "--noise", "gaussian:25,salt_pepper:10%", "--max-images", "3",
       "--metrics", "psnr,ssim,nrmse", "--quiet", "--no-figures"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    yield from run_with_plugin(tmp_path_factory, "acme-metrics", "acme", "acme_metrics", NRMSE, RUN)


def test_metric_metadata_is_stored_with_the_run(run_dir):
    with Store(run_dir) as store:
        meta = store.get_meta("metrics")
    assert meta["nrmse"]["higher_is_better"] is False and meta["nrmse"]["label"] == "NRMSE"
    assert meta["nrmse"]["format"] == "{:.5f}" and meta["nrmse"]["convention"].startswith("sqrt(mean")
    assert meta["psnr"]["higher_is_better"] is True and meta["psnr"]["unit"] == "dB"
    assert meta["time"]["higher_is_better"] is False


def test_plugin_metric_in_every_table_with_its_direction(run_dir):
    """Table 4, Table 3 and the per-setting table show nrmse after the primary metrics, and the best mark goes to
    the *lowest* mean (an independent pandas computation from the stored cells)."""
    with Store(run_dir) as store:
        cells = store.cells()
        report = build_report(store)
    t4 = report.table("table4")
    labels = t4.columns[2:]
    assert labels[:2] == ["PSNR (dB)", "SSIM"] and "NRMSE" in labels
    col = t4.columns.index("NRMSE")
    denoised = cells[cells["denoiser"] != "noisy"]
    best = denoised.groupby("denoiser")["nrmse"].mean().idxmin()
    best_rows = [r for r, c in t4.best if c == col]
    assert [t4.rows[r][0] for r in best_rows] == [best]
    assert [t.key for t in report.select(["3"])] == ["table3_psnr", "table3_ssim", "table3_nrmse"]
    per = report.table("mean_nrmse")
    for i, row in enumerate(per.rows):
        sub = denoised[denoised.apply(lambda r: f"{r['noise']} {r['noise_level']}", axis=1) == row[0]]
        lowest = sub.groupby("denoiser")["nrmse"].mean().idxmin()
        assert [per.columns[c] for r, c in per.best if r == i] == [lowest]
        assert row[per.columns.index(lowest)] == "{:.5f}".format(sub.groupby("denoiser")["nrmse"].mean()[lowest])
    # Table 3's % improvement is positive when nrmse goes down (lower is better)
    t3 = report.table("table3_nrmse").data
    t3 = t3[t3["denoiser"] == best]
    assert (t3["after_mean"] < t3["before_mean"]).all() and (t3["percent_mean"] > 0).all()
    assert "NRMSE" in render_markdown(report)


def test_baseline_reads_directions_from_the_run(run_dir, tmp_path, monkeypatch):
    """The baseline export needs no plugin to know nrmse's direction: with the plugin gone it is still there."""
    monkeypatch.setenv("DENOISEBENCH_DISABLE_PLUGINS", "acme")
    path = tmp_path / "b.jsonl"
    export_baseline(run_dir, path)
    header = [json.loads(line) for line in path.read_text().splitlines()[:6]]
    metrics = next(h["value"] for h in header if h.get("header") == "metrics")
    assert metrics["nrmse"] == {"higher_is_better": False}


def test_a_run_without_stored_metadata_still_renders_with_a_note(run_dir, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    with Store(old) as store:
        store.db.execute("DELETE FROM meta WHERE name = 'metrics'")
        store.db.commit()
        report = build_report(store)
    header = "\n".join(report.header)
    assert "metric metadata (direction, label, format) of psnr, ssim, nrmse taken from the installed plugins" \
        in header
    assert report.table("table3_nrmse") is not None
    assert np.isfinite(report.table("table4").data.query("metric == 'nrmse'")["mean"]).all()


def test_a_metric_without_a_stated_convention_says_so_in_the_header(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    with Store(copy) as store:
        conv = store.get_meta("conventions")
        store.set_meta("conventions", {**conv, "metrics": {**conv["metrics"], "nrmse": ""}})
        header = build_report(store).header
    assert "metric nrmse: not stated by its plugin (the Metric's `convention`)" in header
    assert any(line.startswith("metric psnr: 10*log10") for line in header)
