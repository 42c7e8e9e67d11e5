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


def _visual_figure(run_dir, monkeypatch):
    """The visual grid's layout and figure as drawn (the PNG and PDF written as usual)."""
    got = {}
    real_layout, real_save = figures._grid_layout, figures._save_grid

    def layout(*args, **kwargs):
        got["layout"] = real_layout(*args, **kwargs)
        return got["layout"]

    def save(fig, natives, lay, path):
        got["fig"], got["natives"] = fig, list(natives)
        got["texts"] = [t.get_text() for t in fig.axes[0].texts]
        real_save(fig, natives, lay, path)

    monkeypatch.setattr(figures, "_grid_layout", layout)
    monkeypatch.setattr(figures, "_save_grid", save)
    report = _report(run_dir)
    figures.visual_grid(report, run_dir / "figures" / "visual.png")
    return report, got


def test_visual_grid_one_axes_every_label_and_native_tiles(run_dir, monkeypatch):
    from denoisebench.reporting.regenerate import cached_panels

    report, got = _visual_figure(run_dir, monkeypatch)
    assert len(got["fig"].axes) == 1  # one axes for the whole grid, not one per tile and inset
    panels = cached_panels(run_dir)
    texts = got["texts"]
    for panel in panels:
        assert f"{panel.image_id} ({panel.dataset}) — {panel.setting}" in texts
        for name, value in panel.psnr.items():
            assert f"PSNR {value:.2f} dB" in texts, name
    assert texts.count("clean") == texts.count("reference") == len(panels)
    for name in ["noisy", *DENOISERS]:
        assert texts.count(name) == len(panels)
    # the PDF's images: each tile at the image's own resolution and each inset at its crop's
    shapes = sorted(im.get_array().shape[:2] for im in got["natives"])
    expected = []
    for panel in panels:
        y0, x0, s = figures.zoom_box(panel.clean)
        expected += [panel.clean.shape[:2], (s, s)] * (1 + len(panel.images))
    assert shapes == sorted(expected)
    pdf = (run_dir / "figures" / "visual.pdf").read_bytes()
    assert pdf.count(b"/Subtype /Image") == len(expected)


