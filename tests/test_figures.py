"""Figures: the visual grid shows every denoiser (or --figure-denoisers), its images are cached once in the run
directory so a second `report` never runs a denoiser, one style per denoiser across figures, labelled axes,
legends outside the data, a PDF beside each 300-dpi PNG."""

from __future__ import annotations

import json

import pytest
from matplotlib.colors import to_hex

import denoisebench.engine.worker as worker
from denoisebench.cli import main
from denoisebench.reporting import figures
from denoisebench.reporting.regenerate import CACHE_DIR, cached_panels
from denoisebench.reporting.tables import build_report
from denoisebench.store import Store

DENOISERS = ["median", "gaussian", "mean"]
RUN = ["run", "--denoisers", ",".join(DENOISERS), "--noise", "gaussian:25,salt_pepper:10%", "--max-images", "2",
       "--metrics", "psnr,ssim", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures") / "run"
    assert main([*RUN, "--output", str(out)]) == 0
    return out


def _report(run_dir):
    with Store(run_dir) as store:
        return build_report(store)


def test_every_figure_png_300_dpi_and_pdf(run_dir):
    from PIL import Image

    pngs = sorted((run_dir / "figures").glob("*.png"))
    assert {p.stem for p in pngs} >= {"visual", "improvement", "psnr_curves"}
    for png in pngs:
        assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
        with Image.open(png) as im:
            assert round(im.info["dpi"][0]) == 300
    md = (run_dir / "report.md").read_text()
    assert "every denoiser of the run (3)" in md and "2 image(s) per noise type" in md
    import re

    linked = re.findall(r"\[PDF\]\(([^)]+)\)", md)  # report.md links each figure's PDF beside its PNG
    assert sorted(linked) == sorted(f"figures/{p.stem}.pdf" for p in pngs)
    assert all((run_dir / link).is_file() for link in linked)


def test_visual_cells_cached_and_second_report_never_replays(run_dir, monkeypatch):
    manifest = json.loads((run_dir / CACHE_DIR / "manifest.json").read_text())
    assert len(manifest["panels"]) == 4  # 2 images x the middle level of 2 noise types
    assert len(manifest["cells"]) == 4 * (1 + len(DENOISERS))  # noisy + each denoiser, keyed by cell key
    panels = cached_panels(run_dir)
    assert [sorted(p.images) for p in panels] == [sorted(["noisy", *DENOISERS])] * 4

    def boom(*args, **kwargs):
        raise AssertionError("report re-ran a denoiser")

    monkeypatch.setattr(worker, "replay_task", boom)
    before = (run_dir / "figures" / "visual.png").stat().st_mtime_ns
    assert main(["report", str(run_dir), "--summary-only"]) == 0
    assert (run_dir / "figures" / "visual.png").stat().st_mtime_ns != before  # redrawn, from the cache
    assert "figure visual not written" not in (run_dir / "report.md").read_text()


def test_cache_replays_only_what_is_missing(run_dir, monkeypatch):
    path = run_dir / CACHE_DIR / "manifest.json"
    manifest = json.loads(path.read_text())
    key, entry = next((k, e) for k, e in sorted(manifest["cells"].items()) if e["denoiser"] == "median")
    del manifest["cells"][key]
    path.write_text(json.dumps(manifest))
    calls = []
    real = worker.replay_task

    def counting(task, *args, **kwargs):
        calls.append([c.denoiser for c in task.cells])
        return real(task, *args, **kwargs)

    monkeypatch.setattr(worker, "replay_task", counting)
    report = _report(run_dir)
    figures.make_figures(report, run_dir)
    assert calls == [["median"]]
    assert key in json.loads(path.read_text())["cells"]
    calls.clear()
    figures.make_figures(report, run_dir)
    assert calls == []


def test_figure_denoisers_option(run_dir, monkeypatch, capsys):
    monkeypatch.setattr(worker, "replay_task", lambda *a, **k: pytest.fail("replayed"))
    assert main(["report", str(run_dir), "--html", "--figure-denoisers", "mean,median"]) == 0
    page = (run_dir / "report.html").read_text()
    assert "the denoisers chosen with --figure-denoisers (median, mean) (2)" in page
    assert main(["report", str(run_dir), "--html", "--figure-denoisers", "bm3d"]) == 2
    out = capsys.readouterr()
    assert "--figure-denoisers bm3d: not an ok denoiser of this run" in out.out + out.err


def test_styles_fixed_by_run_order_and_distinct(run_dir):
    report = _report(run_dir)
    look = figures.styles(report)
    assert look["noisy"]["color"] == figures.NOISY_COLOUR
    assert [look[n]["color"] for n in DENOISERS] == list(figures.PALETTE[:3])
    many = {f"d{i}" for i in range(20)}
    import pandas as pd

    fake = type(report)("x", context={"cells": pd.DataFrame({"denoiser": sorted(many), "status": "ok"}),
                                      "plan": {"denoisers": sorted(many)}})
    combos = {(s["color"], s["marker"], s["linestyle"]) for n, s in figures.styles(fake).items() if n != "noisy"}
    assert len(combos) == 20


def test_same_colour_in_every_figure_labelled_axes_legend_outside(run_dir, monkeypatch):
    report = _report(run_dir)
    drawn = {}
    monkeypatch.setattr(figures, "_save", lambda fig, path: drawn.__setitem__(path.stem, fig))
    figures.improvement_bars(report, run_dir / "figures" / "improvement.png")
    figures.psnr_curves(report, run_dir / "figures" / "psnr_curves.png")
    look = figures.styles(report)
    bars = drawn["improvement"].axes[0]
    for container in bars.containers:
        if hasattr(container, "patches") and container.get_label() in DENOISERS:
            assert to_hex(container.patches[0].get_facecolor()) == look[container.get_label()]["color"].lower()
    for ax in drawn["psnr_curves"].axes:
        for line in ax.get_lines():
            assert to_hex(line.get_color()) == look[line.get_label()]["color"].lower()
            assert line.get_marker() == look[line.get_label()]["marker"]
    assert "(%)" in bars.get_ylabel() and bars.get_xlabel() == "noise type"
    curves = drawn["psnr_curves"].axes
    assert curves[0].get_ylabel() == "mean PSNR (dB)" and all(ax.get_xlabel().endswith("noise level") for ax in curves)
    for name, fig in drawn.items():
        fig.canvas.draw()
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        assert len(legends) == 1, name
        right = max(ax.get_window_extent().x1 for ax in fig.axes)
        assert legends[0].get_window_extent().x0 >= right, name  # outside the data, right of every axes