def test_visual_png_pixels_are_the_images_frames_and_insets(run_dir, monkeypatch):
    """The written PNG against independent references: PIL's nearest-neighbour resize of each cached image
    through matplotlib's grey colormap inside each tile (outside its frame, zoom box and inset) and inside each
    inset, the denoiser's style colour on its frame. Rows / columns whose source pixel is an exact tie between
    two (nearest neighbour may pick either) are left out."""
    import matplotlib
    import numpy as np
    from matplotlib.colors import to_rgb
    from PIL import Image

    def ties(n_out, n_src):
        return [i for i in range(n_out) if abs(((i + 0.5) * n_src / n_out) % 1) < 1e-9]

    def same_but_ties(got, ref, keep, src_shape):
        keep[ties(keep.shape[0], src_shape[0]), :] = False
        keep[:, ties(keep.shape[1], src_shape[1])] = False
        return keep.sum() > 0.5 * keep.size and np.array_equal(got[keep], ref[keep])

    report, got = _visual_figure(run_dir, monkeypatch)
    with Image.open(run_dir / "figures" / "visual.png") as im:
        assert im.mode == "RGB" and round(im.info["dpi"][0]) == 300
        assert im.size == tuple(got["layout"]["size"])
        png = np.asarray(im)
    gray = matplotlib.colormaps["gray"]
    look = figures.styles(report)
    m = int(1.8 * 300 / 72) + 2  # clear of any frame or box line
    checked = 0
    for name, img, box, inset, zoom, edge, _lw in got["layout"]["tiles"]:
        if img is None:
            continue
        x0, y0, x1, y1 = box
        ix0, iy0, ix1, iy1 = inset
        zy, zx, s = zoom
        shown = gray(np.clip(img, 0, 1), bytes=True)[..., :3]
        ref = np.asarray(Image.fromarray(shown).resize((x1 - x0, y1 - y0), Image.NEAREST))
        keep = np.zeros((y1 - y0, x1 - x0), bool)
        keep[m:-m, m:-m] = True
        keep[iy0 - y0 - m:, ix0 - x0 - m:] = False  # the inset
        sx, sy = (x1 - x0) / img.shape[1], (y1 - y0) / img.shape[0]
        keep[max(0, round(zy * sy) - m):round((zy + s) * sy) + m, max(0, round(zx * sx) - m):round((zx + s) * sx) + m] = False
        assert same_but_ties(png[y0:y1, x0:x1], ref, keep, img.shape), name
        crop = np.asarray(Image.fromarray(shown[zy:zy + s, zx:zx + s]).resize((ix1 - ix0, iy1 - iy0), Image.NEAREST))
        keep = np.zeros((iy1 - iy0, ix1 - ix0), bool)
        keep[m:-m, m:-m] = True
        assert same_but_ties(png[iy0:iy1, ix0:ix1], crop, keep, (s, s)), name
        if name != "clean":  # the frame's middle (left edge, half way down) in the denoiser's colour
            colour = np.round(np.array(to_rgb(look[name]["color"])) * 255)
            assert np.abs(png[(y0 + y1) // 2, x0].astype(int) - colour).max() <= 1, name
            assert edge == look[name]["color"]
        checked += 1
    assert checked == len(got["layout"]["tiles"]) == 4 * (2 + len(DENOISERS))


def test_png_writer_round_trips_through_pil(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    rgb[10:20] = rgb[9]  # repeated rows: the Up filter's zeros
    path = tmp_path / "x.png"
    path.write_bytes(figures._png_bytes(figures._png_filtered(rgb), 53, 37))
    with Image.open(path) as im:
        im.load()
        assert im.mode == "RGB" and round(im.info["dpi"][0]) == figures.DPI
        assert np.array_equal(np.asarray(im), rgb)


def test_frame_pieces_cover_the_frame_minus_the_hole():
    """The frame's rectangles against a brute-force raster of the same region on a fine grid."""
    import numpy as np

    box, lw, hole = (10, 20, 60, 50), 4, (35, 35, 60, 50)
    pieces = figures._frame(box, lw, hole)
    xs, ys = np.meshgrid(np.arange(0, 80, 0.25) + 0.125, np.arange(0, 80, 0.25) + 0.125)
    inside = lambda r: (xs > r[0]) & (xs < r[2]) & (ys > r[1]) & (ys < r[3])  # noqa: E731
    outer, inner = inside((8, 18, 62, 52)), inside((12, 22, 58, 48))
    want = outer & ~inner & ~inside(hole)
    count = sum(inside(p).astype(int) for p in pieces)
    assert np.array_equal(count > 0, want) and count.max() == 1  # covered once, nothing else
    assert figures._minus((0, 0, 5, 5), (6, 6, 9, 9)) == [(0, 0, 5, 5)]


def test_visual_grid_tile_without_image_and_long_labels(tmp_path):
    """A tile whose denoiser has no image (a replay error) shows "n/a", its frame and the error on at most two
    lines that fit the tile; a long method label gets a smaller title; a non-square image gets a square inset
    centred in the lower-right quarter, as matplotlib's equal-aspect inset axes put it."""
    import numpy as np
    from PIL import Image

    from denoisebench.reporting.regenerate import Panel

    clean = np.random.default_rng(0).random((64, 96)).astype(np.float32)
    long_name = "median[size=5,mode=reflect]"
    error = "ValueError: the filter refused this input because of many reasons that go on and on and on"
    panel = Panel("synthetic", "img0", "gaussian 25", clean, images={"noisy": clean * 0.9, "mean": clean ** 2},
                  psnr={"noisy": 20.0, "mean": 25.5}, errors={long_name: error})
    look = {"noisy": {"color": figures.NOISY_COLOUR}, "mean": {"color": figures.PALETTE[0]},
            long_name: {"color": figures.PALETTE[1]}}
    layout = figures._grid_layout([panel], ["mean", long_name], look, 7)
    texts = {t[2]: t[3] for t in layout["texts"]}
    assert "n/a" in texts and "PSNR 25.50 dB" in texts and "reference" in texts
    label = next(t for t in texts if t.startswith("ValueError"))
    assert label.count("\n") == 1 and label.endswith("…") and label.replace("\n", " ").rstrip("…") in error
    assert texts[long_name]["fontsize"] < texts["mean"]["fontsize"] == 7.5
    na = next(t for t in layout["tiles"] if t[0] == long_name)
    assert na[1] is None and na[3] is None and na[5] == figures.PALETTE[1]
    _, _, (x0, y0, x1, y1), (ix0, iy0, ix1, iy1), _, _, _ = layout["tiles"][0]
    assert (x1 - x0, y1 - y0) == (465, 310) and ix1 - ix0 == iy1 - iy0 == 155 and iy1 == y1
    assert abs((ix0 - (x1 - 232)) - (x1 - ix1)) <= 1  # centred in the quarter's width
    path = tmp_path / "figures" / "visual.png"
    figures._save_grid(*figures._grid_figure(layout), layout, path)
    with Image.open(path) as im:
        png = np.asarray(im)
    x0, y0, x1, y1 = na[2]
    assert (png[y0 + 20:y0 + 60, x0 + 20:x0 + 60] == 255).all()  # an empty tile, framed
    assert path.with_suffix(".pdf").read_bytes().count(b"/Subtype /Image") == 2 * 3  # 3 tiles + insets
